#include "backend_shared.h"

#include <cstring>

#include "address.h"

namespace udp {

OsError bind_socket(Socket socket, const Address& address) {
  return bind(socket, reinterpret_cast<const sockaddr*>(&address.storage), address.length) == 0
             ? 0
             : last_socket_error();
}

OsError local_address(Socket socket, Address* out) {
  out->length = sizeof out->storage;
  return getsockname(socket, reinterpret_cast<sockaddr*>(&out->storage), &out->length) == 0
             ? 0
             : last_socket_error();
}

bool socket_option_name(int family, Option option, int* level, int* name) {
  const bool v6 = family == 6;
  switch (option) {
    case Option::kBroadcast: *level = SOL_SOCKET; *name = SO_BROADCAST; return true;
    case Option::kReceiveBufferSize: *level = SOL_SOCKET; *name = SO_RCVBUF; return true;
    case Option::kSendBufferSize: *level = SOL_SOCKET; *name = SO_SNDBUF; return true;
    case Option::kTtl:
      *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
      *name = v6 ? IPV6_UNICAST_HOPS : IP_TTL;
      return true;
    case Option::kMulticastTtl:
      *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
      *name = v6 ? IPV6_MULTICAST_HOPS : IP_MULTICAST_TTL;
      return true;
    case Option::kMulticastLoopback:
      *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
      *name = v6 ? IPV6_MULTICAST_LOOP : IP_MULTICAST_LOOP;
      return true;
  }
  return false;
}

void set_ipv6_packet_info(const uint8_t address[16], uint32_t interface_index, PacketInfo* info) {
  Address socket_address{};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&socket_address.storage);
  v6->sin6_family = AF_INET6;
  std::memcpy(&v6->sin6_addr, address, 16);
  socket_address.length = sizeof *v6;
  IpAddress ip;
  int port;
  split_address(socket_address, &ip, &port);
  info->interface_index = interface_index;
  // A v4-mapped address is an IPv4 datagram: the IPv4 rule decides, so that the limited
  // broadcast gives no reply-from address whichever of the two records reported it.
  if (ip.family == 4) {
    set_ipv4_destination(ip.bytes, info);
    return;
  }
  info->destination_family = 6;
  std::memcpy(info->destination_address, ip.bytes, 16);
  if (ip.bytes[0] == 0xff) {  // multicast: the stack picks the source
    info->local_family = 0;
    std::memset(info->local_address, 0, sizeof info->local_address);
  } else {
    info->local_family = 6;
    std::memcpy(info->local_address, ip.bytes, 16);
  }
}

void set_ipv4_destination(const uint8_t address[4], PacketInfo* info) {
  // Whole arrays cleared: an earlier IPv6 record of the same datagram may have filled them.
  std::memset(info->destination_address, 0, sizeof info->destination_address);
  std::memset(info->local_address, 0, sizeof info->local_address);
  info->destination_family = 4;
  std::memcpy(info->destination_address, address, 4);
  const bool limited_broadcast =
      address[0] == 0xff && address[1] == 0xff && address[2] == 0xff && address[3] == 0xff;
  const bool multicast = (address[0] & 0xf0) == 0xe0;
  if (!limited_broadcast && !multicast) {
    info->local_family = 4;
    std::memcpy(info->local_address, address, 4);
  } else {
    info->local_family = 0;
  }
}

size_t send_one_by_one(Socket socket, const OutgoingDatagram* datagrams, size_t count,
                       int64_t* bytes, OsError* error) {
  *error = 0;
  size_t done = 0;
  for (; done < count; done++) {
    const int64_t sent = send_datagram(socket, datagrams[done], error);
    if (sent < 0) break;
    bytes[done] = sent;
  }
  return done;
}

}  // namespace udp
