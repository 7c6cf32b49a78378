// The Node-API glue: a UdpHandle class for src/socket.ts, and the pure control-message and
// error functions for tests. Every OS detail is behind backend.h.
#include <napi.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "address.h"
#include "backend.h"

namespace udp {
namespace {

// Datagrams per receive call (one recvmmsg on Linux). Measured in bench/: past 32 the gain is
// lost in noise, and each slot costs maxMessageSize bytes of memory.
constexpr size_t kReceiveBatch = 32;
// Datagrams per wake-up, all handed to JavaScript in one call: the call into JavaScript and
// its callback scope cost as much as the JavaScript of several datagrams. uv_poll is
// level-triggered, so what is left is read on the next loop turn, after timers and other
// sockets had theirs.
constexpr size_t kReceiveBudget = 256;
static_assert(kReceiveBudget % kReceiveBatch == 0, "a wake-up reads whole batches");

// Received datagrams are copied out of the receive slots, which the next batch overwrites,
// into arenas that JavaScript makes each message a Buffer view of. The sizes are those of
// Node's Buffer pool (Buffer.poolSize, and allocUnsafe's limit of half of it): one arena
// serves many small datagrams, so a kept message pins at most 8 KiB, and a larger datagram
// gets an arena of its exact size.
constexpr size_t kArenaSize = 8192;
constexpr size_t kArenaLimit = kArenaSize / 2;

// The per-datagram record UdpHandle writes into the Int32Array that src/socket.ts gives it;
// src/native.ts holds the same layout. Addresses are 4 int32 words of raw network-order bytes.
enum Meta {
  kMetaLength,
  kMetaFlags,  // kFlagTruncated | kFlagControlTruncated
  kMetaPeerFamily,
  kMetaPeerPort,
  kMetaPeerAddress,  // 4 words
  kMetaPeerScope = kMetaPeerAddress + 4,
  kMetaLocalFamily,  // 0 when the platform did not say
  kMetaLocalAddress,
  kMetaDestinationFamily = kMetaLocalAddress + 4,
  kMetaDestinationAddress,
  kMetaInterfaceIndex = kMetaDestinationAddress + 4,
  kMetaArena,  // which of the arenas passed with the batch holds the bytes
  kMetaArenaOffset,
  kMetaStride,
};
constexpr int kFlagTruncated = 1;
constexpr int kFlagControlTruncated = 2;

// Datagrams per sendBatch call into the addon (one sendmmsg on Linux); src/ splits longer
// batches.
constexpr size_t kSendBatch = 64;

// One send's destination, source and interface, as src/send-record.ts writes them into the
// Int32Array it gives the handle: src/ parses every address (one parser decides), and the
// addon reads the parsed form. Each address is a family word (4, 6, or 0 for none) followed
// by 4 words of raw network-order bytes.
enum SendRecord {
  kRecordPort,
  kRecordFamily,
  kRecordAddress,  // 4 words
  kRecordScope = kRecordAddress + 4,
  kRecordSourceFamily,  // 0: the kernel chooses the source
  kRecordSourceAddress,
  kRecordInterfaceIndex = kRecordSourceAddress + 4,  // 0: the kernel chooses the link
  kRecordStride,
};

// The memory one datagram's OutgoingDatagram points into. Every field is written afresh by
// Prepare for each send: nothing in it survives from one send to the next.
struct PreparedDatagram {
  Chunk chunks[kMaxGatherBuffers];
  Address destination;
  SourceInfo source;
  alignas(8) uint8_t control[kControlCapacity];
};

class UdpHandle;

struct AddonState {
  std::set<UdpHandle*> open_handles;
  // The key of the onmessage callback, made once: a key made from a C string is looked up in
  // V8's string table each time. It is element 0 of an array, because Node-API before
  // version 10 references objects only.
  Napi::ObjectReference onmessage_key;

  // The key, or nullptr where the environment can no longer run JavaScript (at teardown, under
  // Wine a poll event still comes): raw calls, which report failure, where node-addon-api's Get
  // would throw into a dead environment, a fatal error.
  napi_value OnmessageKey(napi_env env) {
    napi_value array = nullptr;
    napi_value key = nullptr;
    if (napi_get_reference_value(env, onmessage_key, &array) != napi_ok || array == nullptr ||
        napi_get_element(env, array, 0, &key) != napi_ok) {
      return nullptr;
    }
    return key;
  }
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;
  size_t polls_closing_at_teardown = 0;
  bool tearing_down = false;

  void poll_closed() {
    if (tearing_down && --polls_closing_at_teardown == 0) finish_teardown();
  }
  void finish_teardown() {
    if (cleanup_hook == nullptr) return;
    napi_remove_async_cleanup_hook(cleanup_hook);
    cleanup_hook = nullptr;
  }
};

// The uv_poll_t outlives its UdpHandle until libuv calls the close callback, so it is a
// separate allocation that knows only the per-environment state.
struct Poll {
  uv_poll_t handle;
  AddonState* state;
};

Napi::Object error_info(Napi::Env env, OsError error) {
  const ErrorDescription description = describe_error(error);
  Napi::Object info = Napi::Object::New(env);
  info.Set("code", description.code);
  info.Set("errno", description.uv_errno);
  info.Set("osErrno", error);
  return info;
}

void throw_type_error(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
}

void throw_range_error(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::RangeError::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
}

bool get_string(Napi::Env env, Napi::Value value, const char* name, std::string* out) {
  if (!value.IsString()) {
    throw_type_error(env, "ERR_INVALID_ARG_TYPE", std::string("The \"") + name +
                                                     "\" argument must be of type string");
    return false;
  }
  *out = value.As<Napi::String>().Utf8Value();
  return true;
}

bool get_int(Napi::Env env, Napi::Value value, const char* name, int minimum, int maximum,
             int* out) {
  if (!value.IsNumber()) {
    throw_type_error(env, "ERR_INVALID_ARG_TYPE", std::string("The \"") + name +
                                                     "\" argument must be of type number");
    return false;
  }
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= minimum && number <= maximum) || number != static_cast<int64_t>(number)) {
    throw_range_error(env, "ERR_OUT_OF_RANGE",
                      std::string("The value of \"") + name + "\" is out of range. It must be an "
                      "integer >= " + std::to_string(minimum) + " and <= " +
                      std::to_string(maximum));
    return false;
  }
  *out = static_cast<int>(number);
  return true;
}

