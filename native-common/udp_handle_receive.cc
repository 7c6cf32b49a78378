// UdpHandle, receive: reading a wake-up's datagrams, copying them into arenas, and the records
// src/ reads them by.
#include <cstring>

#include "arguments.h"
#include "udp_handle.h"

namespace udp {

namespace {

// Received datagrams are copied out of the receive slots, which the next batch overwrites,
// into arenas that JavaScript makes each message a Buffer view of. The sizes are those of
// Node's Buffer pool (Buffer.poolSize, and allocUnsafe's limit of half of it): one arena
// serves many small datagrams, so a kept message pins at most 8 KiB, and a larger datagram
// gets an arena of its exact size.
constexpr size_t kArenaSize = 8192;
constexpr size_t kArenaLimit = kArenaSize / 2;

}  // namespace

// Reading a property runs no user code but needs a live JavaScript environment; the raw
// call reports failure where node-addon-api's wrapper would throw into a dead one. The
// property read is this.onmessage, which Drain then calls.
bool UdpHandle::CanCallJavaScript(napi_value* onmessage) {
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
void UdpHandle::Drain(napi_value onmessage) {
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
bool UdpHandle::Store(size_t count, int32_t* record, napi_value* args, size_t* argc,
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
bool UdpHandle::NewArrayBuffer(size_t length, napi_value* value, uint8_t** data) {
  void* memory = nullptr;
  if (napi_create_arraybuffer(Env(), length, &memory, value) == napi_ok) {
    *data = static_cast<uint8_t*>(memory);
    return true;
  }
  ReportPendingException();
  return false;
}

}  // namespace udp
