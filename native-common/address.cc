#include "address.h"

#include <cstring>

namespace udp {

namespace {

const uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(const uint8_t* bytes) {
  return std::memcmp(bytes, kV4MappedPrefix, sizeof kV4MappedPrefix) == 0;
}

}  // namespace

bool make_address(int socket_family, const IpAddress& ip, int port, Address* out) {
  // Every byte of the sockaddr the kernel reads (length), and no more: this runs per send.
  std::memset(&out->storage, 0, sizeof(sockaddr_in6));
  if (socket_family == 4) {
    if (ip.family != 4) return false;
    auto* address = reinterpret_cast<sockaddr_in*>(&out->storage);
    address->sin_family = AF_INET;
    address->sin_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&address->sin_addr, ip.bytes, 4);
    out->length = sizeof *address;
    return true;
  }
  auto* address = reinterpret_cast<sockaddr_in6*>(&out->storage);
  address->sin6_family = AF_INET6;
  address->sin6_port = htons(static_cast<uint16_t>(port));
  uint8_t* bytes = reinterpret_cast<uint8_t*>(&address->sin6_addr);
  if (ip.family == 4) {
    std::memcpy(bytes, kV4MappedPrefix, sizeof kV4MappedPrefix);
    std::memcpy(bytes + 12, ip.bytes, 4);
  } else {
    std::memcpy(bytes, ip.bytes, 16);
    address->sin6_scope_id = ip.scope_id;
  }
  out->length = sizeof *address;
  return true;
}

void split_address(const Address& address, IpAddress* ip, int* port) {
  *ip = IpAddress{};
  *port = 0;
  if (address.storage.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
    ip->family = 4;
    std::memcpy(ip->bytes, &v4->sin_addr, 4);
    *port = ntohs(v4->sin_port);
  } else if (address.storage.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(&v6->sin6_addr);
    *port = ntohs(v6->sin6_port);
    if (is_v4_mapped(bytes)) {
      ip->family = 4;
      std::memcpy(ip->bytes, bytes + 12, 4);
    } else {
      ip->family = 6;
      std::memcpy(ip->bytes, bytes, 16);
      ip->scope_id = v6->sin6_scope_id;
    }
  }
}

std::string format_ip(int family, const uint8_t* bytes) {
  char text[64] = "";
  if (family == 4) {
    uv_inet_ntop(AF_INET, bytes, text, sizeof text);
  } else if (family == 6) {
    uv_inet_ntop(AF_INET6, bytes, text, sizeof text);
  }
  return text;
}

bool is_ipv4_packet(const Address& destination) {
  if (destination.storage.ss_family == AF_INET) return true;
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&destination.storage);
  return is_v4_mapped(reinterpret_cast<const uint8_t*>(&v6->sin6_addr));
}

}  // namespace udp