// The address a record holds at family_word (a family followed by 4 words of bytes); false
// when the family word is neither 4 nor 6.
bool record_ip(const int32_t* record, int family_word, IpAddress* out) {
  *out = IpAddress{};
  const int family = record[family_word];
  if (family != 4 && family != 6) return false;
  out->family = family;
  std::memcpy(out->bytes, record + family_word + 1, family == 4 ? 4 : 16);
  return true;
}

// The socket address of a record's destination (or bind address) for a socket of
// socket_family. src/ judged it already; a record that fails here is reported as a TypeError,
// never sent.
bool record_address(Napi::Env env, const int32_t* record, int socket_family, int minimum_port,
                    Address* out) {
  IpAddress ip;
  const int port = record[kRecordPort];
  if (!record_ip(record, kRecordFamily, &ip) || port < minimum_port || port > 65535 ||
      record[kRecordScope] < 0) {
    throw_type_error(env, "ERR_INVALID_ARG_VALUE", "The send record holds no valid address");
    return false;
  }
  if (ip.family == 6) ip.scope_id = static_cast<uint32_t>(record[kRecordScope]);
  if (!make_address(socket_family, ip, port, out)) {
    throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                     "An IPv6 address cannot be used on an IPv4 socket");
    return false;
  }
  return true;
}

// Whether value is a typed array of type with at least length elements.
bool is_typed_array(Napi::Value value, napi_typedarray_type type, size_t length) {
  return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == type &&
         value.As<Napi::TypedArray>().ElementLength() >= length;
}

// One Node-API call, which also tells a typed array from anything else (napi_invalid_arg):
// node-addon-api's checks and accessors would make three per chunk.
bool get_chunk(Napi::Value value, Chunk* out) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  if (napi_get_typedarray_info(value.Env(), value, &type, &length, &data, nullptr, nullptr) !=
          napi_ok ||
      type != napi_uint8_array) {
    return false;
  }
  out->data = static_cast<uint8_t*>(data);
  out->length = length;
  return true;
}

// A Uint8Array, or an array of at most kMaxGatherBuffers of them, sent as one datagram.
bool get_chunks(Napi::Env env, Napi::Value value, Chunk* chunks, size_t* count) {
  if (get_chunk(value, &chunks[0])) {
    *count = 1;
    return true;
  }
  if (value.IsArray()) {
    Napi::Array array = value.As<Napi::Array>();
    if (array.Length() > kMaxGatherBuffers) {
      throw_range_error(env, "ERR_OUT_OF_RANGE",
                        "The gather list of \"msg\" is too long: at most " +
                            std::to_string(kMaxGatherBuffers) + " buffers, got " +
                            std::to_string(array.Length()));
      return false;
    }
    for (uint32_t i = 0; i < array.Length(); i++) {
      if (!get_chunk(array.Get(i), &chunks[i])) {
        throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                         "The \"msg\" argument must be a Uint8Array or an array of them");
        return false;
      }
    }
    *count = array.Length();
    return true;
  }
  throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                   "The \"msg\" argument must be a Uint8Array or an array of them");
  return false;
}

// The source a record asks for, built afresh from that record alone. Returns the control
// message's length (0: none needed), or -1 after throwing a TypeError for a record whose source
// cannot carry the packet to destination.
int source_control(Napi::Env env, const int32_t* record, const Address& destination,
                   SourceInfo* info, uint8_t* control) {
  *info = SourceInfo{};
  IpAddress source;
  const bool has_source = record_ip(record, kRecordSourceFamily, &source);
  const int32_t interface_index = record[kRecordInterfaceIndex];
  if (record[kRecordSourceFamily] != 0 && !has_source) {
    throw_type_error(env, "ERR_INVALID_ARG_VALUE", "The send record holds no valid source");
    return -1;
  }
  if (interface_index < 0) {
    throw_range_error(env, "ERR_OUT_OF_RANGE", "The \"interfaceIndex\" must be >= 0");
    return -1;
  }
  if (!has_source && interface_index == 0) return 0;
  info->ipv4 = is_ipv4_packet(destination);
  info->interface_index = static_cast<uint32_t>(interface_index);
  if (has_source) {
    if ((source.family == 4) != info->ipv4) {
      throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                       std::string("The \"localAddress\" must be an ") +
                           (info->ipv4 ? "IPv4" : "IPv6") + " address to send to an " +
                           (info->ipv4 ? "IPv4" : "IPv6") + " destination");
      return -1;
    }
    info->has_address = true;
    std::memcpy(info->address, source.bytes, source.family == 4 ? 4 : 16);
  }
  return static_cast<int>(encode_source_control(*info, control, kControlCapacity));
}

