// What the control-message fuzzers check, shared by the libFuzzer targets (Linux, and the BSD
// branch built on Linux) and the Windows mutation driver, so every platform's codec is held to
// the same properties:
//
// 1. check_decode: decode_receive_control on arbitrary bytes gives a consistent PacketInfo
//    (families 0/4/6, address bytes only within their family, a reply-from address that agrees
//    with the destination the way the platform's records allow, nothing that is not in the
//    input, and a full reset of *out). Reading past the buffer is caught by ASan (Linux) or a
//    guard page (Windows driver), not here.
// 2. check_round_trip: encode_source_control writes exactly the bytes the platform's layout
//    says (computed here from the layout, not with the code's own macros), returns 0 when the
//    capacity is too small, and decoding what it wrote gives back the source where the send and
//    receive forms are the same record (see round_trip_expectation).
// 3. check_model: a control buffer as a kernel delivers it (the platform's packet-info records
//    in the orders it uses, between unrelated messages) decodes to exactly what the records say.
//
// The layout and option numbers of each dialect are written out here from the platforms'
// headers, and static_asserts check them against the headers this build sees.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

#include "backend.h"

#if defined(_WIN32)
#define SENDMSG_FUZZ_WINDOWS 1
#elif defined(SENDMSG_FUZZ_BSD_DIALECT)
#define SENDMSG_FUZZ_FREEBSD 1
#elif defined(__linux__)
#define SENDMSG_FUZZ_LINUX 1
#else
#error "fuzz/ builds on Linux (its own dialect, or FreeBSD's through fuzz/bsd-on-linux/) or for Windows"
#endif

