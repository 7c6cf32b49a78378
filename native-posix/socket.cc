// Sockets on POSIX: Linux, macOS and the BSDs.
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <unistd.h>

#include <cstring>

#include "backend.h"
#include "backend_shared.h"

namespace udp {

namespace {

OsError set_int_option(int socket, int level, int name, int value) {
  return setsockopt(socket, level, name, &value, sizeof value) == 0 ? 0 : last_socket_error();
}

OsError enable_packet_info(int socket, const SocketOptions& options) {
  OsError error = 0;
  if (options.family == 6) {
    error = set_int_option(socket, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
    if (error != 0 || options.ipv6_only) return error;
    // Dual-stack: IPv4 datagrams also bring the IPv4 option, which is the only one that
    // carries a reply-from address (ipi_spec_dst) distinct from a broadcast destination.
    // Kernels that refuse IPv4 options on an IPv6 socket still report IPv4 datagrams through
    // IPV6_PKTINFO with v4-mapped addresses, so a refusal here is not an error.
  }
#if defined(__linux__)
  error = set_int_option(socket, IPPROTO_IP, IP_PKTINFO, 1);
#elif defined(__APPLE__)
  error = set_int_option(socket, IPPROTO_IP, IP_RECVPKTINFO, 1);
#else
  error = set_int_option(socket, IPPROTO_IP, IP_RECVDSTADDR, 1);
  if (error == 0) error = set_int_option(socket, IPPROTO_IP, IP_RECVIF, 1);
#endif
  return options.family == 6 ? 0 : error;
}

// libuv's choice, so that reuseAddr means what it means for dgram: on Linux SO_REUSEADDR
// lets several UDP sockets share a port; the BSDs and macOS need SO_REUSEPORT for that.
OsError enable_address_reuse(int socket) {
#if defined(SO_REUSEPORT) && !defined(__linux__)
  return set_int_option(socket, SOL_SOCKET, SO_REUSEPORT, 1);
#else
  return set_int_option(socket, SOL_SOCKET, SO_REUSEADDR, 1);
#endif
}

// reusePort: sockets bound to one port share its datagrams, balanced by the kernel. Linux's
// SO_REUSEPORT does that; on FreeBSD it is SO_REUSEPORT_LB (its SO_REUSEPORT, like macOS's and
// the other BSDs', only lets sockets share a port, and the last one bound gets every
// datagram), so those platforms say they cannot.
OsError enable_port_balancing(int socket) {
#if defined(__linux__) && defined(SO_REUSEPORT)
  return set_int_option(socket, SOL_SOCKET, SO_REUSEPORT, 1);
#elif defined(SO_REUSEPORT_LB)
  return set_int_option(socket, SOL_SOCKET, SO_REUSEPORT_LB, 1);
#else
  (void)socket;
  return EOPNOTSUPP;
#endif
}

void fill_iovecs(const OutgoingDatagram& datagram, iovec* vectors) {
  for (size_t i = 0; i < datagram.chunk_count; i++) {
    vectors[i].iov_base = const_cast<uint8_t*>(datagram.chunks[i].data);
    vectors[i].iov_len = datagram.chunks[i].length;
  }
}

msghdr message_for(const OutgoingDatagram& datagram, iovec* vectors) {
  msghdr message{};
  if (datagram.destination != nullptr) {  // none: the connected peer
    message.msg_name = const_cast<sockaddr_storage*>(&datagram.destination->storage);
    message.msg_namelen = datagram.destination->length;
  }
  message.msg_iov = vectors;
  message.msg_iovlen = datagram.chunk_count;
  // A non-NULL control pointer with length 0 is EINVAL on macOS and OpenBSD.
  if (datagram.control_length > 0) {
    message.msg_control = const_cast<uint8_t*>(datagram.control);
    message.msg_controllen = datagram.control_length;
  }
  return message;
}

void prepare_receive(ReceiveSlot& slot, iovec* vector, msghdr* message) {
  vector->iov_base = slot.data;
  vector->iov_len = slot.capacity;
  *message = msghdr{};
  message->msg_name = &slot.peer.storage;
  message->msg_namelen = sizeof slot.peer.storage;
  message->msg_iov = vector;
  message->msg_iovlen = 1;
  message->msg_control = slot.control;
  message->msg_controllen = kControlCapacity;
}

void finish_receive(ReceiveSlot& slot, const msghdr& message, size_t length) {
  slot.length = length;
  slot.truncated = (message.msg_flags & MSG_TRUNC) != 0;
  slot.peer.length = message.msg_namelen;
  decode_receive_control(slot.control, message.msg_controllen, &slot.info);
  slot.info.control_truncated = (message.msg_flags & MSG_CTRUNC) != 0;
}

// Linux does not answer EADDRNOTAVAIL for a pktinfo source that is not a local address: IPv4
// routing fails with ENETUNREACH, IPv6 with EINVAL. Both have other causes too, so only after
// one of them, a bind() of a throwaway socket to the source tells whether it was the cause.
// This keeps err.code the same as on Windows (WSAEADDRNOTAVAIL) and the BSDs.
OsError explain_send_error(OsError error, const SourceInfo* source) {
  if ((error != ENETUNREACH && error != EINVAL) || source == nullptr || !source->has_address) {
    return error;
  }
  sockaddr_storage storage{};
  socklen_t length;
  if (source->ipv4) {
    auto* address = reinterpret_cast<sockaddr_in*>(&storage);
    address->sin_family = AF_INET;
    std::memcpy(&address->sin_addr, source->address, 4);
    length = sizeof *address;
  } else {
    auto* address = reinterpret_cast<sockaddr_in6*>(&storage);
    address->sin6_family = AF_INET6;
    std::memcpy(&address->sin6_addr, source->address, 16);
    address->sin6_scope_id = source->interface_index;
    length = sizeof *address;
  }
  const int probe = socket(storage.ss_family, SOCK_DGRAM, 0);
  if (probe < 0) return error;
  const bool not_local =
      bind(probe, reinterpret_cast<sockaddr*>(&storage), length) != 0 && errno == EADDRNOTAVAIL;
  close(probe);
  return not_local ? EADDRNOTAVAIL : error;
}

}  // namespace

OsError last_socket_error() { return errno; }

OsError initialize_process() { return 0; }

OsError open_socket(const SocketOptions& options, Socket* out) {
  const int domain = options.family == 6 ? AF_INET6 : AF_INET;
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  int fd = socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return last_socket_error();
#else
  // macOS has no SOCK_NONBLOCK; another thread may fork between these calls, which is why
  // Linux gets the atomic form above.
  int fd = socket(domain, SOCK_DGRAM, 0);
  if (fd < 0) return last_socket_error();
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
    const OsError error = last_socket_error();
    close(fd);
    return error;
  }
#endif
  OsError error = 0;
  if (options.family == 6) {
    error = set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.ipv6_only ? 1 : 0);
  }
  if (error == 0) error = enable_packet_info(fd, options);
  if (error == 0 && options.reuse_address) error = enable_address_reuse(fd);
  if (error == 0 && options.reuse_port) error = enable_port_balancing(fd);
  if (error != 0) {
    close(fd);
    return error;
  }
  *out = fd;
  return 0;
}

