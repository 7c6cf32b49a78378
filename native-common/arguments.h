// Argument conversion for the Node-API glue: the errors it throws, and JavaScript values and
// send records read into the backend's types (definitions and their contracts: arguments.cc).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "address.h"
#include "backend.h"

namespace udp {

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

Napi::Object error_info(Napi::Env env, OsError error);
void throw_type_error(Napi::Env env, const char* code, const std::string& message);
void throw_range_error(Napi::Env env, const char* code, const std::string& message);
bool get_string(Napi::Env env, Napi::Value value, const char* name, std::string* out);
bool get_int(Napi::Env env, Napi::Value value, const char* name, int minimum, int maximum,
             int* out);
bool record_ip(const int32_t* record, int family_word, IpAddress* out);
bool record_address(Napi::Env env, const int32_t* record, int socket_family, int minimum_port,
                    Address* out);
bool is_typed_array(Napi::Value value, napi_typedarray_type type, size_t length);
bool get_chunk(Napi::Value value, Chunk* out);
bool get_chunks(Napi::Env env, Napi::Value value, Chunk* chunks, size_t* count);
int source_control(Napi::Env env, const int32_t* record, const Address& destination,
                   SourceInfo* info, uint8_t* control);

}  // namespace udp
