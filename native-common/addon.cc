// The Node-API glue: a UdpHandle class for src/socket.ts (udp_handle.h), and the pure
// control-message and error functions for tests. Every OS detail is behind backend.h.
// This file holds the module's exports and its per-environment setup and teardown.
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "address.h"
#include "arguments.h"
#include "backend.h"
#include "udp_handle.h"

namespace udp {
namespace {

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