namespace fuzz {

// Each driver reports a failed property its own way (libFuzzer: abort, so it saves the input;
// the Windows driver: write the input to a reproducer file and exit 1). Never returns.
[[noreturn]] void report_failure(const char* message);

#define FUZZ_CHECK(condition, ...)                                \
  do {                                                            \
    if (!(condition)) {                                           \
      char fuzz_check_message[1024];                              \
      std::snprintf(fuzz_check_message, sizeof fuzz_check_message, \
                    __VA_ARGS__);                                 \
      ::fuzz::report_failure(fuzz_check_message);                 \
    }                                                             \
  } while (0)

// How one platform lays out control messages, and the records it reports packet info in.
struct Dialect {
  const char* name;
  size_t length_width;  // bytes of cmsg_len: size_t on Linux and Windows x64, socklen_t on FreeBSD
  size_t level_offset;
  size_t type_offset;
  size_t data_offset;  // CMSG_DATA - header = CMSG_LEN(0)
  size_t align;  // every message starts at a multiple of this; CMSG_SPACE pads to it
  int ip_level;
  int ipv6_level;
  int ipv4_type;  // the received IPv4 record: IP_PKTINFO, or IP_RECVDSTADDR on FreeBSD
  size_t ipv4_size;  // in_pktinfo 12 (Linux), in_addr 4 (FreeBSD), IN_PKTINFO 8 (Windows)
  bool ipv4_reply_from;  // the IPv4 record has a reply-from address of its own (ipi_spec_dst)
  int ipv6_type;  // IPV6_PKTINFO: in6_pktinfo / IN6_PKTINFO, 20 bytes everywhere
  int interface_type;  // FreeBSD IP_RECVIF (a sockaddr_dl); -1 where the IPv4 record has it
  int socket_level;  // SOL_SOCKET, for the unrelated messages a kernel adds (timestamps)
};
constexpr size_t kIpv6InfoSize = 20;

#if defined(SENDMSG_FUZZ_LINUX)
// <bits/socket.h>: struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; };
// <netinet/in.h>: IP_PKTINFO 8, IPV6_PKTINFO 50, struct in_pktinfo { int ipi_ifindex;
// in_addr ipi_spec_dst; in_addr ipi_addr; }.
constexpr Dialect kDialect{"linux", 8, 8, 12, 16, 8, 0, 41, 8, 12, true, 50, -1, 1};
static_assert(IP_PKTINFO == 8 && IPV6_PKTINFO == 50 && sizeof(in_pktinfo) == 12, "Linux numbers");
#elif defined(SENDMSG_FUZZ_FREEBSD)
// FreeBSD amd64 <sys/socket.h>: struct cmsghdr { socklen_t cmsg_len; int cmsg_level;
// int cmsg_type; }, data at _ALIGN(12) = 16; <netinet/in.h>: IP_RECVDSTADDR 7 (= IP_SENDSRCADDR),
// IP_RECVIF 20; <netinet6/in6.h>: IPV6_PKTINFO 46; SOL_SOCKET 0xffff.
constexpr Dialect kDialect{"freebsd", 4, 4, 8, 16, 8, 0, 41, 7, 4, false, 46, 20, 0xffff};
static_assert(IP_RECVDSTADDR == 7 && IP_SENDSRCADDR == 7 && IP_RECVIF == 20 && IPV6_PKTINFO == 46,
              "FreeBSD numbers (fuzz/bsd-on-linux/freebsd-dialect.h)");
#else
// mswsock.h/ws2def.h: WSACMSGHDR { SIZE_T cmsg_len; INT cmsg_level; INT cmsg_type; } (x64),
// data at WSA_CMSG_LEN(0) = 16; ws2ipdef.h: IP_PKTINFO 19, IPV6_PKTINFO 19,
// IN_PKTINFO { IN_ADDR ipi_addr; ULONG ipi_ifindex; }.
constexpr Dialect kDialect{"win32", 8, 8, 12, 16, 8, 0, 41, 19, 8, false, 19, -1, 0xffff};
static_assert(IP_PKTINFO == 19 && IPV6_PKTINFO == 19 && sizeof(IN_PKTINFO) == 8, "Winsock numbers");
static_assert(WSA_CMSG_LEN(0) == 16 && sizeof(WSACMSGHDR) == 16, "Winsock layout");
#endif
#if !defined(SENDMSG_FUZZ_WINDOWS)
static_assert(CMSG_LEN(0) == kDialect.data_offset && CMSG_SPACE(1) == kDialect.data_offset + 8 &&
                  offsetof(cmsghdr, cmsg_level) == kDialect.level_offset &&
                  offsetof(cmsghdr, cmsg_type) == kDialect.type_offset &&
                  sizeof(cmsghdr::cmsg_len) == kDialect.length_width,
              "the layout above is the one this build's headers give");
static_assert(IPPROTO_IP == 0 && IPPROTO_IPV6 == 41, "protocol levels");
#endif

inline size_t align_up(size_t n) { return (n + kDialect.align - 1) & ~(kDialect.align - 1); }

inline void put_u32(uint8_t* to, uint32_t value) {
  for (int i = 0; i < 4; i++) to[i] = static_cast<uint8_t>(value >> (8 * i));  // x86-64: LE
}

// A control buffer built message by message the way the kernel lays it out: each message at an
// aligned offset, cmsg_len = CMSG_LEN(payload), and CMSG_SPACE(payload) bytes taken.
class ControlWriter {
 public:
  static constexpr size_t kCapacity = 1024;

  bool add(int level, int type, const void* payload, size_t payload_length) {
    const size_t space = kDialect.data_offset + align_up(payload_length);
    if (length_ + space > kCapacity) return false;
    uint8_t* header = bytes_ + length_;
    const uint64_t cmsg_len = kDialect.data_offset + payload_length;
    std::memcpy(header, &cmsg_len, kDialect.length_width);  // little-endian: the low bytes
    std::memcpy(header + kDialect.level_offset, &level, 4);
    std::memcpy(header + kDialect.type_offset, &type, 4);
    std::memcpy(header + kDialect.data_offset, payload, payload_length);
    length_ += space;
    return true;
  }

  const uint8_t* data() const { return bytes_; }
  size_t length() const { return length_; }

