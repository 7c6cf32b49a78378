// Sockets on Windows (Winsock 2, Vista and later; Node 20 itself needs Windows 10).
#include <climits>
#include <cstring>
#include <mutex>
#include <vector>

#include "address.h"
#include "backend.h"
#include "backend_shared.h"

// After backend.h: iphlpapi.h needs winsock2.h and ws2ipdef.h first.
#include <iphlpapi.h>

namespace udp {

namespace {

// WSARecvMsg is an extension function: ws2_32 does not export it. initialize_process looks it
// up once; it is never written again, so every thread may read it after that.
LPFN_WSARECVMSG recvmsg_function = nullptr;

// How many ICMP reports (WSAECONNRESET, WSAENETRESET) one receive_batch skips before it
// returns as if the socket were empty. Each failed call consumes one report, so this only
// bounds a flood; uv_poll is level-triggered and calls again on the next loop turn.
constexpr size_t kMaxSkippedReports = 256;

OsError set_int_option(Socket socket, int level, int name, int value) {
  return setsockopt(socket, level, name, reinterpret_cast<const char*>(&value), sizeof value) == 0
             ? 0
             : last_socket_error();
}

OsError find_recvmsg() {
  // Any UDP socket of the Microsoft provider answers for both families: WSARecvMsg lives in
  // mswsock for IPv4 and IPv6 alike.
  SOCKET probe = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (probe == INVALID_SOCKET) return last_socket_error();
  GUID guid = WSAID_WSARECVMSG;
  LPFN_WSARECVMSG function = nullptr;
  DWORD returned = 0;
  OsError error = 0;
  if (WSAIoctl(probe, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &function,
               sizeof function, &returned, nullptr, nullptr) != 0) {
    error = last_socket_error();
  } else if (function == nullptr) {
    // The provider answered but has no WSARecvMsg: without it there is no packet info at all.
    error = WSAEOPNOTSUPP;
  }
  closesocket(probe);
  if (error == 0) recvmsg_function = function;
  return error;
}

OsError start_winsock() {
  // Node (libuv) has already started Winsock 2.2; WSAStartup counts its callers, so this one
  // is ours and is never matched by WSACleanup: the addon stays loaded until the process ends.
  WSADATA data;
  const int error = WSAStartup(MAKEWORD(2, 2), &data);
  if (error != 0) return error;  // WSAStartup returns the error instead of setting it
  return find_recvmsg();
}

OsError enable_packet_info(Socket socket, const SocketOptions& options) {
  if (options.family == 6) {
    const OsError error = set_int_option(socket, IPPROTO_IPV6, IPV6_PKTINFO, 1);
    if (error != 0 || options.ipv6_only) return error;
    // A dual-stack socket reports IPv4 datagrams' packet info only through IP_PKTINFO, so both
    // are needed. Every Windows since Vista takes the IPv4 option on a dual-mode socket, so a
    // refusal is an error here (POSIX kernels may refuse it and still report v4-mapped info).
  }
  return set_int_option(socket, IPPROTO_IP, IP_PKTINFO, 1);
}

// Windows reports an ICMP port-unreachable from an earlier send as WSAECONNRESET, and a "TTL
// expired" as WSAENETRESET, on a later receive: for a server that answers many clients, one
// gone client would fail the next read. Both are turned off. A refusal is not fatal:
// SIO_UDP_NETRESET is newer than Vista, Wine stubs these, and receive_batch skips the two
// errors anyway.
void turn_off_icmp_reports(Socket socket) {
  const DWORD codes[] = {SIO_UDP_CONNRESET, SIO_UDP_NETRESET};
  for (const DWORD code : codes) {
    BOOL report = FALSE;
    DWORD returned = 0;
    WSAIoctl(socket, code, &report, sizeof report, nullptr, 0, &returned, nullptr, nullptr);
  }
}

// The address to reply from, for an IPv4 datagram sent to a broadcast or multicast address.
//
// Windows' IN_PKTINFO has no ipi_spec_dst (control.cc), so decode_receive_control reports the
// destination as the local address for anything that looks unicast, and nothing for
// 255.255.255.255 and multicast. A subnet-directed broadcast (192.0.2.255 on a /24) looks
// unicast there. This table of the host's IPv4 addresses, with their masks and interfaces,
// finds both cases and gives what Linux gives in ipi_spec_dst: an address of the interface the
// datagram arrived on, preferably one in the sender's subnet. A DHCP server, whose requests come
// from 0.0.0.0 to 255.255.255.255, gets its address on that interface to answer from.
//
// One table for the process, behind a mutex (workers receive on threads of their own). It is
// read again when a destination is in it neither as an address nor as a subnet broadcast, at
// most once a second, so a new address is learnt on its first datagram and a flood of
// multicast costs no more than one GetIpAddrTable a second.
class LocalIpv4Table {
 public:
  // Fills *out (network order) and returns true when destination is a broadcast or multicast
  // address whose reply-from address the table knows.
  bool reply_address(uint32_t destination, uint32_t interface_index, uint32_t peer, uint32_t* out) {
    std::lock_guard<std::mutex> lock(mutex_);
    Answer answer = find(destination, interface_index, peer, out);
    const ULONGLONG now = GetTickCount64();
    if (answer == Answer::kNotInTable && (!loaded_ || now - loaded_at_ >= 1000)) {
      load(now);
      answer = find(destination, interface_index, peer, out);
    }
    return answer == Answer::kBroadcast;
  }

