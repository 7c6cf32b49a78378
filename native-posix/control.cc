// Control messages (ancillary data) on POSIX: pure functions over byte buffers.
//
// Three dialects exist. Linux and macOS use IP_PKTINFO both ways (struct in_pktinfo with
// ipi_spec_dst). FreeBSD, OpenBSD and NetBSD use the older BSD forms: IP_RECVDSTADDR (an
// in_addr) and IP_RECVIF (a sockaddr_dl) on receive, IP_SENDSRCADDR on send. IPv6 is RFC 3542
// IPV6_PKTINFO everywhere.
#include <cstring>

#include "backend.h"
#include "backend_shared.h"

// SENDMSG_FUZZ_BSD_DIALECT is set only by scripts/fuzz.sh, which compiles the BSD branch on Linux
// against FreeBSD's layouts (fuzz/bsd-on-linux/); no real build defines it.
#if (defined(__linux__) || defined(__APPLE__)) && !defined(SENDMSG_FUZZ_BSD_DIALECT)
#define SENDMSG_IP_PKTINFO 1
#else
#include <net/if_dl.h>
#endif

namespace udp {

#ifdef SENDMSG_IP_PKTINFO
namespace {

// Only the IP_PKTINFO branch has a reply-from address of its own to copy (ipi_spec_dst): on the
// BSDs this would be unused, a warning that fails -Werror builds.
void set_ipv4(int* family, uint8_t* bytes, const in_addr& address) {
  *family = 4;
  std::memcpy(bytes, &address, 4);
}

}  // namespace
#endif

// The longest message encode_source_control writes.
constexpr size_t kLargestSourceControl = CMSG_SPACE(sizeof(in6_pktinfo));

size_t encode_source_control(const SourceInfo& source, uint8_t* control, size_t capacity) {
  // CMSG_FIRSTHDR and CMSG_NXTHDR walk a msghdr, so the encoder builds one over the buffer.
  // Every byte it may hand to the kernel is zeroed here (padding included), and no more: the
  // kernel reads only the length returned, and this runs for every datagram sent.
  std::memset(control, 0, capacity < kLargestSourceControl ? capacity : kLargestSourceControl);
  msghdr message{};
  message.msg_control = control;
  message.msg_controllen = capacity;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (source.ipv4) {
#ifdef SENDMSG_IP_PKTINFO
    if (header == nullptr || capacity < CMSG_SPACE(sizeof(in_pktinfo))) return 0;
    header->cmsg_level = IPPROTO_IP;
    header->cmsg_type = IP_PKTINFO;
    header->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    // ipi_spec_dst is the source to use. ipi_addr is ignored on send.
    if (source.has_address) std::memcpy(&info.ipi_spec_dst, source.address, 4);
    info.ipi_ifindex = static_cast<int>(source.interface_index);
    std::memcpy(CMSG_DATA(header), &info, sizeof info);
    return CMSG_SPACE(sizeof(in_pktinfo));
#else
    // The BSDs take only a source address; there is no IPv4 send-side interface option.
    // IP_SENDSRCADDR works only on a socket bound to a wildcard address (EINVAL otherwise).
    if (!source.has_address) return 0;
    if (header == nullptr || capacity < CMSG_SPACE(sizeof(in_addr))) return 0;
    header->cmsg_level = IPPROTO_IP;
    header->cmsg_type = IP_SENDSRCADDR;
    header->cmsg_len = CMSG_LEN(sizeof(in_addr));
    std::memcpy(CMSG_DATA(header), source.address, 4);
    return CMSG_SPACE(sizeof(in_addr));
#endif
  }
  if (header == nullptr || capacity < CMSG_SPACE(sizeof(in6_pktinfo))) return 0;
  header->cmsg_level = IPPROTO_IPV6;
  header->cmsg_type = IPV6_PKTINFO;
  header->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo info{};
  if (source.has_address) std::memcpy(&info.ipi6_addr, source.address, 16);
  info.ipi6_ifindex = source.interface_index;
  std::memcpy(CMSG_DATA(header), &info, sizeof info);
  return CMSG_SPACE(sizeof(in6_pktinfo));
}

void decode_receive_control(const uint8_t* control, size_t length, PacketInfo* out) {
  *out = PacketInfo{};
  msghdr message{};
  message.msg_control = const_cast<uint8_t*>(control);
  message.msg_controllen = length;
  // A dual-stack socket on Linux reports an IPv4 datagram twice: IPV6_PKTINFO with v4-mapped
  // addresses (no reply-from address) and IP_PKTINFO (with ipi_spec_dst). The IPv4 one wins
  // whatever the order.
  bool have_ipv4_info = false;
#ifndef SENDMSG_IP_PKTINFO
  bool have_interface_record = false;  // IP_RECVIF, which may come before IP_RECVDSTADDR
#endif
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    const uint8_t* data = CMSG_DATA(header);
    // Never trust cmsg_len past the buffer: a truncated or hostile buffer must not be overread.
    const size_t offset = static_cast<size_t>(data - control);
    if (header->cmsg_len < CMSG_LEN(0) || offset > length) break;
    const size_t data_length = header->cmsg_len - CMSG_LEN(0);
    if (data_length > length - offset) break;

    if (header->cmsg_level == IPPROTO_IPV6 && header->cmsg_type == IPV6_PKTINFO &&
        data_length >= sizeof(in6_pktinfo)) {
      if (have_ipv4_info) continue;
      // A later record replaces an earlier one whole: set_ipv6_packet_info leaves the reply-from
      // address alone for a multicast destination, which must not keep an earlier record's.
      *out = PacketInfo{};
      in6_pktinfo info;
      std::memcpy(&info, data, sizeof info);
      set_ipv6_packet_info(reinterpret_cast<const uint8_t*>(&info.ipi6_addr), info.ipi6_ifindex,
                           out);
      continue;
    }
    if (header->cmsg_level != IPPROTO_IP) continue;
#ifdef SENDMSG_IP_PKTINFO
    if (header->cmsg_type == IP_PKTINFO && data_length >= sizeof(in_pktinfo)) {
      in_pktinfo info;
      std::memcpy(&info, data, sizeof info);
      *out = PacketInfo{};
      have_ipv4_info = true;
      if (info.ipi_spec_dst.s_addr != 0) {
        set_ipv4(&out->destination_family, out->destination_address, info.ipi_addr);
        set_ipv4(&out->local_family, out->local_address, info.ipi_spec_dst);
      } else {
        // macOS leaves ipi_spec_dst zero (XNU's ip_savecontrol fills only ipi_addr and the
        // index): then the destination is the reply-from address where it is unicast, as for
        // the BSD records.
        set_ipv4_destination(reinterpret_cast<const uint8_t*>(&info.ipi_addr), out);
      }
      out->interface_index = static_cast<uint32_t>(info.ipi_ifindex);
    }
#else
    if (header->cmsg_type == IP_RECVDSTADDR && data_length >= sizeof(in_addr)) {
      // It replaces whatever an earlier record said (an IPv6 one, another IP_RECVDSTADDR), as
      // IP_PKTINFO does on Linux, but keeps the interface that IP_RECVIF gave.
      // set_ipv4_destination writes only 4 address bytes.
      const uint32_t interface_index = have_interface_record ? out->interface_index : 0;
      *out = PacketInfo{};
      out->interface_index = interface_index;
      have_ipv4_info = true;
      // No reply-from address on the BSDs: for a broadcast or multicast datagram it is unknown.
      set_ipv4_destination(data, out);
    } else if (header->cmsg_type == IP_RECVIF && data_length >= offsetof(sockaddr_dl, sdl_index) +
                                                                     sizeof(u_short)) {
      sockaddr_dl link;
      std::memset(&link, 0, sizeof link);
      std::memcpy(&link, data, data_length < sizeof link ? data_length : sizeof link);
      out->interface_index = link.sdl_index;
      have_interface_record = true;
    }
#endif
  }
}

}  // namespace udp