 private:
  uint8_t bytes_[kCapacity] = {};
  size_t length_ = 0;
};

// The fuzzer's bytes as a stream of choices; zeros once they run out.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return position_ < size_ ? data_[position_++] : 0; }
  bool bit() { return byte() & 1; }
  uint32_t u32() {
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) value |= static_cast<uint32_t>(byte()) << (8 * i);
    return value;
  }
  void fill(uint8_t* out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = byte();
  }

  // An address of one of the shapes the decoder treats differently, or any bytes.
  void address(uint8_t out[16], bool ipv6) {
    std::memset(out, 0, 16);
    const uint8_t shape = byte() % 8;
    fill(out, ipv6 ? 16 : 4);
    uint8_t* v4 = ipv6 ? out + 12 : out;
    if (ipv6 && shape >= 4) {  // v4-mapped: ::ffff:a.b.c.d
      std::memset(out, 0, 10);
      out[10] = out[11] = 0xff;
    }
    switch (shape % 4) {
      case 1: v4[0] = static_cast<uint8_t>(0xe0 | (v4[0] & 0x0f)); break;  // IPv4 multicast
      case 2: std::memset(v4, 0xff, 4); break;  // the limited broadcast
      case 3:
        if (ipv6 && shape == 3) out[0] = 0xff;  // IPv6 multicast
        else std::memset(v4, 0, 4);  // 0.0.0.0 (the send form's "no address")
        break;
      default: break;
    }
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
};

inline bool ipv4_multicast(const uint8_t* a) { return (a[0] & 0xf0) == 0xe0; }
inline bool ipv4_limited_broadcast(const uint8_t* a) {
  return a[0] == 0xff && a[1] == 0xff && a[2] == 0xff && a[3] == 0xff;
}
inline bool ipv4_mapped(const uint8_t* a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, prefix, 12) == 0;
}
inline size_t family_width(int family) { return family == 4 ? 4 : family == 6 ? 16 : 0; }
inline bool all_zero(const uint8_t* bytes, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (bytes[i] != 0) return false;
  }
  return true;
}
inline bool contains(const uint8_t* haystack, size_t length, const uint8_t* needle, size_t n) {
  for (size_t i = 0; i + n <= length; i++) {
    if (std::memcmp(haystack + i, needle, n) == 0) return true;
  }
  return false;
}

inline void describe(const udp::PacketInfo& info, char* out, size_t capacity) {
  auto hex = [](const uint8_t* bytes, char* text) {
    for (int i = 0; i < 16; i++) std::snprintf(text + 2 * i, 3, "%02x", bytes[i]);
  };
  char local[33], destination[33];
  hex(info.local_address, local);
  hex(info.destination_address, destination);
  std::snprintf(out, capacity, "{local %d/%s, destination %d/%s, interface %u, truncated %d}",
                info.local_family, local, info.destination_family, destination,
                info.interface_index, info.control_truncated ? 1 : 0);
}

inline bool same(const udp::PacketInfo& a, const udp::PacketInfo& b) {
  return a.local_family == b.local_family && a.destination_family == b.destination_family &&
         std::memcmp(a.local_address, b.local_address, 16) == 0 &&
         std::memcmp(a.destination_address, b.destination_address, 16) == 0 &&
         a.interface_index == b.interface_index && a.control_truncated == b.control_truncated;
}

inline void check_expected(const udp::PacketInfo& actual, const udp::PacketInfo& expected,
                           const char* what) {
  if (same(actual, expected)) return;
  char got[160], wanted[160];
  describe(actual, got, sizeof got);
  describe(expected, wanted, sizeof wanted);
  FUZZ_CHECK(false, "%s [%s]: decoded %s, expected %s", what, kDialect.name, got, wanted);
}

// An IPv4 destination with no reply-from address of its own (FreeBSD IP_RECVDSTADDR, Windows
// IN_PKTINFO, a Linux/macOS IP_PKTINFO whose ipi_spec_dst is zero): it is the reply-from
// address unless multicast or the limited broadcast.
inline udp::PacketInfo expect_ipv4_destination(const uint8_t address[4]) {
  udp::PacketInfo info;
  info.destination_family = 4;
  std::memcpy(info.destination_address, address, 4);
  if (!ipv4_multicast(address) && !ipv4_limited_broadcast(address)) {
    info.local_family = 4;
    std::memcpy(info.local_address, address, 4);
  }
  return info;
}