class UdpHandle : public Napi::ObjectWrap<UdpHandle> {
 public:
  // A prototype method that is a plain Node-API callback (see SendBatchCallback).
  static Napi::ClassPropertyDescriptor<UdpHandle> RawMethod(const char* name, napi_callback callback) {
    napi_property_descriptor method{};
    method.utf8name = name;
    method.method = callback;
    method.attributes = napi_default;
    return Napi::ClassPropertyDescriptor<UdpHandle>(method);
  }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpHandle",
                       {
                           InstanceMethod<&UdpHandle::Bind>("bind"),
                           InstanceMethod<&UdpHandle::Send>("send"),
                           RawMethod("sendBatch", SendBatchCallback),
                           InstanceMethod<&UdpHandle::LocalAddress>("address"),
                           InstanceMethod<&UdpHandle::SetOption>("setOption"),
                           InstanceMethod<&UdpHandle::GetOption>("getOption"),
                           InstanceMethod<&UdpHandle::WatchWritable>("watchWritable"),
                           InstanceMethod<&UdpHandle::SetReferenced>("setReferenced"),
                           InstanceMethod<&UdpHandle::Close>("close"),
                           InstanceMethod<&UdpHandle::SetMembership>("setMembership"),
                           InstanceMethod<&UdpHandle::SetMulticastInterface>("setMulticastInterface"),
                           InstanceMethod<&UdpHandle::Connect>("connect"),
                           InstanceMethod<&UdpHandle::Disconnect>("disconnect"),
                           InstanceMethod<&UdpHandle::RemoteAddress>("remoteAddress"),
                       });
  }

  // new UdpHandle(family: 4 | 6, ipv6Only, reuseAddress, maxMessageSize,
  //               meta: Int32Array of receiveBatch * metaStride (one wake-up's records),
  //               sendRecords: Int32Array of sendBatchSize * sendRecordStride, reusePort)
  explicit UdpHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpHandle>(info) {
    Napi::Env env = info.Env();
    state_ = env.GetInstanceData<AddonState>();
    int family, message_size;
    if (!get_int(env, info[0], "family", 4, 6, &family)) return;
    if (family != 4 && family != 6) {
      throw_range_error(env, "ERR_OUT_OF_RANGE", "The \"family\" must be 4 or 6");
      return;
    }
    if (!get_int(env, info[3], "maxMessageSize", 1, 65535, &message_size)) return;
    if (!is_typed_array(info[4], napi_int32_array, kReceiveBudget * kMetaStride)) {
      throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                       "The \"meta\" argument must be an Int32Array of batch * stride");
      return;
    }
    if (!is_typed_array(info[5], napi_int32_array, kSendBatch * kRecordStride)) {
      throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                       "The \"sendRecords\" argument must be an Int32Array of batch * stride");
      return;
    }
    // They live as long as this handle: the references keep their memory where it is. (src/
    // makes both arrays itself and never hands them out, so they are never detached.)
    meta_reference_ = Napi::Persistent(info[4].As<Napi::Object>());
    meta_ = info[4].As<Napi::Int32Array>().Data();
    records_reference_ = Napi::Persistent(info[5].As<Napi::Object>());
    records_ = info[5].As<Napi::Int32Array>().Data();
    // Listeners and callbacks run in the async context the socket was made in, as dgram's do:
    // AsyncLocalStorage and async_hooks see them there. The resource is an object of its own,
    // not this handle's: some Node versions (26) hold it strongly, and holding the handle would
    // keep a closed socket from ever being collected.
    Napi::Object resource = Napi::Object::New(env);
    async_resource_ = Napi::Persistent(resource);
    napi_value resource_name;
    napi_create_string_utf8(env, "sendmsg.UdpSocket", NAPI_AUTO_LENGTH, &resource_name);
    if (napi_async_init(env, resource, resource_name, &async_context_) != napi_ok) {
      async_context_ = nullptr;
    }

    SocketOptions options;
    options.family = family;
    options.ipv6_only = info[1].ToBoolean();
    options.reuse_address = info[2].ToBoolean();
    options.reuse_port = info[6].ToBoolean();
    const OsError error = open_socket(options, &socket_);
    if (error != 0) {
      Napi::Error exception = Napi::Error::New(env, "socket failed");
      exception.Set("info", error_info(env, error));
      exception.ThrowAsJavaScriptException();
      return;
    }
    family_ = family;
    open_ = true;
    state_->open_handles.insert(this);

    // JavaScript never sees the receive slots: Store copies each datagram out of them. The
    // memory is left uninitialized, so a slot's pages beyond the first are touched only when
    // a datagram that long arrives. Each slot starts on a cache line, and 9 lines further on
    // in the cache's sets than the one before: slots maxMessageSize bytes apart began at the
    // same place in a page (65535 apart: not even on a line), so the first lines of all 32
    // competed for the same few sets of the L1 cache, in the kernel's copy and in Store's.
    const size_t size = static_cast<size_t>(message_size);
    const size_t stride = ((size + 63) & ~static_cast<size_t>(63)) + 9 * 64;
    receive_memory_.reset(new uint8_t[kReceiveBatch * stride]);
    control_memory_.resize(kReceiveBatch * kControlCapacity);
    for (size_t i = 0; i < kReceiveBatch; i++) {
      slots_[i].data = receive_memory_.get() + i * stride;
      slots_[i].capacity = size;
      slots_[i].control = control_memory_.data() + i * kControlCapacity;
    }
  }

  // A socket that is garbage-collected without close() releases its descriptor. (One that is
  // polling is never collected: bind() holds a reference until close.)
  ~UdpHandle() override {
    CloseSocket();
    if (async_context_ != nullptr) napi_async_destroy(Env(), async_context_);
  }

  // Closes the descriptor and the poll without calling into JavaScript, so TearDown may call
  // it while the environment goes away. Safe to call more than once.
  void CloseSocket() {
    if (!open_) return;
    open_ = false;
    ClosePoll(true);
    close_socket(socket_);
    state_->open_handles.erase(this);
    meta_reference_.Reset();
    records_reference_.Reset();
    arena_.Reset();
    arena_data_ = nullptr;
  }
 private:
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Address address;
    if (!record_address(env, records_, family_, 0, &address)) return env.Undefined();
    if (poll_ != nullptr) {
      Napi::Error error = Napi::Error::New(env, "Socket is already bound");
      error.Set("code", Napi::String::New(env, "ERR_SOCKET_ALREADY_BOUND"));
      error.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    OsError error = bind_socket(socket_, address);
    if (error != 0) return error_info(env, error);

    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new Poll{};
    poll_->state = state_;
    poll_->handle.data = this;
    int status = uv_poll_init_socket(loop, &poll_->handle, socket_);
    if (status == 0) status = uv_poll_start(&poll_->handle, UV_READABLE, OnPoll);
    if (status != 0) {
      // Not yet a live libuv handle only when init failed; a started one must be closed.
      ClosePoll(status == 0);
      Napi::Object info_object = Napi::Object::New(env);
      info_object.Set("code", uv_err_name(status));
      info_object.Set("errno", status);
      info_object.Set("osErrno", status);
      return info_object;
    }
    if (!referenced_) uv_unref(reinterpret_cast<uv_handle_t*>(&poll_->handle));
    // While it polls, the socket lives on with no JavaScript reference, as a dgram server does.
    Ref();
    return env.Undefined();
  }

  // send(msg) -> bytes sent | error info. The destination is send record 0.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    OutgoingDatagram datagram;
    if (!Prepare(env, info[0], records_, &batch_[0], &datagram)) return env.Undefined();
    OsError error = 0;
    const int64_t sent = send_datagram(socket_, datagram, &error);
    if (sent < 0) return SendFailure(env, error, 0);
    return Napi::Number::New(env, static_cast<double>(sent));
  }

  // sendBatch(bytes, ...msgs) -> count sent | error info with `sent`: the index of the
  // datagram that failed. msgs[i] goes to send record i; at most kSendBatch datagrams; bytes (a
  // Float64Array) receives each one's size. The messages come as arguments, not in an array:
  // reading an array's elements costs a property lookup each (5% of a reply server's time).
  // It is a plain Node-API callback, not an InstanceMethod: node-addon-api's CallbackInfo puts
  // more than 6 arguments on the heap, a malloc and a free per call (3.5% of a reply server's
  // user time, perf), where these fit on the stack.
  static napi_value SendBatchCallback(napi_env env, napi_callback_info info) {
    // One more than a batch can hold: napi_get_cb_info reports the true count, and a count
    // past kSendBatch is refused before any argument past the buffer would be read.
    size_t argc = 2 + kSendBatch;
    napi_value argv[2 + kSendBatch];
    napi_value self;
    if (napi_get_cb_info(env, info, &argc, argv, &self, nullptr) != napi_ok) return nullptr;
    void* wrapped = nullptr;
    if (napi_unwrap(env, self, &wrapped) != napi_ok || wrapped == nullptr) {
      throw_type_error(Napi::Env(env), "ERR_INVALID_THIS", "sendBatch must be called on a UdpHandle");
      return nullptr;
    }
    return static_cast<UdpHandle*>(wrapped)->SendBatch(Napi::Env(env), argv, argc);
  }

  napi_value SendBatch(Napi::Env env, const napi_value* argv, size_t argc) {
    if (!CheckOpen(env)) return env.Undefined();
    const size_t count = argc == 0 ? 0 : argc - 1;
    if (count > kSendBatch) {
      throw_range_error(env, "ERR_OUT_OF_RANGE",
                        "sendBatch takes at most " + std::to_string(kSendBatch) + " messages");
      return env.Undefined();
    }
    const Napi::Value results(env, argc == 0 ? env.Undefined() : argv[0]);
    if (!is_typed_array(results, napi_float64_array, count)) {
      throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                       "sendBatch needs a Float64Array of a result per message");
      return env.Undefined();
    }
    Napi::Float64Array bytes = results.As<Napi::Float64Array>();
    OutgoingDatagram datagrams[kSendBatch];
    for (size_t i = 0; i < count; i++) {
      if (!Prepare(env, Napi::Value(env, argv[i + 1]), records_ + i * kRecordStride, &batch_[i],
                   &datagrams[i])) {
        return env.Undefined();
      }
    }
    int64_t sent_bytes[kSendBatch];
    OsError error = 0;
    const size_t sent = send_batch(socket_, datagrams, count, sent_bytes, &error);
    for (size_t i = 0; i < sent; i++) bytes[i] = static_cast<double>(sent_bytes[i]);
    if (sent < count) return SendFailure(env, error, sent);
    return Napi::Number::New(env, static_cast<double>(sent));
  }

  Napi::Object SendFailure(Napi::Env env, OsError error, size_t index) {
    Napi::Object failure = error_info(env, error);
    if (should_queue(error)) failure.Set("retry", true);
    failure.Set("sent", static_cast<double>(index));
    return failure;
  }

  // Converts one datagram's bytes and send record into *out, which points into prepared.
  // Both are written in full here, from this send's arguments alone.
  bool Prepare(Napi::Env env, Napi::Value msg, const int32_t* record, PreparedDatagram* prepared,
               OutgoingDatagram* out) {
    OutgoingDatagram datagram{};
    if (!get_chunks(env, msg, prepared->chunks, &datagram.chunk_count)) return false;
    datagram.chunks = prepared->chunks;
    const Address* destination = &connected_peer_;  // family 0: the connected peer
    if (record[kRecordFamily] != 0 || !connected_) {
      if (!record_address(env, record, family_, 1, &prepared->destination)) return false;
      datagram.destination = destination = &prepared->destination;
    }
    const int control_length =
        source_control(env, record, *destination, &prepared->source, prepared->control);
    if (control_length < 0) return false;
    if (control_length > 0) {
      datagram.control = prepared->control;
      datagram.control_length = static_cast<size_t>(control_length);
      datagram.source = &prepared->source;
    }
    *out = datagram;
    return true;
  }

  // setMembership(join) -> undefined | error info. Send record 0 holds the group, its source
  // (source-specific) and the interface index; record 1 the interface's IPv4 address (dgram's
  // form), or family 0.
  Napi::Value SetMembership(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Membership membership;
    IpAddress group, source, interface_address;
    const int32_t* interface_record = records_ + kRecordStride;
    if (!record_ip(records_, kRecordFamily, &group) ||
        (records_[kRecordSourceFamily] != 0 &&
         !record_ip(records_, kRecordSourceFamily, &source)) ||
        (interface_record[kRecordFamily] != 0 &&
         (!record_ip(interface_record, kRecordFamily, &interface_address) ||
          interface_address.family != 4)) ||
        records_[kRecordInterfaceIndex] < 0) {
      throw_type_error(env, "ERR_INVALID_ARG_VALUE", "The membership record is not valid");
      return env.Undefined();
    }
    membership.family = group.family;
    std::memcpy(membership.group, group.bytes, 16);
    membership.has_source = records_[kRecordSourceFamily] != 0;
    std::memcpy(membership.source, source.bytes, 16);
    membership.interface_index = static_cast<uint32_t>(records_[kRecordInterfaceIndex]);
    membership.has_interface_address = interface_record[kRecordFamily] != 0;
    std::memcpy(membership.interface_address, interface_address.bytes, 4);
    const OsError error = set_membership(socket_, family_, membership, info[0].ToBoolean());
    return error == 0 ? env.Undefined() : error_info(env, error).As<Napi::Value>();
  }

  // setMulticastInterface(family) -> undefined | error info. Send record 0 holds the interface
  // index and, for IPv4, an address of the interface (or family 0).
  Napi::Value SetMulticastInterface(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int family;
    if (!CheckOpen(env) || !get_int(env, info[0], "family", 4, 6, &family)) return env.Undefined();
    IpAddress address;
    const bool by_address = records_[kRecordFamily] != 0;
    if ((by_address && (!record_ip(records_, kRecordFamily, &address) || address.family != 4)) ||
        records_[kRecordInterfaceIndex] < 0) {
      throw_type_error(env, "ERR_INVALID_ARG_VALUE", "The interface record is not valid");
      return env.Undefined();
    }
    const OsError error =
        set_multicast_interface(socket_, family, static_cast<uint32_t>(records_[kRecordInterfaceIndex]),
                                by_address ? address.bytes : nullptr);
    return error == 0 ? env.Undefined() : error_info(env, error).As<Napi::Value>();
  }

  // connect() -> undefined | error info: the peer is send record 0.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Address peer;
    if (!record_address(env, records_, family_, 1, &peer)) return env.Undefined();
    const OsError error = connect_socket(socket_, &peer);
    if (error != 0) return error_info(env, error);
    connected_peer_ = peer;
    connected_ = true;
    return env.Undefined();
  }

  Napi::Value Disconnect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    const OsError error = connect_socket(socket_, nullptr);
    if (error != 0) return error_info(env, error);
    connected_ = false;
    return env.Undefined();
  }

  Napi::Value RemoteAddress(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Address address;
    const OsError error = peer_address(socket_, &address);
    if (error != 0) return error_info(env, error);
    return AddressObject(env, address);
  }

  static Napi::Object AddressObject(Napi::Env env, const Address& address) {
    IpAddress ip;
    int port;
    split_address(address, &ip, &port);
    Napi::Object result = Napi::Object::New(env);
    result.Set("address", format_ip(ip.family, ip.bytes));
    result.Set("family", ip.family == 6 ? "IPv6" : "IPv4");
    result.Set("port", port);
    return result;
  }

  Napi::Value LocalAddress(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Address address;
    const OsError error = local_address(socket_, &address);
    if (error != 0) return error_info(env, error);
    return AddressObject(env, address);
  }

  // setOption(name, value) -> undefined | error info
  Napi::Value SetOption(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Option option;
    int value;
    if (!CheckOpen(env) || !GetOptionName(env, info[0], &option) ||
        !get_int(env, info[1], "value", INT32_MIN, INT32_MAX, &value)) {
      return env.Undefined();
    }
    const OsError error = set_option(socket_, family_, option, value);
    return error == 0 ? env.Undefined() : error_info(env, error).As<Napi::Value>();
  }

  Napi::Value GetOption(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Option option;
    if (!CheckOpen(env) || !GetOptionName(env, info[0], &option)) return env.Undefined();
    int value = 0;
    const OsError error = get_option(socket_, family_, option, &value);
    if (error != 0) return error_info(env, error);
    return Napi::Number::New(env, value);
  }

  Napi::Value WatchWritable(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) {
      const bool watch = info[0].ToBoolean();
      poll_events_ = watch ? UV_READABLE | UV_WRITABLE : UV_READABLE;
      uv_poll_start(&poll_->handle, poll_events_, OnPoll);
    }
    return info.Env().Undefined();
  }

  Napi::Value SetReferenced(const Napi::CallbackInfo& info) {
    referenced_ = info[0].ToBoolean();
    if (poll_ != nullptr) {
      auto* handle = reinterpret_cast<uv_handle_t*>(&poll_->handle);
      referenced_ ? uv_ref(handle) : uv_unref(handle);
    }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    const bool was_polling = poll_ != nullptr;
    CloseSocket();
    if (was_polling) Unref();
    return info.Env().Undefined();
  }

  bool CheckOpen(Napi::Env env) {
    if (open_) return true;
    Napi::Error error = Napi::Error::New(env, "Not running");
    error.Set("code", Napi::String::New(env, "ERR_SOCKET_DGRAM_NOT_RUNNING"));
    error.ThrowAsJavaScriptException();
    return false;
  }

  bool GetOptionName(Napi::Env env, Napi::Value value, Option* out) {
    static const struct {
      const char* name;
      Option option;
    } kOptions[] = {
        {"broadcast", Option::kBroadcast},
        {"ttl", Option::kTtl},
        {"multicastTtl", Option::kMulticastTtl},
        {"multicastLoopback", Option::kMulticastLoopback},
        {"recvBufferSize", Option::kReceiveBufferSize},
        {"sendBufferSize", Option::kSendBufferSize},
    };
    std::string name;
    if (!get_string(env, value, "option", &name)) return false;
    for (const auto& entry : kOptions) {
      if (name == entry.name) {
        *out = entry.option;
        return true;
      }
    }
    throw_type_error(env, "ERR_INVALID_ARG_VALUE", "Unknown socket option: " + name);
    return false;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<UdpHandle*>(handle->data);
    if (self == nullptr) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    // While Node tears an environment down it still turns the loop to close its own handles,
    // but JavaScript can no longer run. Then the socket stops polling and waits for TearDown.
    napi_value onmessage;
    if (!self->CanCallJavaScript(&onmessage)) {
      uv_poll_stop(handle);
      return;
    }
    if (status < 0) {
      // libuv stops the poll on POLLERR. On a UDP socket that is, first of all, an ICMP report
      // kept for a connected socket (ECONNREFUSED after a send to a closed port): reading
      // SO_ERROR clears it, and the socket goes on, as dgram's does, with the report as an
      // 'error'. Anything else stops the socket for good, and src/ closes it.
      const OsError pending = take_socket_error(self->socket_);
      if (pending != 0 && uv_poll_start(handle, self->poll_events_, OnPoll) == 0) {
        self->CallBack("onerror", {error_info(env, pending), Napi::String::New(env, "recvmsg")});
        return;
      }
      Napi::Object info = Napi::Object::New(env);
      info.Set("code", uv_err_name(status));
      info.Set("errno", status);
      info.Set("osErrno", status);
      self->CallBack("onerror", {info, Napi::String::New(env, "poll")});
      return;
    }
    if ((events & UV_WRITABLE) != 0) {
      self->CallBack("onwritable", {});
      if (!self->open_) return;
    }
    if ((events & UV_READABLE) != 0) self->Drain(onmessage);
  }

  // Reading a property runs no user code but needs a live JavaScript environment; the raw
  // call reports failure where node-addon-api's wrapper would throw into a dead one. The
  // property read is this.onmessage, which Drain then calls.
  bool CanCallJavaScript(napi_value* onmessage) {
    const napi_value key = state_->OnmessageKey(Env());
    if (key != nullptr && napi_get_property(Env(), Value(), key, onmessage) == napi_ok) {
      return true;
    }
    bool pending = false;
    napi_is_exception_pending(Env(), &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(Env(), &ignored);
    }
    return false;
  }

  // Reads up to kReceiveBudget datagrams, in batches of kReceiveBatch, and hands them all to
  // JavaScript in one call: onmessage(count, ...arenas). The records are in meta_; each
  // datagram's bytes are in one of the arenas, which src/ makes a Buffer view of without
  // another copy. An error after some datagrams comes after they are delivered.
  void Drain(napi_value onmessage) {
    Napi::Env env = Env();
    napi_value args[1 + kReceiveBudget + 1];
    size_t argc = 1;
    size_t total = 0;
    int32_t current_arena = -1;  // its index among the arguments, once this call uses it
    // src/ marks arenas untransferable, but an ArrayBuffer can still be detached (for one, by
    // ArrayBuffer.prototype.transfer): its memory is then no longer ours to write. Only the
    // listeners called since the last delivery could have done it, so one check per delivery
    // holds.
    if (arena_data_ != nullptr) {
      bool detached = false;
      if (napi_is_detached_arraybuffer(env, arena_.Value(), &detached) != napi_ok || detached) {
        arena_data_ = nullptr;
      }
    }
    OsError error = 0;
    while (total < kReceiveBudget) {
      const size_t count = receive_batch(socket_, slots_, kReceiveBatch, &error);
      if (count == 0) break;
      if (!Store(count, meta_ + total * kMetaStride, args, &argc, &current_arena)) return;
      total += count;
      if (count < kReceiveBatch) break;  // drained: another call would only say EAGAIN
    }
    if (total > 0) {
      args[0] = Napi::Number::New(env, static_cast<double>(total));
      CallFunction(onmessage, args, argc);
      if (!open_) return;
    }
    if (error != 0 && !would_block(error)) {
      CallBack("onerror", {error_info(env, error), Napi::String::New(env, "recvmsg")});
    }
  }

  // Writes the records of count received slots from record on, and copies their bytes into
  // arenas, adding each arena that this delivery uses to args once. False when an arena could
  // not be made: the delivery is dropped.
  bool Store(size_t count, int32_t* record, napi_value* args, size_t* argc,
             int32_t* current_arena) {
    for (size_t i = 0; i < count; i++, record += kMetaStride) {
      const ReceiveSlot& slot = slots_[i];
      std::memset(record, 0, kMetaStride * sizeof *record);
      record[kMetaLength] = static_cast<int32_t>(slot.length);
      record[kMetaFlags] = (slot.truncated ? kFlagTruncated : 0) |
                           (slot.info.control_truncated ? kFlagControlTruncated : 0);
      IpAddress peer;
      int port;
      split_address(slot.peer, &peer, &port);
      record[kMetaPeerFamily] = peer.family;
      record[kMetaPeerPort] = port;
      std::memcpy(record + kMetaPeerAddress, peer.bytes, 16);
      record[kMetaPeerScope] = static_cast<int32_t>(peer.scope_id);
      record[kMetaLocalFamily] = slot.info.local_family;
      std::memcpy(record + kMetaLocalAddress, slot.info.local_address, 16);
      record[kMetaDestinationFamily] = slot.info.destination_family;
      std::memcpy(record + kMetaDestinationAddress, slot.info.destination_address, 16);
      record[kMetaInterfaceIndex] = static_cast<int32_t>(slot.info.interface_index);

      uint8_t* target;
      if (slot.length >= kArenaLimit) {
        if (!NewArrayBuffer(slot.length, &args[*argc], &target)) return false;
        record[kMetaArena] = static_cast<int32_t>((*argc)++ - 1);
      } else {
        if (arena_data_ == nullptr || arena_used_ + slot.length > kArenaSize) {
          if (!NewArrayBuffer(kArenaSize, &args[*argc], &arena_data_)) return false;
          arena_ = Napi::Persistent(Napi::ArrayBuffer(Env(), args[*argc]));
          arena_used_ = 0;
          *current_arena = static_cast<int32_t>((*argc)++ - 1);
        } else if (*current_arena < 0) {
          args[*argc] = arena_.Value();
          *current_arena = static_cast<int32_t>((*argc)++ - 1);
        }
        target = arena_data_ + arena_used_;
        record[kMetaArena] = *current_arena;
        record[kMetaArenaOffset] = static_cast<int32_t>(arena_used_);
        arena_used_ = (arena_used_ + slot.length + 7) & ~static_cast<size_t>(7);  // as the pool aligns
      }
      std::memcpy(target, slot.data, slot.length);
    }
    return true;
  }

  // Fails only when V8 cannot allocate, which leaves an exception pending: it is reported
  // as one from a listener would be, and the batch is dropped. *data is left as it was, so
  // the current arena and its reference still match.
  bool NewArrayBuffer(size_t length, napi_value* value, uint8_t** data) {
    void* memory = nullptr;
    if (napi_create_arraybuffer(Env(), length, &memory, value) == napi_ok) {
      *data = static_cast<uint8_t*>(memory);
      return true;
    }
    ReportPendingException();
    return false;
  }

  // Calls this.<name>(...args) as a libuv callback would: with Node's callback scope, and a
  // throw becomes an uncaught exception, as one from a dgram 'message' listener does.
  void CallBack(const char* name, const std::initializer_list<napi_value>& args) {
    CallBack(name, args.begin(), args.size());
  }

  void CallBack(const char* name, const napi_value* args, size_t argc) {
    napi_value callback;
    if (napi_get_named_property(Env(), Value(), name, &callback) != napi_ok) return;
    CallFunction(callback, args, argc);
  }

  // Calls callback (when it is a function) with this as this, as CallBack does.
  void CallFunction(napi_value callback, const napi_value* args, size_t argc) {
    napi_env env = Env();
    napi_valuetype type;
    if (napi_typeof(env, callback, &type) != napi_ok || type != napi_function) return;
    napi_value result;
    if (napi_make_callback(env, async_context_, Value(), callback, argc, args, &result) ==
        napi_ok) {
      return;
    }
    ReportPendingException();
  }

  void ReportPendingException() {
    napi_env env = Env();
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }

  void ClosePoll(bool started) {
    if (poll_ == nullptr) return;
    poll_->handle.data = nullptr;
    if (!started) {
      delete poll_;
    } else {
      if (state_->tearing_down) state_->polls_closing_at_teardown++;
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_->handle), [](uv_handle_t* handle) {
        Poll* poll = reinterpret_cast<Poll*>(handle);
        poll->state->poll_closed();
        delete poll;
      });
    }
    poll_ = nullptr;
  }



  AddonState* state_ = nullptr;
  Socket socket_{};
  int family_ = 4;
  bool connected_ = false;
  Address connected_peer_{};  // while connected_: where a send without a destination goes
  int poll_events_ = UV_READABLE;
  bool open_ = false;
  bool referenced_ = true;
  Poll* poll_ = nullptr;
  Napi::ObjectReference meta_reference_;
  int32_t* meta_ = nullptr;
  Napi::ObjectReference records_reference_;
  int32_t* records_ = nullptr;
  Napi::ObjectReference async_resource_;
  napi_async_context async_context_ = nullptr;
  std::unique_ptr<uint8_t[]> receive_memory_;
  std::vector<uint8_t> control_memory_;
  Napi::Reference<Napi::ArrayBuffer> arena_;
  uint8_t* arena_data_ = nullptr;
  size_t arena_used_ = 0;
  ReceiveSlot slots_[kReceiveBatch];
  // The memory each prepared datagram points into, kept off the stack (64 of them are 300 KB).
  std::vector<PreparedDatagram> batch_ = std::vector<PreparedDatagram>(kSendBatch);
};