 private:
  struct Row {
    uint32_t address;  // host order, as are the others
    uint32_t mask;
    uint32_t interface_index;
  };
  enum class Answer { kUnicast, kBroadcast, kNotInTable };

  Answer find(uint32_t destination_be, uint32_t interface_index, uint32_t peer_be,
              uint32_t* out) const {
    const uint32_t destination = ntohl(destination_be);
    const uint32_t peer = ntohl(peer_be);
    bool broadcast = destination == INADDR_BROADCAST || IN_MULTICAST(destination);
    const Row* subnet = nullptr;  // the row whose subnet broadcast destination is
    const Row* sender_subnet = nullptr;  // a row on the interface in the sender's subnet
    const Row* first = nullptr;  // the first row on the interface
    for (const Row& row : rows_) {
      if (row.address == destination) return Answer::kUnicast;
      if (row.interface_index != interface_index) continue;
      if (first == nullptr) first = &row;
      if (sender_subnet == nullptr && (peer & row.mask) == (row.address & row.mask)) {
        sender_subnet = &row;
      }
      if (row.mask != 0xffffffffu && (row.address | ~row.mask) == destination) {
        broadcast = true;
        if (subnet == nullptr) subnet = &row;
      }
    }
    if (!broadcast) return Answer::kNotInTable;
    const Row* chosen = subnet != nullptr ? subnet : sender_subnet != nullptr ? sender_subnet : first;
    if (chosen == nullptr) return Answer::kNotInTable;
    *out = htonl(chosen->address);
    return Answer::kBroadcast;
  }

  void load(ULONGLONG now) {
    loaded_ = true;
    loaded_at_ = now;
    ULONG size = 0;
    std::vector<uint8_t> buffer;
    DWORD status = ERROR_INSUFFICIENT_BUFFER;
    // The table can grow between the two calls; a few tries are enough.
    for (int attempt = 0; attempt < 4 && status == ERROR_INSUFFICIENT_BUFFER; attempt++) {
      buffer.resize(size > 0 ? size : sizeof(MIB_IPADDRTABLE));
      size = static_cast<ULONG>(buffer.size());
      status = GetIpAddrTable(reinterpret_cast<MIB_IPADDRTABLE*>(buffer.data()), &size, FALSE);
    }
    if (status != NO_ERROR) return;  // keep what was known
    const auto* table = reinterpret_cast<const MIB_IPADDRTABLE*>(buffer.data());
    rows_.clear();
    for (DWORD i = 0; i < table->dwNumEntries; i++) {
      const MIB_IPADDRROW& row = table->table[i];
      if (row.dwAddr == 0) continue;
      rows_.push_back({ntohl(row.dwAddr), ntohl(row.dwMask), static_cast<uint32_t>(row.dwIndex)});
    }
  }

