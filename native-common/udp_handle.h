// UdpHandle, the class src/socket.ts drives, and what its files share. Its methods are in
// udp_handle.cc (lifecycle: the socket, bind, connect, options, polling, close),
// udp_handle_send.cc (send and sendBatch) and udp_handle_receive.cc (Drain and its arenas).
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <set>
#include <vector>

#include "address.h"
#include "arguments.h"
#include "backend.h"

namespace udp {

// Datagrams per receive call (one recvmmsg on Linux). Measured in bench/: past 32 the gain is
// lost in noise, and each slot costs maxMessageSize bytes of memory.
constexpr size_t kReceiveBatch = 32;
// Datagrams per wake-up, all handed to JavaScript in one call: the call into JavaScript and
// its callback scope cost as much as the JavaScript of several datagrams. uv_poll is
// level-triggered, so what is left is read on the next loop turn, after timers and other
// sockets had theirs.
constexpr size_t kReceiveBudget = 256;
static_assert(kReceiveBudget % kReceiveBatch == 0, "a wake-up reads whole batches");

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

class UdpHandle : public Napi::ObjectWrap<UdpHandle> {
 public:
  // A prototype method that is a plain Node-API callback (see SendBatchCallback).
  static Napi::ClassPropertyDescriptor<UdpHandle> RawMethod(const char* name, napi_callback callback);
  static Napi::Function Define(Napi::Env env);
  explicit UdpHandle(const Napi::CallbackInfo& info);
  ~UdpHandle() override;
  void CloseSocket();

 private:
  // Lifecycle, options and polling: udp_handle.cc.
  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value SetMembership(const Napi::CallbackInfo& info);
  Napi::Value SetMulticastInterface(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Disconnect(const Napi::CallbackInfo& info);
  Napi::Value RemoteAddress(const Napi::CallbackInfo& info);
  static Napi::Object AddressObject(Napi::Env env, const Address& address);
  Napi::Value LocalAddress(const Napi::CallbackInfo& info);
  Napi::Value SetOption(const Napi::CallbackInfo& info);
  Napi::Value GetOption(const Napi::CallbackInfo& info);
  Napi::Value WatchWritable(const Napi::CallbackInfo& info);
  Napi::Value SetReferenced(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  bool CheckOpen(Napi::Env env);
  bool GetOptionName(Napi::Env env, Napi::Value value, Option* out);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  void CallBack(const char* name, const std::initializer_list<napi_value>& args);
  void CallBack(const char* name, const napi_value* args, size_t argc);
  void CallFunction(napi_value callback, const napi_value* args, size_t argc);
  void ReportPendingException();
  void ClosePoll(bool started);

  // Send: udp_handle_send.cc.
  Napi::Value Send(const Napi::CallbackInfo& info);
  static napi_value SendBatchCallback(napi_env env, napi_callback_info info);
  napi_value SendBatch(Napi::Env env, const napi_value* argv, size_t argc);
  Napi::Object SendFailure(Napi::Env env, OsError error, size_t index);
  bool Prepare(Napi::Env env, Napi::Value msg, const int32_t* record, PreparedDatagram* prepared,
               OutgoingDatagram* out);

  // Receive: udp_handle_receive.cc.
  bool CanCallJavaScript(napi_value* onmessage);
  void Drain(napi_value onmessage);
  bool Store(size_t count, int32_t* record, napi_value* args, size_t* argc,
             int32_t* current_arena);
  bool NewArrayBuffer(size_t length, napi_value* value, uint8_t** data);

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

}  // namespace udp
