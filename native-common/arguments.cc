// Argument conversion: the errors the addon throws, and JavaScript values and send records
// read into the backend's types.
#include "arguments.h"

#include <cstring>
#include <string>

namespace udp {

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

}  // namespace udp