OsError set_option(Socket socket, int family, Option option, int value) {
  int level, name;
  if (!socket_option_name(family, option, &level, &name)) return EINVAL;
#if !defined(__linux__)
  // The BSDs and macOS take the IPv4 multicast options as a single byte.
  if (family == 4 && (option == Option::kMulticastTtl || option == Option::kMulticastLoopback)) {
    const unsigned char byte = static_cast<unsigned char>(value);
    return setsockopt(socket, level, name, &byte, sizeof byte) == 0 ? 0 : last_socket_error();
  }
#endif
  return set_int_option(socket, level, name, value);
}

OsError get_option(Socket socket, int family, Option option, int* value) {
  int level, name;
  if (!socket_option_name(family, option, &level, &name)) return EINVAL;
  socklen_t length = sizeof *value;
  *value = 0;
  return getsockopt(socket, level, name, value, &length) == 0 ? 0 : last_socket_error();
}

void close_socket(Socket socket) { close(socket); }

OsError set_membership(Socket socket, int socket_family, const Membership& membership, bool join) {
  (void)socket_family;
  if (membership.has_interface_address) return set_membership_by_address(socket, membership, join);
#if defined(MCAST_JOIN_GROUP)
  return set_membership_by_index(socket, membership, join);
#else
  // OpenBSD has no RFC 3678 calls: IPv4 names the interface by address only, IPv6 by index.
  if (membership.has_source) return EOPNOTSUPP;
  if (membership.family == 4) {
    if (membership.interface_index != 0) return EOPNOTSUPP;
    return set_membership_by_address(socket, membership, join);
  }
  ipv6_mreq request{};
  std::memcpy(&request.ipv6mr_multiaddr, membership.group, 16);
  request.ipv6mr_interface = membership.interface_index;
  return setsockopt(socket, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &request,
                    sizeof request) == 0
             ? 0
             : last_socket_error();
#endif
}

