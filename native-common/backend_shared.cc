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

OsError peer_address(Socket socket, Address* out) {
  out->length = sizeof out->storage;
  return getpeername(socket, reinterpret_cast<sockaddr*>(&out->storage), &out->length) == 0
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

namespace {

sockaddr_storage socket_address(int family, const uint8_t* bytes) {
  sockaddr_storage storage{};
  if (family == 4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, bytes, 4);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    std::memcpy(&v6->sin6_addr, bytes, 16);
  }
  return storage;
}

OsError set_option_bytes(Socket socket, int level, int name, const void* value, size_t length) {
  return setsockopt(socket, level, name, reinterpret_cast<const char*>(value),
                    static_cast<socklen_t>(length)) == 0
             ? 0
             : last_socket_error();
}

}  // namespace

OsError set_membership_by_index(Socket socket, const Membership& membership, bool join) {
  // The level is the group's family: an IPv6 socket joins an IPv4 group at IPPROTO_IP.
  const int level = membership.family == 6 ? IPPROTO_IPV6 : IPPROTO_IP;
  if (membership.has_source) {
    group_source_req request{};
    request.gsr_interface = membership.interface_index;
    request.gsr_group = socket_address(membership.family, membership.group);
    request.gsr_source = socket_address(membership.family, membership.source);
    return set_option_bytes(socket, level, join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP,
                            &request, sizeof request);
  }
  group_req request{};
  request.gr_interface = membership.interface_index;
  request.gr_group = socket_address(membership.family, membership.group);
  return set_option_bytes(socket, level, join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP, &request,
                          sizeof request);
}

OsError set_membership_by_address(Socket socket, const Membership& membership, bool join) {
  if (membership.has_source) {
    ip_mreq_source request{};
    std::memcpy(&request.imr_multiaddr, membership.group, 4);
    std::memcpy(&request.imr_sourceaddr, membership.source, 4);
    std::memcpy(&request.imr_interface, membership.interface_address, 4);
    return set_option_bytes(socket, IPPROTO_IP,
                            join ? IP_ADD_SOURCE_MEMBERSHIP : IP_DROP_SOURCE_MEMBERSHIP, &request,
                            sizeof request);
  }
  ip_mreq request{};
  std::memcpy(&request.imr_multiaddr, membership.group, 4);
  std::memcpy(&request.imr_interface, membership.interface_address, 4);
  return set_option_bytes(socket, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                          &request, sizeof request);
}

OsError take_socket_error(Socket socket) {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(socket, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&error), &length) != 0) {
    return last_socket_error();
  }
  return error;
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