  std::mutex mutex_;
  std::vector<Row> rows_;
  bool loaded_ = false;
  ULONGLONG loaded_at_ = 0;
};

LocalIpv4Table local_ipv4_table;

// Replaces the reply-from address of an IPv4 datagram to a broadcast or multicast address with
// the local address that Linux would report (see LocalIpv4Table).
void resolve_broadcast_reply_address(const Address& peer, PacketInfo* info) {
  if (info->destination_family != 4) return;
  IpAddress peer_ip;
  int port;
  split_address(peer, &peer_ip, &port);
  uint32_t destination, peer_address = 0, local;
  std::memcpy(&destination, info->destination_address, 4);
  if (peer_ip.family == 4) std::memcpy(&peer_address, peer_ip.bytes, 4);
  if (local_ipv4_table.reply_address(destination, info->interface_index, peer_address, &local)) {
    info->local_family = 4;
    std::memset(info->local_address, 0, sizeof info->local_address);
    std::memcpy(info->local_address, &local, 4);
  }
}

// Resets one slot for a WSARecvMsg call. Name and control lengths are in/out parameters, so
// they are set again before every call. The peer family and the whole control buffer are
// cleared too: a call that fails with WSAEMSGSIZE may leave either unwritten, and the previous
// datagram's address or packet info must never be reported for this one.
void prepare_receive(ReceiveSlot& slot, WSABUF* buffer, WSAMSG* message) {
  buffer->buf = reinterpret_cast<char*>(slot.data);
  buffer->len = static_cast<ULONG>(slot.capacity);  // at most 65535 (the glue's maxMessageSize)
  slot.peer.storage.ss_family = AF_UNSPEC;
  std::memset(slot.control, 0, kControlCapacity);
  *message = WSAMSG{};
  message->name = reinterpret_cast<sockaddr*>(&slot.peer.storage);
  message->namelen = sizeof slot.peer.storage;
  message->lpBuffers = buffer;
  message->dwBufferCount = 1;
  message->Control.buf = reinterpret_cast<char*>(slot.control);
  message->Control.len = static_cast<ULONG>(kControlCapacity);
}

}  // namespace

OsError last_socket_error() { return WSAGetLastError(); }

OsError initialize_process() {
  // Once per process, whichever thread (main or worker) loads the addon first; the others
  // wait here and get the same answer.
  static const OsError error = start_winsock();
  return error;
}

OsError open_socket(const SocketOptions& options, Socket* out) {
  const int domain = options.family == 6 ? AF_INET6 : AF_INET;
  // WSA_FLAG_OVERLAPPED is what socket() would give too. WSA_FLAG_NO_HANDLE_INHERIT is the
  // Windows SOCK_CLOEXEC: a child process (child_process.spawn) must not keep the port open.
  SOCKET fd = WSASocketW(domain, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0,
                         WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (fd == INVALID_SOCKET) return last_socket_error();
  u_long non_blocking = 1;
  OsError error = ioctlsocket(fd, FIONBIO, &non_blocking) == 0 ? 0 : last_socket_error();
  // Windows defaults IPV6_V6ONLY to on (Linux to off): it is always set, as asked.
  if (error == 0 && options.family == 6) {
    error = set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.ipv6_only ? 1 : 0);
  }
  if (error == 0) error = enable_packet_info(fd, options);
  // SO_REUSEADDR, as libuv sets it for dgram's reuseAddr. On Windows it lets this socket bind
  // a port that another socket holds, even one bound to the very same address, and without
  // the other's consent (only SO_EXCLUSIVEADDRUSE on the other socket prevents it; since
  // Windows Server 2003 a socket of another user cannot be taken over). Unicast datagrams then
  // go to one of the sockets, which one is not defined; multicast and broadcast to all.
  if (error == 0 && options.reuse_address) error = set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  // Windows has no option that balances one port's datagrams among sockets.
  if (error == 0 && options.reuse_port) error = WSAEOPNOTSUPP;
  if (error != 0) {
    closesocket(fd);
    return error;
  }
  turn_off_icmp_reports(fd);
  *out = fd;
  return 0;
}

// Every one of these options is a DWORD (or BOOL) on Windows, including the IPv4 multicast
// ones that the BSDs take as a byte.
OsError set_option(Socket socket, int family, Option option, int value) {
  int level, name;
  if (!socket_option_name(family, option, &level, &name)) return WSAEINVAL;
  return set_int_option(socket, level, name, value);
}

OsError get_option(Socket socket, int family, Option option, int* value) {
  int level, name;
  if (!socket_option_name(family, option, &level, &name)) return WSAEINVAL;
  int length = sizeof *value;
  *value = 0;
  return getsockopt(socket, level, name, reinterpret_cast<char*>(value), &length) == 0
             ? 0
             : last_socket_error();
}

void close_socket(Socket socket) { closesocket(socket); }

// Windows has no recvmmsg: one non-overlapped WSARecvMsg per datagram.
size_t receive_batch(Socket socket, ReceiveSlot* slots, size_t count, OsError* error) {
  *error = 0;
  size_t received = 0;
  size_t skipped = 0;
  while (received < count) {
    ReceiveSlot& slot = slots[received];
    WSABUF buffer;
    WSAMSG message;
    prepare_receive(slot, &buffer, &message);
    DWORD length = 0;
    OsError status = 0;
    if (recvmsg_function(socket, &message, &length, nullptr, nullptr) != 0) status = last_socket_error();
    if (status == WSAECONNRESET || status == WSAENETRESET) {
      // An ICMP report about an earlier send (see turn_off_icmp_reports), not a datagram.
      if (++skipped < kMaxSkippedReports) continue;
      status = WSAEWOULDBLOCK;
    }
    // A datagram longer than the buffer is an error on Windows (POSIX returns it with
    // MSG_TRUNC): the buffer is filled, the rest is lost, and the datagram is still delivered.
    const bool too_long = status == WSAEMSGSIZE;
    if (status != 0 && !too_long) {
      if (received == 0) *error = status;
      break;
    }
    slot.length = too_long ? slot.capacity : length;
    slot.truncated = too_long || (message.dwFlags & MSG_TRUNC) != 0;
    slot.peer.length = message.namelen;
    decode_receive_control(slot.control, message.Control.len, &slot.info);
    resolve_broadcast_reply_address(slot.peer, &slot.info);
    slot.info.control_truncated = (message.dwFlags & MSG_CTRUNC) != 0;
    received++;
  }
  return received;
}

int64_t send_datagram(Socket socket, const OutgoingDatagram& datagram, OsError* error) {
  WSABUF buffers[kMaxGatherBuffers];
  for (size_t i = 0; i < datagram.chunk_count; i++) {
    // WSABUF lengths are ULONGs; no datagram comes near that, so a longer chunk is too long.
    if (datagram.chunks[i].length > ULONG_MAX) {
      *error = WSAEMSGSIZE;
      return -1;
    }
    buffers[i].buf = reinterpret_cast<char*>(const_cast<uint8_t*>(datagram.chunks[i].data));
    buffers[i].len = static_cast<ULONG>(datagram.chunks[i].length);
  }
  WSAMSG message{};
  if (datagram.destination != nullptr) {  // none: the connected peer
    message.name =
        reinterpret_cast<sockaddr*>(const_cast<sockaddr_storage*>(&datagram.destination->storage));
    message.namelen = datagram.destination->length;
  }
  message.lpBuffers = buffers;
  message.dwBufferCount = static_cast<DWORD>(datagram.chunk_count);
  // No control data: a NULL pointer with length 0. A NULL pointer with a length, or a length
  // that does not match the buffer, is WSAEFAULT.
  if (datagram.control_length > 0) {
    message.Control.buf = reinterpret_cast<char*>(const_cast<uint8_t*>(datagram.control));
    message.Control.len = static_cast<ULONG>(datagram.control_length);
  }
  // dwFlags 0: WSASendMsg takes only MSG_DONTROUTE, MSG_PARTIAL and MSG_OOB (WSAEOPNOTSUPP
  // for anything else), and a UDP datagram needs none of them. No overlapped structure and no
  // completion routine: the call completes at once or fails (WSAEWOULDBLOCK when the socket's
  // buffer is full), so WSA_IO_PENDING cannot happen.
  DWORD sent = 0;
  if (WSASendMsg(socket, &message, 0, &sent, nullptr, nullptr) != 0) {
    *error = last_socket_error();
    return -1;
  }
  return sent;
}

// Winsock has no sendmmsg: WSASendMsg for each datagram in turn.
size_t send_batch(Socket socket, const OutgoingDatagram* datagrams, size_t count, int64_t* bytes,
                  OsError* error) {
  return send_one_by_one(socket, datagrams, count, bytes, error);
}

bool would_block(OsError error) { return error == WSAEWOULDBLOCK; }

// WSAENOBUFS is the Windows form of Linux's ENOBUFS on a full device queue: wait for
// writability and try again, as for WSAEWOULDBLOCK.
bool should_queue(OsError error) { return would_block(error) || error == WSAENOBUFS; }

// Any-source membership by index takes the older calls, which every Windows has (and Wine,
// which lacks MCAST_JOIN_GROUP): IPv6 IPV6_ADD_MEMBERSHIP, IPv4 an ip_mreq whose interface is
// the index in 0.0.0.0/8 (Microsoft's IP_MREQ documentation). Source-specific by index needs
// MCAST_JOIN_SOURCE_GROUP.
OsError set_membership(Socket socket, int socket_family, const Membership& membership, bool join) {
  (void)socket_family;
  if (membership.has_interface_address) return set_membership_by_address(socket, membership, join);
  if (membership.has_source) return set_membership_by_index(socket, membership, join);
  if (membership.family == 4) {
    Membership by_index_address = membership;
    by_index_address.has_interface_address = true;
    const uint32_t index = htonl(membership.interface_index);
    std::memcpy(by_index_address.interface_address, &index, 4);
    return set_membership_by_address(socket, by_index_address, join);
  }
  ipv6_mreq request{};
  std::memcpy(&request.ipv6mr_multiaddr, membership.group, 16);
  request.ipv6mr_interface = membership.interface_index;
  return setsockopt(socket, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP,
                    reinterpret_cast<const char*>(&request), sizeof request) == 0
             ? 0
             : last_socket_error();
}

OsError set_multicast_interface(Socket socket, int family, uint32_t index,
                                const uint8_t* ipv4_address) {
  DWORD value = index;
  if (family == 4) {
    // IPv4 takes an address, or an index in network order: an address in 0.0.0.0/8 is read
    // as an index (Microsoft's IP_MULTICAST_IF documentation).
    if (ipv4_address != nullptr) std::memcpy(&value, ipv4_address, 4);
    else value = htonl(index);
  }
  return setsockopt(socket, family == 6 ? IPPROTO_IPV6 : IPPROTO_IP,
                    family == 6 ? IPV6_MULTICAST_IF : IP_MULTICAST_IF,
                    reinterpret_cast<const char*>(&value), sizeof value) == 0
             ? 0
             : last_socket_error();
}

OsError connect_socket(Socket socket, const Address* peer) {
  if (peer != nullptr) {
    return connect(socket, reinterpret_cast<const sockaddr*>(&peer->storage), peer->length) == 0
               ? 0
               : last_socket_error();
  }
  // An address of all zeros (of the socket's own family) dissolves the association: Windows
  // has no AF_UNSPEC form.
  Address own;
  const OsError error = local_address(socket, &own);
  if (error != 0) return error;
  Address zero{};
  zero.storage.ss_family = own.storage.ss_family;
  zero.length = own.storage.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  return connect(socket, reinterpret_cast<const sockaddr*>(&zero.storage), zero.length) == 0
             ? 0
             : last_socket_error();
}

// The interface's alias ("Ethernet 2", "Wi-Fi"), the friendly name that os.networkInterfaces()
// uses as its keys on Windows, in UTF-8. if_indextoname and ConvertInterfaceLuidToNameA give
// the internal name ("ethernet_32769") instead, which nothing else in Node shows; it is the
// fallback when an interface has no alias.
bool interface_name(uint32_t index, char* out, size_t capacity) {
  if (index == 0 || capacity == 0 || capacity > INT_MAX) return false;
  NET_LUID luid;
  if (ConvertInterfaceIndexToLuid(index, &luid) != NO_ERROR) return false;
  wchar_t alias[IF_MAX_STRING_SIZE + 1];
  if (ConvertInterfaceLuidToAlias(&luid, alias, IF_MAX_STRING_SIZE + 1) == NO_ERROR &&
      alias[0] != L'\0') {
    return WideCharToMultiByte(CP_UTF8, 0, alias, -1, out, static_cast<int>(capacity), nullptr,
                               nullptr) > 0;
  }
  return ConvertInterfaceLuidToNameA(&luid, out, capacity) == NO_ERROR && out[0] != '\0';
}

// The inverse of interface_name: the alias first (what interface_name reports), then the
// interface's own name, as if_nametoindex takes it.
uint32_t interface_index(const char* name) {
  NET_LUID luid;
  wchar_t alias[IF_MAX_STRING_SIZE + 1];
  const bool found =
      (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, -1, alias, IF_MAX_STRING_SIZE + 1) > 0 &&
       ConvertInterfaceAliasToLuid(alias, &luid) == NO_ERROR) ||
      ConvertInterfaceNameToLuidA(name, &luid) == NO_ERROR;
  NET_IFINDEX index = 0;
  if (!found || ConvertInterfaceLuidToIndex(&luid, &index) != NO_ERROR) return 0;
  return index;
}

const char* backend_name() { return "win32"; }

}  // namespace udp
