// UdpHandle, lifecycle: making the socket, bind, connect, options and multicast, polling and
// calling back into JavaScript, and closing.
#include <cstring>
#include <string>

#include "arguments.h"
#include "udp_handle.h"

namespace udp {

// A prototype method that is a plain Node-API callback (see SendBatchCallback).
Napi::ClassPropertyDescriptor<UdpHandle> UdpHandle::RawMethod(const char* name,
                                                              napi_callback callback) {
  napi_property_descriptor method{};
  method.utf8name = name;
  method.method = callback;
  method.attributes = napi_default;
  return Napi::ClassPropertyDescriptor<UdpHandle>(method);
}

Napi::Function UdpHandle::Define(Napi::Env env) {
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
UdpHandle::UdpHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpHandle>(info) {
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
UdpHandle::~UdpHandle() {
  CloseSocket();
  if (async_context_ != nullptr) napi_async_destroy(Env(), async_context_);
}

// Closes the descriptor and the poll without calling into JavaScript, so TearDown may call
// it while the environment goes away. Safe to call more than once.
void UdpHandle::CloseSocket() {
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

Napi::Value UdpHandle::Bind(const Napi::CallbackInfo& info) {
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

// setMembership(join) -> undefined | error info. Send record 0 holds the group, its source
// (source-specific) and the interface index; record 1 the interface's IPv4 address (dgram's
// form), or family 0.
Napi::Value UdpHandle::SetMembership(const Napi::CallbackInfo& info) {
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
Napi::Value UdpHandle::SetMulticastInterface(const Napi::CallbackInfo& info) {
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
Napi::Value UdpHandle::Connect(const Napi::CallbackInfo& info) {
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

Napi::Value UdpHandle::Disconnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  const OsError error = connect_socket(socket_, nullptr);
  if (error != 0) return error_info(env, error);
  connected_ = false;
  return env.Undefined();
}

Napi::Value UdpHandle::RemoteAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  Address address;
  const OsError error = peer_address(socket_, &address);
  if (error != 0) return error_info(env, error);
  return AddressObject(env, address);
}

Napi::Object UdpHandle::AddressObject(Napi::Env env, const Address& address) {
  IpAddress ip;
  int port;
  split_address(address, &ip, &port);
  Napi::Object result = Napi::Object::New(env);
  result.Set("address", format_ip(ip.family, ip.bytes));
  result.Set("family", ip.family == 6 ? "IPv6" : "IPv4");
  result.Set("port", port);
  return result;
}

Napi::Value UdpHandle::LocalAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  Address address;
  const OsError error = local_address(socket_, &address);
  if (error != 0) return error_info(env, error);
  return AddressObject(env, address);
}

// setOption(name, value) -> undefined | error info
Napi::Value UdpHandle::SetOption(const Napi::CallbackInfo& info) {
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

Napi::Value UdpHandle::GetOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Option option;
  if (!CheckOpen(env) || !GetOptionName(env, info[0], &option)) return env.Undefined();
  int value = 0;
  const OsError error = get_option(socket_, family_, option, &value);
  if (error != 0) return error_info(env, error);
  return Napi::Number::New(env, value);
}

Napi::Value UdpHandle::WatchWritable(const Napi::CallbackInfo& info) {
  if (poll_ != nullptr) {
    const bool watch = info[0].ToBoolean();
    poll_events_ = watch ? UV_READABLE | UV_WRITABLE : UV_READABLE;
    uv_poll_start(&poll_->handle, poll_events_, OnPoll);
  }
  return info.Env().Undefined();
}

Napi::Value UdpHandle::SetReferenced(const Napi::CallbackInfo& info) {
  referenced_ = info[0].ToBoolean();
  if (poll_ != nullptr) {
    auto* handle = reinterpret_cast<uv_handle_t*>(&poll_->handle);
    referenced_ ? uv_ref(handle) : uv_unref(handle);
  }
  return info.Env().Undefined();
}

Napi::Value UdpHandle::Close(const Napi::CallbackInfo& info) {
  const bool was_polling = poll_ != nullptr;
  CloseSocket();
  if (was_polling) Unref();
  return info.Env().Undefined();
}

bool UdpHandle::CheckOpen(Napi::Env env) {
  if (open_) return true;
  Napi::Error error = Napi::Error::New(env, "Not running");
  error.Set("code", Napi::String::New(env, "ERR_SOCKET_DGRAM_NOT_RUNNING"));
  error.ThrowAsJavaScriptException();
  return false;
}

bool UdpHandle::GetOptionName(Napi::Env env, Napi::Value value, Option* out) {
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

void UdpHandle::OnPoll(uv_poll_t* handle, int status, int events) {
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

// Calls this.<name>(...args) as a libuv callback would: with Node's callback scope, and a
// throw becomes an uncaught exception, as one from a dgram 'message' listener does.
void UdpHandle::CallBack(const char* name, const std::initializer_list<napi_value>& args) {
  CallBack(name, args.begin(), args.size());
}

void UdpHandle::CallBack(const char* name, const napi_value* args, size_t argc) {
  napi_value callback;
  if (napi_get_named_property(Env(), Value(), name, &callback) != napi_ok) return;
  CallFunction(callback, args, argc);
}

// Calls callback (when it is a function) with this as this, as CallBack does.
void UdpHandle::CallFunction(napi_value callback, const napi_value* args, size_t argc) {
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

void UdpHandle::ReportPendingException() {
  napi_env env = Env();
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

void UdpHandle::ClosePoll(bool started) {
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

}  // namespace udp