// What a record that gives one destination says (IPv6 pktinfo everywhere; backend_shared.h):
// a v4-mapped address is IPv4, by the IPv4 rule above; an IPv6 destination is also the
// reply-from address unless multicast.
inline udp::PacketInfo expect_ipv6_record(const uint8_t address[16], uint32_t interface_index) {
  udp::PacketInfo info;
  if (ipv4_mapped(address)) {
    info = expect_ipv4_destination(address + 12);
  } else {
    info.destination_family = 6;
    std::memcpy(info.destination_address, address, 16);
    if (address[0] != 0xff) {
      info.local_family = 6;
      std::memcpy(info.local_address, address, 16);
    }
  }
  info.interface_index = interface_index;
  return info;
}

// Decodes into a PacketInfo full of garbage, and again into a fresh one: the decoder must reset
// every field, so both give the same.
inline udp::PacketInfo decode(const uint8_t* control, size_t length) {
  udp::PacketInfo fresh;
  udp::decode_receive_control(control, length, &fresh);
  udp::PacketInfo dirty;
  std::memset(static_cast<void*>(&dirty), 0xa5, sizeof dirty);
  dirty.control_truncated = true;  // a valid bool, but not what the bytes say
  udp::decode_receive_control(control, length, &dirty);
  check_expected(dirty, fresh, "decoding over a used PacketInfo (not every field reset)");
  return fresh;
}

// Property 1: whatever the bytes, the result is consistent and comes from them.
inline void check_decoded(const uint8_t* control, size_t length, const udp::PacketInfo& info) {
  char text[160];
  describe(info, text, sizeof text);
  const int dfam = info.destination_family, lfam = info.local_family;
  FUZZ_CHECK(dfam == 0 || dfam == 4 || dfam == 6, "destination family %d: %s", dfam, text);
  FUZZ_CHECK(lfam == 0 || lfam == 4 || lfam == 6, "local family %d: %s", lfam, text);
  FUZZ_CHECK(!info.control_truncated, "control_truncated comes from msg_flags, not the bytes: %s",
             text);
  // "4 bytes when the matching family is 4, 16 when it is 6, none when it is 0" (backend.h).
  FUZZ_CHECK(all_zero(info.destination_address + family_width(dfam), 16 - family_width(dfam)),
             "destination bytes beyond its family: %s", text);
  FUZZ_CHECK(all_zero(info.local_address + family_width(lfam), 16 - family_width(lfam)),
             "local bytes beyond its family: %s", text);
  // Every record that gives a reply-from address also gives the destination.
  FUZZ_CHECK(dfam != 0 || lfam == 0, "a reply-from address without a destination: %s", text);
  // Only FreeBSD reports the interface in a record of its own (IP_RECVIF).
  if (kDialect.interface_type < 0) {
    FUZZ_CHECK(dfam != 0 || info.interface_index == 0, "an interface without a destination: %s",
               text);
  }
  // An IPv6 destination comes only from an IPv6 record, whose one address is also the
  // reply-from address unless it is multicast.
  if (dfam == 6) {
    const bool multicast = info.destination_address[0] == 0xff;
    FUZZ_CHECK(multicast ? lfam == 0
                         : lfam == 6 && std::memcmp(info.local_address,
                                                    info.destination_address, 16) == 0,
               "IPv6 reply-from address disagrees with the destination: %s", text);
  }
  FUZZ_CHECK(lfam != 6 || dfam == 6, "an IPv6 reply-from address for an IPv4 destination: %s",
             text);
  if (dfam == 4) {
    const uint8_t* d = info.destination_address;
    if (lfam == 0) {
      // No reply-from address: only a multicast or limited broadcast destination (from a
      // destination-only record, or an IP_PKTINFO with no ipi_spec_dst) leaves it to the stack.
      FUZZ_CHECK(ipv4_multicast(d) || ipv4_limited_broadcast(d),
                 "no reply-from address for a unicast IPv4 destination: %s", text);
    } else if (!kDialect.ipv4_reply_from) {
      // FreeBSD and Windows records give only the destination, so the reply-from address is it.
      FUZZ_CHECK(std::memcmp(info.local_address, d, 4) == 0,
                 "IPv4 reply-from address differs from the destination: %s", text);
    }
  }
  // Nothing made up: every address and the interface index are bytes of the input.
  if (dfam != 0) {
    FUZZ_CHECK(contains(control, length, info.destination_address, family_width(dfam)),
               "destination not in the input: %s", text);
  }
  if (lfam != 0) {
    FUZZ_CHECK(contains(control, length, info.local_address, family_width(lfam)),
               "reply-from address not in the input: %s", text);
  }
  if (info.interface_index != 0) {
    uint8_t index[4];
    put_u32(index, info.interface_index);
    // FreeBSD's sockaddr_dl holds a 16-bit sdl_index.
    const size_t width = kDialect.interface_type >= 0 && info.interface_index <= 0xffff ? 2 : 4;
    FUZZ_CHECK(contains(control, length, index, width), "interface index not in the input: %s",
               text);
  }
}