OsError set_multicast_interface(Socket socket, int family, uint32_t index,
                                const uint8_t* ipv4_address) {
  if (family == 6) {
    const unsigned value = index;
    return setsockopt(socket, IPPROTO_IPV6, IPV6_MULTICAST_IF, &value, sizeof value) == 0
               ? 0
               : last_socket_error();
  }
  if (ipv4_address != nullptr || index == 0) {
    in_addr address{};
    if (ipv4_address != nullptr) std::memcpy(&address, ipv4_address, 4);
    return setsockopt(socket, IPPROTO_IP, IP_MULTICAST_IF, &address, sizeof address) == 0
               ? 0
               : last_socket_error();
  }
#if defined(__linux__) || defined(__FreeBSD__)
  // IPv4 by index: Linux and FreeBSD take an ip_mreqn.
  ip_mreqn request{};
  request.imr_ifindex = static_cast<int>(index);
  return setsockopt(socket, IPPROTO_IP, IP_MULTICAST_IF, &request, sizeof request) == 0
             ? 0
             : last_socket_error();
#elif defined(IP_MULTICAST_IFINDEX)
  const unsigned value = index;  // macOS
  return setsockopt(socket, IPPROTO_IP, IP_MULTICAST_IFINDEX, &value, sizeof value) == 0
             ? 0
             : last_socket_error();
#else
  return EOPNOTSUPP;  // the other BSDs name an IPv4 multicast interface by address only
#endif
}

OsError connect_socket(Socket socket, const Address* peer) {
  int result;
  if (peer != nullptr) {
    result = connect(socket, reinterpret_cast<const sockaddr*>(&peer->storage), peer->length);
  } else {
    // AF_UNSPEC dissolves the association. Linux and macOS may answer EAFNOSUPPORT once it is
    // done, which is not a failure.
    sockaddr_storage unspecified{};
    unspecified.ss_family = AF_UNSPEC;
    result = connect(socket, reinterpret_cast<const sockaddr*>(&unspecified), sizeof unspecified);
    if (result != 0 && errno == EAFNOSUPPORT) result = 0;
  }
  return result == 0 ? 0 : last_socket_error();
}

size_t receive_batch(Socket socket, ReceiveSlot* slots, size_t count, OsError* error) {
  *error = 0;
#if defined(__linux__)
  // recvmmsg: one system call for the whole batch.
  constexpr size_t kMaxBatch = 64;
  if (count > kMaxBatch) count = kMaxBatch;
  mmsghdr messages[kMaxBatch];
  iovec vectors[kMaxBatch];
  for (size_t i = 0; i < count; i++) {
    prepare_receive(slots[i], &vectors[i], &messages[i].msg_hdr);
    messages[i].msg_len = 0;
  }
  int received;
  do {
    received = recvmmsg(socket, messages, static_cast<unsigned>(count), MSG_DONTWAIT, nullptr);
  } while (received < 0 && errno == EINTR);
  if (received < 0) {
    *error = last_socket_error();
    return 0;
  }
  for (int i = 0; i < received; i++) {
    finish_receive(slots[i], messages[i].msg_hdr, messages[i].msg_len);
  }
  return static_cast<size_t>(received);
#else
  size_t received = 0;
  while (received < count) {
    iovec vector;
    msghdr message;
    prepare_receive(slots[received], &vector, &message);
    ssize_t length;
    do {
      length = recvmsg(socket, &message, 0);
    } while (length < 0 && errno == EINTR);
    if (length < 0) {
      if (received == 0) *error = last_socket_error();
      break;
    }
    finish_receive(slots[received], message, static_cast<size_t>(length));
    received++;
  }
  return received;
#endif
}