// sourceControlBytes(socketFamily, records) -> Buffer: the exact control bytes a send to record
// 0 of records hands to the OS, for tests that cannot see the wire.
Napi::Value SourceControlBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int family;
  if (!get_int(env, info[0], "family", 4, 6, &family)) return env.Undefined();
  if (!is_typed_array(info[1], napi_int32_array, kRecordStride)) {
    throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The \"records\" argument must be an Int32Array");
    return env.Undefined();
  }
  const int32_t* record = info[1].As<Napi::Int32Array>().Data();
  Address destination;
  if (!record_address(env, record, family, 0, &destination)) return env.Undefined();
  alignas(8) uint8_t control[kControlCapacity];
  SourceInfo source;
  const int length = source_control(env, record, destination, &source, control);
  if (length < 0) return env.Undefined();
  return Napi::Buffer<uint8_t>::Copy(env, control, static_cast<size_t>(length));
}

// decodeReceiveControl(bytes) -> { localAddress?, destinationAddress?, interfaceIndex? }
Napi::Value DecodeReceiveControl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Chunk chunk;
  if (!get_chunk(info[0], &chunk)) {
    throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The \"control\" argument must be a Uint8Array");
    return env.Undefined();
  }
  // The OS hands control data over aligned; a Buffer from JavaScript may not be.
  std::vector<uint64_t> aligned((chunk.length + 7) / 8 + 1);
  if (chunk.length > 0) std::memcpy(aligned.data(), chunk.data, chunk.length);  // data may be null
  PacketInfo packet;
  decode_receive_control(reinterpret_cast<const uint8_t*>(aligned.data()), chunk.length, &packet);
  Napi::Object result = Napi::Object::New(env);
  if (packet.local_family != 0) {
    result.Set("localAddress", format_ip(packet.local_family, packet.local_address));
  }
  if (packet.destination_family != 0) {
    result.Set("destinationAddress",
               format_ip(packet.destination_family, packet.destination_address));
  }
  if (packet.interface_index != 0) result.Set("interfaceIndex", packet.interface_index);
  return result;
}

