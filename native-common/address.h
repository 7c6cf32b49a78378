// IP addresses <-> socket addresses, and the normalized form every backend reports.
// Plain libuv and socket types only: no OS branches here.
#pragma once

#include <string>

#include "backend.h"

namespace udp {

// An IP address: 4 bytes for IPv4 (also for a v4-mapped IPv6 address, which is the same host),
// 16 for IPv6. src/address.ts parses every literal the API takes; the addon only reads the
// parsed bytes.
struct IpAddress {
  int family = 0;  // 4 or 6
  uint8_t bytes[16] = {};
  uint32_t scope_id = 0;  // the zone of a link-local address: an interface index
};

// The sockaddr to send to or bind on, for a socket of socket_family: an IPv4 address on an IPv6
// socket becomes v4-mapped. False when the families cannot meet (IPv6 on an IPv4 socket).
bool make_address(int socket_family, const IpAddress& ip, int port, Address* out);

// The family, raw bytes, port and scope of a received or bound sockaddr. A v4-mapped IPv6
// address is reported as plain IPv4: one form for IPv4 peers on every platform.
void split_address(const Address& address, IpAddress* ip, int* port);

std::string format_ip(int family, const uint8_t* bytes);

// Whether a datagram to destination is an IPv4 packet (plain IPv4, or v4-mapped on a
// dual-stack socket), which decides the control message that picks its source.
bool is_ipv4_packet(const Address& destination);

}  // namespace udp