inline void check_decode(const uint8_t* control, size_t length) {
  check_decoded(control, length, decode(control, length));
}

// The record encode_source_control must write for source, by the dialect's layout, and what
// decoding it gives back. Where send and receive use the same record, that is the source:
// - IPv6 (every platform): in6_pktinfo both ways, so the whole source comes back (an address
//   v4-mapped comes back as IPv4, a multicast one as a destination only).
// - Windows IPv4: IN_PKTINFO both ways ({ipi_addr, ipi_ifindex}; on send ipi_addr is the source).
// - FreeBSD IPv4: IP_SENDSRCADDR is IP_RECVDSTADDR's number and both carry an in_addr, so the
//   address comes back; there is no interface on send (and no record at all without an address).
// - Linux IPv4: in_pktinfo both ways, but the source goes in ipi_spec_dst, which the receive
//   side reads as the reply-from address; ipi_addr (the destination) is 0.0.0.0 on send.
struct RoundTrip {
  ControlWriter expected_bytes;  // empty: nothing to encode
  udp::PacketInfo expected_info;
};

inline RoundTrip round_trip_expectation(const udp::SourceInfo& source) {
  RoundTrip result;
  uint8_t address[16] = {};
  if (source.has_address) std::memcpy(address, source.address, source.ipv4 ? 4 : 16);
  uint8_t payload[kIpv6InfoSize] = {};
  if (!source.ipv4) {
    std::memcpy(payload, address, 16);
    put_u32(payload + 16, source.interface_index);
    result.expected_bytes.add(kDialect.ipv6_level, kDialect.ipv6_type, payload, kIpv6InfoSize);
    result.expected_info = expect_ipv6_record(address, source.interface_index);
    return result;
  }
#if defined(SENDMSG_FUZZ_LINUX)
  put_u32(payload, source.interface_index);  // ipi_ifindex
  std::memcpy(payload + 4, address, 4);  // ipi_spec_dst; ipi_addr stays 0
  result.expected_bytes.add(kDialect.ip_level, kDialect.ipv4_type, payload, 12);
  result.expected_info.destination_family = 4;  // 0.0.0.0
  result.expected_info.local_family = 4;
  std::memcpy(result.expected_info.local_address, address, 4);
  result.expected_info.interface_index = source.interface_index;
#elif defined(SENDMSG_FUZZ_FREEBSD)
  if (!source.has_address) return result;
  result.expected_bytes.add(kDialect.ip_level, kDialect.ipv4_type, address, 4);
  result.expected_info = expect_ipv4_destination(address);
#else
  std::memcpy(payload, address, 4);
  put_u32(payload + 4, source.interface_index);
  result.expected_bytes.add(kDialect.ip_level, kDialect.ipv4_type, payload, 8);
  result.expected_info = expect_ipv4_destination(address);
  result.expected_info.interface_index = source.interface_index;
#endif
  return result;
}

// Where each driver puts a buffer of exactly n bytes, so that touching byte n is caught
// (libFuzzer: a heap block under ASan; the Windows driver: the end of a page before a guard).
uint8_t* exact_buffer(size_t n);