// describeError(osErrno) -> { code, errno, osErrno }
Napi::Value DescribeError(const Napi::CallbackInfo& info) {
  int error;
  if (!get_int(info.Env(), info[0], "osErrno", INT32_MIN, INT32_MAX, &error)) {
    return info.Env().Undefined();
  }
  return error_info(info.Env(), error);
}

Napi::Value InterfaceName(const Napi::CallbackInfo& info) {
  int index;
  if (!get_int(info.Env(), info[0], "interfaceIndex", 0, INT32_MAX, &index)) {
    return info.Env().Undefined();
  }
  char name[256];
  if (!interface_name(static_cast<uint32_t>(index), name, sizeof name)) {
    return info.Env().Undefined();
  }
  return Napi::String::New(info.Env(), name);
}

// interfaceIndex(name) -> the index of the interface named name, or 0 when there is none.
// Looked up at each call: interfaces are renamed, and an index kept from before would send by
// the wrong link.
Napi::Value InterfaceIndex(const Napi::CallbackInfo& info) {
  std::string name;
  if (!get_string(info.Env(), info[0], "name", &name)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), name.find('\0') == std::string::npos
                                           ? static_cast<double>(interface_index(name.c_str()))
                                           : 0.0);
}

// reportUncaught(error): what a throw from a listener becomes, called where src/ catches it so
// that the rest of a received batch is still delivered, as dgram delivers each datagram on its
// own: the process's 'uncaughtException' handlers run now, and without one the process ends.
Napi::Value ReportUncaught(const Napi::CallbackInfo& info) {
  napi_fatal_exception(info.Env(), info[0]);
  return info.Env().Undefined();
}