int64_t send_datagram(Socket socket, const OutgoingDatagram& datagram, OsError* error) {
  iovec vectors[kMaxGatherBuffers];
  fill_iovecs(datagram, vectors);
  msghdr message = message_for(datagram, vectors);
  ssize_t sent;
  do {
    sent = sendmsg(socket, &message, 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    *error = explain_send_error(last_socket_error(), datagram.source);
    return -1;
  }
  return sent;
}

size_t send_batch(Socket socket, const OutgoingDatagram* datagrams, size_t count, int64_t* bytes,
                  OsError* error) {
#if defined(__linux__)
  *error = 0;
  // sendmmsg: one system call for as many datagrams as the socket takes. It stops at the first
  // datagram that fails and reports only how many went before it, so that one is sent alone
  // to learn its error (send_datagram explains it); if it goes, sendmmsg takes the rest. A
  // loop, not recursion: where sendmmsg refuses everything (a seccomp filter, an emulator)
  // every datagram takes that path, and each level would cost a stack frame.
  //
  // The gather lists of one sendmmsg share a pool, filled until either array is full: a
  // datagram has at most kMaxGatherBuffers chunks, so one always fits in an empty pool, and
  // the frame stays small (8 KiB, not 64 x 64 iovecs) on a worker thread's stack.
  constexpr size_t kMaxBatch = 64;
  constexpr size_t kPoolVectors = 4 * kMaxGatherBuffers;
  mmsghdr messages[kMaxBatch];
  iovec pool[kPoolVectors];
  size_t done = 0;
  while (done < count) {
    size_t batched = 0;
    size_t used = 0;
    while (done + batched < count && batched < kMaxBatch) {
      const OutgoingDatagram& datagram = datagrams[done + batched];
      if (used + datagram.chunk_count > kPoolVectors) break;
      fill_iovecs(datagram, pool + used);
      messages[batched].msg_hdr = message_for(datagram, pool + used);
      messages[batched].msg_len = 0;
      used += datagram.chunk_count;
      batched++;
    }
    int sent;
    do {
      sent = sendmmsg(socket, messages, static_cast<unsigned>(batched), 0);
    } while (sent < 0 && errno == EINTR);
    for (int i = 0; i < sent; i++) bytes[done + i] = messages[i].msg_len;
    if (sent > 0) done += static_cast<size_t>(sent);
    if (sent == static_cast<int>(batched)) continue;
    const int64_t single = send_datagram(socket, datagrams[done], error);
    if (single < 0) return done;
    bytes[done] = single;
    done++;
  }
  return done;
#else
  return send_one_by_one(socket, datagrams, count, bytes, error);
#endif
}

bool would_block(OsError error) { return error == EAGAIN || error == EWOULDBLOCK; }

// Linux can answer ENOBUFS (or EAGAIN) on a socket that poll calls writable when the device
// queue is full; waiting for writability and trying again is the cure for both.
bool should_queue(OsError error) { return would_block(error) || error == ENOBUFS; }

ErrorDescription describe_error(OsError error) {
  // On POSIX, libuv's error numbers are the negated errno values, and its names cover them all.
  ErrorDescription description;
  // errno values are positive. Anything else (0, or a negative number such as INT32_MIN, whose
  // negation overflows) is no error a system call gave: UNKNOWN, as on Windows.
  if (error <= 0) {
    std::strcpy(description.code, "UNKNOWN");
    description.uv_errno = UV_UNKNOWN;
    return description;
  }
  description.uv_errno = -error;
  // Socket errors libuv has no name for. EOPNOTSUPP is here too: Linux gives it the number of
  // ENOTSUP, which libuv names ENOTSUP; for a socket the error is EOPNOTSUPP, as on Windows.
  static const struct {
    int number;
    const char* name;
  } kNamesLibuvLacks[] = {
      {EINPROGRESS, "EINPROGRESS"}, {ENETRESET, "ENETRESET"}, {EOPNOTSUPP, "EOPNOTSUPP"}};
  for (const auto& entry : kNamesLibuvLacks) {
    if (entry.number == error) {
      std::strcpy(description.code, entry.name);
      return description;
    }
  }
  uv_err_name_r(description.uv_errno, description.code, sizeof description.code);
  if (std::strncmp(description.code, "Unknown", 7) == 0) {
    std::strcpy(description.code, "UNKNOWN");
  }
  return description;
}

bool interface_name(uint32_t index, char* out, size_t capacity) {
  char name[IF_NAMESIZE];
  if (index == 0 || if_indextoname(index, name) == nullptr) return false;
  if (std::strlen(name) >= capacity) return false;
  std::strcpy(out, name);
  return true;
}

uint32_t interface_index(const char* name) { return if_nametoindex(name); }

const char* backend_name() {
#if defined(__linux__)
  return "linux";
#elif defined(__APPLE__)
  return "darwin";
#elif defined(__FreeBSD__)
  return "freebsd";
#elif defined(__OpenBSD__)
  return "openbsd";
#elif defined(__NetBSD__)
  return "netbsd";
#else
  return "posix";
#endif
}

}  // namespace udp