// Property 2.
inline void check_round_trip(Reader& in) {
  udp::SourceInfo source;
  source.ipv4 = in.bit();
  source.has_address = in.bit();
  in.address(source.address, !source.ipv4);
  source.interface_index = in.u32();
  const size_t capacity = (in.byte() | (in.byte() << 8)) % 320;
  const RoundTrip expected = round_trip_expectation(source);
  const size_t needed = expected.expected_bytes.length();

  uint8_t* control = exact_buffer(capacity);
  const size_t written = udp::encode_source_control(source, control, capacity);
  const size_t expected_written = capacity >= needed ? needed : 0;
  FUZZ_CHECK(written == expected_written,
             "encode_source_control(ipv4 %d, has_address %d, interface %u) into %zu bytes "
             "returned %zu, expected %zu [%s]",
             source.ipv4, source.has_address, source.interface_index, capacity, written,
             expected_written, kDialect.name);
  if (written == 0) return;
  FUZZ_CHECK(std::memcmp(control, expected.expected_bytes.data(), written) == 0,
             "encode_source_control(ipv4 %d, has_address %d) wrote other bytes than the %s "
             "layout says",
             source.ipv4, source.has_address, kDialect.name);
  const udp::PacketInfo decoded = decode(control, written);
  check_decoded(control, written, decoded);
  check_expected(decoded, expected.expected_info, "round trip of encode_source_control");
}

// One unrelated message, as kernels add (timestamps, TTL, hop limit) or anything else: a level
// and type that are not a packet-info record, or a record's type with too short a payload.
inline void add_unrelated(Reader& in, ControlWriter& out) {
  uint8_t payload[64];
  int level, type;
  const uint8_t kind = in.byte() % 4;
  size_t length = in.byte() % 48;
  if (kind == 0) {
    level = kDialect.socket_level;
    type = in.byte() % 64;
  } else if (kind == 1) {
    level = kDialect.ip_level;
    type = in.byte();
  } else if (kind == 2) {
    level = kDialect.ipv6_level;
    type = in.byte();
  } else {
    level = static_cast<int>(in.u32());
    type = static_cast<int>(in.u32());
  }
  const bool ipv4_record = level == kDialect.ip_level && type == kDialect.ipv4_type;
  const bool ipv6_record = level == kDialect.ipv6_level && type == kDialect.ipv6_type;
  const bool interface_record = level == kDialect.ip_level && type == kDialect.interface_type;
  // A record's own type is unrelated only when too short to be read (the decoder skips it).
  if (ipv4_record && length >= kDialect.ipv4_size) length = kDialect.ipv4_size - 1;
  if (ipv6_record && length >= kIpv6InfoSize) length = kIpv6InfoSize - 1;
  if (interface_record && length >= 4) length = 3;  // sdl_index ends at byte 4
  in.fill(payload, length);
  out.add(level, type, payload, length);
}

