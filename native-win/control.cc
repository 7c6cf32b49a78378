// Control messages (ancillary data) on Windows: pure functions over byte buffers.
//
// Winsock's layout is its own: WSACMSGHDR has a SIZE_T cmsg_len (16 bytes on x64), and the
// WSA_CMSG_* macros walk a WSAMSG. IN_PKTINFO is {ipi_addr, ipi_ifindex} with no
// ipi_spec_dst, and IP_PKTINFO / IPV6_PKTINFO are both 19 here (8 and 50 on Linux), which is
// why everything is compared by name.
#include <climits>
#include <cstring>

#include "address.h"
#include "backend.h"
#include "backend_shared.h"

namespace udp {

namespace {

// The control buffer as the WSA_CMSG_* macros want it. Control.len is a ULONG; a buffer
// longer than that is read (or written) only up to it.
WSAMSG control_message(const uint8_t* control, size_t length) {
  WSAMSG message{};
  message.Control.buf = reinterpret_cast<char*>(const_cast<uint8_t*>(control));
  message.Control.len = static_cast<ULONG>(length > ULONG_MAX ? ULONG_MAX : length);
  return message;
}

// Writes one control message with payload into control; returns its WSA_CMSG_SPACE, or 0 when
// capacity is too small.
size_t put_message(uint8_t* control, size_t capacity, int level, int type, const void* payload,
                   size_t payload_length) {
  WSAMSG message = control_message(control, capacity);
  WSACMSGHDR* header = WSA_CMSG_FIRSTHDR(&message);
  if (header == nullptr || capacity < WSA_CMSG_SPACE(payload_length)) return 0;
  // Every byte handed to the OS is written here (padding as zeros); those past it are not read.
  std::memset(control, 0, WSA_CMSG_SPACE(payload_length));
  header->cmsg_level = level;
  header->cmsg_type = type;
  header->cmsg_len = WSA_CMSG_LEN(payload_length);
  std::memcpy(WSA_CMSG_DATA(header), payload, payload_length);
  return WSA_CMSG_SPACE(payload_length);
}

}  // namespace

size_t encode_source_control(const SourceInfo& source, uint8_t* control, size_t capacity) {
  if (source.ipv4) {
    // On send, ipi_addr is the source address (WSASendMsg page). An IPv4 or v4-mapped
    // destination takes IN_PKTINFO even on a dual-stack IPv6 socket.
    IN_PKTINFO info{};
    if (source.has_address) std::memcpy(&info.ipi_addr, source.address, 4);
    info.ipi_ifindex = source.interface_index;
    return put_message(control, capacity, IPPROTO_IP, IP_PKTINFO, &info, sizeof info);
  }
  IN6_PKTINFO info{};
  if (source.has_address) std::memcpy(&info.ipi6_addr, source.address, 16);
  info.ipi6_ifindex = source.interface_index;
  return put_message(control, capacity, IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof info);
}

void decode_receive_control(const uint8_t* control, size_t length, PacketInfo* out) {
  *out = PacketInfo{};
  WSAMSG message = control_message(control, length);
  if (length > message.Control.len) length = message.Control.len;
  // A dual-stack socket with both options on may report an IPv4 datagram twice (Wine does):
  // IN6_PKTINFO with v4-mapped addresses and IN_PKTINFO. The IPv4 one wins whatever the order.
  bool have_ipv4_info = false;
  for (WSACMSGHDR* header = WSA_CMSG_FIRSTHDR(&message); header != nullptr;
       header = WSA_CMSG_NXTHDR(&message, header)) {
    const uint8_t* data = reinterpret_cast<const uint8_t*>(WSA_CMSG_DATA(header));
    // Never trust cmsg_len past the buffer: a truncated or hostile buffer must not be
    // overread, and a cmsg_len of 0 would make WSA_CMSG_NXTHDR return the same header forever.
    const size_t offset = static_cast<size_t>(data - control);
    if (header->cmsg_len < WSA_CMSG_LEN(0) || offset > length) break;
    const size_t data_length = header->cmsg_len - WSA_CMSG_LEN(0);
    if (data_length > length - offset) break;

    if (header->cmsg_level == IPPROTO_IPV6 && header->cmsg_type == IPV6_PKTINFO &&
        data_length >= sizeof(IN6_PKTINFO)) {
      if (have_ipv4_info) continue;
      // A later record replaces an earlier one whole: set_ipv6_packet_info leaves the reply-from
      // address alone for a multicast destination, which must not keep an earlier record's.
      *out = PacketInfo{};
      IN6_PKTINFO info;
      std::memcpy(&info, data, sizeof info);
      set_ipv6_packet_info(reinterpret_cast<const uint8_t*>(&info.ipi6_addr), info.ipi6_ifindex,
                           out);
      continue;
    }
    if (header->cmsg_level == IPPROTO_IP && header->cmsg_type == IP_PKTINFO &&
        data_length >= sizeof(IN_PKTINFO)) {
      IN_PKTINFO info;
      std::memcpy(&info, data, sizeof info);
      *out = PacketInfo{};
      have_ipv4_info = true;
      // Windows' IN_PKTINFO has no ipi_spec_dst, only the IP header's destination.
      // receive_batch (socket.cc, LocalIpv4Table) puts the receiving interface's address in
      // for broadcast and multicast, which the control bytes alone cannot give.
      set_ipv4_destination(reinterpret_cast<const uint8_t*>(&info.ipi_addr), out);
      out->interface_index = info.ipi_ifindex;
    }
  }
}

}  // namespace udp