// openSocketCount() -> sockets of this environment whose descriptor is still open. For tests
// that check a collected socket released its descriptor, on any OS.
Napi::Value OpenSocketCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(
                                           info.Env().GetInstanceData<AddonState>()->open_handles.size()));
}

// Closes every socket of an environment that is going away (a worker ending, the process
// exiting). The hook is asynchronous so that libuv can finish closing the poll handles
// before Node closes the loop; a worker's loop refuses to close with handles still open.
void TearDown(napi_async_cleanup_hook_handle hook, void* data) {
  auto* state = static_cast<AddonState*>(data);
  state->cleanup_hook = hook;
  state->tearing_down = true;
  const std::set<UdpHandle*> handles = state->open_handles;
  for (UdpHandle* handle : handles) handle->CloseSocket();
  if (state->polls_closing_at_teardown == 0) state->finish_teardown();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const OsError error = initialize_process();
  if (error != 0) {
    Napi::Error exception = Napi::Error::New(env, "sendmsg: the socket library did not start");
    exception.Set("info", error_info(env, error));
    exception.ThrowAsJavaScriptException();
    return exports;
  }
  auto* state = new AddonState();
  Napi::Array onmessage_key = Napi::Array::New(env, 1);
  onmessage_key.Set(0u, Napi::String::New(env, "onmessage"));
  state->onmessage_key = Napi::Persistent(static_cast<Napi::Object>(onmessage_key));
  env.SetInstanceData(state);
  napi_add_async_cleanup_hook(env, TearDown, state, nullptr);

  exports.Set("UdpHandle", UdpHandle::Define(env));
  exports.Set("sourceControlBytes", Napi::Function::New(env, SourceControlBytes));
  exports.Set("decodeReceiveControl", Napi::Function::New(env, DecodeReceiveControl));
  exports.Set("describeError", Napi::Function::New(env, DescribeError));
  exports.Set("interfaceName", Napi::Function::New(env, InterfaceName));
  exports.Set("interfaceIndex", Napi::Function::New(env, InterfaceIndex));
  exports.Set("reportUncaught", Napi::Function::New(env, ReportUncaught));
  exports.Set("openSocketCount", Napi::Function::New(env, OpenSocketCount));
  exports.Set("backend", backend_name());
  exports.Set("receiveBatch", static_cast<double>(kReceiveBudget));
  exports.Set("metaStride", static_cast<double>(kMetaStride));
  exports.Set("maxGatherBuffers", static_cast<double>(kMaxGatherBuffers));
  exports.Set("sendBatchSize", static_cast<double>(kSendBatch));
  exports.Set("sendRecordStride", static_cast<double>(kRecordStride));
  return exports;
}

}  // namespace
}  // namespace udp

namespace {
Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return udp::Init(env, exports); }
}  // namespace
NODE_API_MODULE(NODE_GYP_MODULE_NAME, InitModule)