// Property 3. The records of one datagram, in the orders the platform delivers them, with up to
// three unrelated messages anywhere; the decoder must report exactly what the records say.
inline void check_model(Reader& in) {
  struct Record {
    int level, type;
    uint8_t payload[96];
    size_t length;
  };
  Record records[3];
  size_t count = 0;
  udp::PacketInfo expected;
  // Adds an IPv6 record; returns what it says.
  auto add_ipv6_record = [&]() {
    Record& r = records[count++];
    r.level = kDialect.ipv6_level;
    r.type = kDialect.ipv6_type;
    r.length = kIpv6InfoSize;
    in.address(r.payload, true);
    const uint32_t index = in.u32();
    put_u32(r.payload + 16, index);
    return expect_ipv6_record(r.payload, index);
  };
  const uint8_t scenario = in.byte() % 4;
#if defined(SENDMSG_FUZZ_FREEBSD)
  // An IPv4 socket: IP_RECVDSTADDR and IP_RECVIF (ip_savecontrol's order, or the other); an
  // IPv6 socket, also for IPv4 on a dual-stack one: IPV6_PKTINFO (ip6_savecontrol_v4). FreeBSD
  // never sends an IPv4 and an IPv6 record together.
  if (scenario == 0 || scenario == 1) {
    uint8_t destination[16];
    in.address(destination, false);
    if (scenario == 0) {
      Record& r = records[count++];
      r.level = kDialect.ip_level;
      r.type = kDialect.ipv4_type;
      r.length = 4;
      std::memcpy(r.payload, destination, 4);
      expected = expect_ipv4_destination(destination);
    }
    if (scenario == 1 || in.bit()) {
      // sockaddr_dl: sdl_len, sdl_family (AF_LINK 18), sdl_index, then type, nlen, alen, slen and
      // the name and link address. 8 bytes for ip_savecontrol's dummy, else the interface's own
      // (at least sizeof(sockaddr_dl), 54, rounded up to 8; up to 32 bytes more).
      Record& r = records[count++];
      r.level = kDialect.ip_level;
      r.type = kDialect.interface_type;
      r.length = in.bit() ? 8 : 56 + 8 * (in.byte() % 5);
      in.fill(r.payload, r.length);
      r.payload[0] = static_cast<uint8_t>(r.length);
      r.payload[1] = 18;
      const uint16_t index = static_cast<uint16_t>(in.byte() | (in.byte() << 8));
      r.payload[2] = static_cast<uint8_t>(index);
      r.payload[3] = static_cast<uint8_t>(index >> 8);
      expected.interface_index = index;
      if (count == 2 && in.bit()) std::swap(records[0], records[1]);
    }
  } else if (scenario == 2) {
    expected = add_ipv6_record();
  }
#else
  // An IPv4 socket: the IPv4 record; an IPv6 socket: the IPv6 record; a dual-stack socket with
  // both options on, for an IPv4 datagram: both, in either order (Linux 6.x sends IPV6_PKTINFO
  // first, Wine either), and the IPv4 one wins whatever the IPv6 one says.
  if (scenario == 0 || scenario == 2) {
    Record& r = records[count++];
    r.level = kDialect.ip_level;
    r.type = kDialect.ipv4_type;
    r.length = kDialect.ipv4_size;
    uint8_t destination[16];
    in.address(destination, false);
    const uint32_t index = in.u32();
#if defined(SENDMSG_FUZZ_LINUX)
    uint8_t reply_from[16];
    in.address(reply_from, false);
    put_u32(r.payload, index);  // ipi_ifindex, ipi_spec_dst, ipi_addr
    std::memcpy(r.payload + 4, reply_from, 4);
    std::memcpy(r.payload + 8, destination, 4);
    if (all_zero(reply_from, 4)) {
      // No ipi_spec_dst (as macOS sends it): the destination-only rule.
      expected = expect_ipv4_destination(destination);
    } else {
      expected = udp::PacketInfo{};
      expected.destination_family = 4;
      std::memcpy(expected.destination_address, destination, 4);
      expected.local_family = 4;
      std::memcpy(expected.local_address, reply_from, 4);
    }
#else
    std::memcpy(r.payload, destination, 4);  // ipi_addr, ipi_ifindex
    put_u32(r.payload + 4, index);
    expected = expect_ipv4_destination(destination);
#endif
    expected.interface_index = index;
    if (scenario == 2) {
      add_ipv6_record();
      if (in.bit()) std::swap(records[0], records[1]);
    }
  } else if (scenario == 1) {
    expected = add_ipv6_record();
  }
#endif
  // scenario 3: no record at all, only unrelated messages.

  ControlWriter control;
  const uint8_t unrelated = in.byte() % 4;
  size_t placed = 0;
  for (size_t i = 0; i <= count; i++) {
    // Before record i (or after the last), some of the unrelated messages.
    const size_t here = i == count ? unrelated - placed : in.byte() % (unrelated - placed + 1);
    for (size_t j = 0; j < here; j++) add_unrelated(in, control);
    placed += here;
    if (i < count) control.add(records[i].level, records[i].type, records[i].payload,
                               records[i].length);
  }
  uint8_t* buffer = exact_buffer(control.length());
  if (control.length() != 0) std::memcpy(buffer, control.data(), control.length());
  const udp::PacketInfo decoded = decode(buffer, control.length());
  check_decoded(buffer, control.length(), decoded);
  check_expected(decoded, expected, "a kernel-shaped control buffer");
}

}  // namespace fuzz
