// The codecs call three helpers of native-common (set_ipv6_packet_info, set_ipv4_destination,
// split_address), but their files are linked whole, and the rest of them calls into the socket
// layer (native-posix/socket.cc, native-win/socket.cc) and libuv (node.exe on Windows), which a
// codec fuzzer has no reason to link, and neither GNU ld for PE nor coverage-instrumented ELF
// drop the unused callers. These definitions only satisfy the linker: if anything ever calls
// one, the fuzzer stops with its name, so nothing runs on a made-up answer.
#include <cstdio>
#include <cstdlib>

#include "backend.h"

namespace {

[[noreturn]] void not_linked(const char* name) {
  std::fprintf(stderr, "control fuzz: %s was called, but the codec fuzzer does not link it\n",
               name);
  std::abort();
}

}  // namespace

namespace udp {

OsError last_socket_error() { not_linked("udp::last_socket_error"); }

int64_t send_datagram(Socket, const OutgoingDatagram&, OsError*) {
  not_linked("udp::send_datagram");
}

}  // namespace udp

extern "C" {

int uv_ip4_addr(const char*, int, struct sockaddr_in*) { not_linked("uv_ip4_addr"); }
int uv_ip6_addr(const char*, int, struct sockaddr_in6*) { not_linked("uv_ip6_addr"); }
int uv_inet_ntop(int, const void*, char*, size_t) { not_linked("uv_inet_ntop"); }

}  // extern "C"
