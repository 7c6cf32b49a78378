// UdpHandle, send: one datagram or a batch, each prepared from its bytes and its send record.
#include <string>

#include "arguments.h"
#include "udp_handle.h"

namespace udp {

// send(msg) -> bytes sent | error info. The destination is send record 0.
Napi::Value UdpHandle::Send(const Napi::CallbackInfo& info) {
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
napi_value UdpHandle::SendBatchCallback(napi_env env, napi_callback_info info) {
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

napi_value UdpHandle::SendBatch(Napi::Env env, const napi_value* argv, size_t argc) {
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

Napi::Object UdpHandle::SendFailure(Napi::Env env, OsError error, size_t index) {
  Napi::Object failure = error_info(env, error);
  if (should_queue(error)) failure.Set("retry", true);
  failure.Set("sent", static_cast<double>(index));
  return failure;
}

// Converts one datagram's bytes and send record into *out, which points into prepared.
// Both are written in full here, from this send's arguments alone.
bool UdpHandle::Prepare(Napi::Env env, Napi::Value msg, const int32_t* record,
                        PreparedDatagram* prepared, OutgoingDatagram* out) {
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

}  // namespace udp
