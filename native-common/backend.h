// The backend contract: everything the Node-API glue needs from the operating system.
//
// Each function here is defined once in native-posix/ (Linux, macOS, the BSDs) and once in
// native-win/ (Winsock). The glue in native-common/ calls only these, so it never needs to
// know which OS it runs on. platform.h comes from the backend's own folder (binding.gyp puts
// exactly one of them on the include path) and brings the socket headers, the same way
// libuv's uv.h pulls in uv/unix.h or uv/win.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include <uv.h>

#include "platform.h"

namespace udp {

// A socket as libuv's uv_poll_init_socket takes it: int on POSIX, SOCKET on Windows.
using Socket = uv_os_sock_t;

// A raw OS error number: errno on POSIX, a Winsock code (WSAE*) on Windows. 0 = success.
using OsError = int;

// The most buffers one datagram may be gathered from. POSIX guarantees IOV_MAX >= 16 and
// every platform we build for allows far more; 64 is plenty for a datagram.
constexpr size_t kMaxGatherBuffers = 64;

// Room for every control message we ask for on receive (pktinfo for both families, plus
// the BSD destination address and interface), or write on send (one pktinfo).
constexpr size_t kControlCapacity = 256;

// An IPv4 or IPv6 socket address. length is the exact size of the sockaddr it holds:
// some kernels (FreeBSD 15) reject sizeof(sockaddr_storage) as a name length.
struct Address {
  sockaddr_storage storage;
  socklen_t length;
};

// What the control messages of one received datagram said. Addresses are raw network-order
// bytes: 4 of them when the matching family is 4, 16 when it is 6, none when it is 0.
struct PacketInfo {
  int local_family = 0;  // 4, 6, or 0 when the platform did not say
  uint8_t local_address[16] = {};  // the address to reply from (Linux ipi_spec_dst)
  int destination_family = 0;
  uint8_t destination_address[16] = {};  // the IP header's destination (may be broadcast)
  uint32_t interface_index = 0;  // 0 when the platform did not say
  bool control_truncated = false;  // MSG_CTRUNC: the kernel cut the control data
};

// The control message that chooses where a datagram leaves from.
struct SourceInfo {
  // true: an IPv4 packet (the destination is IPv4 or v4-mapped), 4 address bytes are used;
  // false: a native IPv6 packet, 16 bytes.
  bool ipv4 = true;
  uint8_t address[16] = {};
  bool has_address = false;  // false: leave the source to the kernel, set only the interface
  uint32_t interface_index = 0;  // 0: leave the interface to the kernel
};

// One buffer of a gather list.
struct Chunk {
  const uint8_t* data;
  size_t length;
};

struct OutgoingDatagram {
  const Chunk* chunks;
  size_t chunk_count;  // at most kMaxGatherBuffers
  const Address* destination;  // nullptr: the connected peer
  const uint8_t* control;  // from encode_source_control; nullptr when control_length is 0
  size_t control_length;
  const SourceInfo* source;  // what control says, for explaining errors; nullptr when none
};

// One slot of a receive batch. The caller owns data (capacity bytes) and control
// (kControlCapacity bytes); the backend fills the rest.
struct ReceiveSlot {
  uint8_t* data;
  size_t capacity;
  uint8_t* control;
  size_t length;  // bytes stored in data
  bool truncated;  // the datagram was longer than capacity; the rest is lost
  Address peer;
  PacketInfo info;
};

struct SocketOptions {
  int family;  // 4 or 6
  bool ipv6_only;  // only for family 6
  bool reuse_address;
  bool reuse_port;  // share one port's load among sockets (Linux SO_REUSEPORT, FreeBSD _LB)
};

// A multicast membership: the group, an optional source (source-specific), and the interface:
// by index, or (IPv4, dgram's form) by one of its addresses, or neither (the kernel chooses).
struct Membership {
  int family = 0;  // the group's: 4 or 6
  uint8_t group[16] = {};
  bool has_source = false;
  uint8_t source[16] = {};
  uint32_t interface_index = 0;
  bool has_interface_address = false;  // IPv4 only
  uint8_t interface_address[4] = {};
};

enum class Option {
  kBroadcast,
  kTtl,  // unicast hop limit for the socket's family
  kMulticastTtl,
  kMulticastLoopback,
  kReceiveBufferSize,
  kSendBufferSize,
};

// A normalized error: the same failure gives the same code on every OS.
struct ErrorDescription {
  char code[48];  // "EMSGSIZE"; for an error no table knows, "UNKNOWN" or the OS's own name
  int uv_errno;  // Node's negative errno for code (libuv's UV_E* value on this platform)
};

// Once per process, before any socket: Winsock start-up and extension pointers.
OsError initialize_process();

// A non-blocking UDP socket with every receive option (packet info for its families)
// already on, so nothing that arrives after bind lacks its control data.
OsError open_socket(const SocketOptions& options, Socket* out);
// The error of the socket call that just failed: errno, or WSAGetLastError().
OsError last_socket_error();
// bind() and getsockname(), the same Berkeley calls everywhere (backend_shared.cc).
OsError bind_socket(Socket socket, const Address& address);
OsError local_address(Socket socket, Address* out);
OsError peer_address(Socket socket, Address* out);  // getpeername(): the connected peer
OsError set_option(Socket socket, int family, Option option, int value);
OsError get_option(Socket socket, int family, Option option, int* value);
void close_socket(Socket socket);

// Joins (join) or leaves a multicast group on a socket of socket_family.
OsError set_membership(Socket socket, int socket_family, const Membership& membership, bool join);
// The interface multicast datagrams of family leave by when a send does not choose one: by
// index, or for IPv4 by one of its addresses (ipv4_address, 4 bytes, or nullptr). Index 0 and
// no address: the kernel's choice.
OsError set_multicast_interface(Socket socket, int family, uint32_t index,
                                const uint8_t* ipv4_address);
// connect(): only datagrams from peer arrive, and a send without a destination goes to peer.
// peer == nullptr dissolves the association.
OsError connect_socket(Socket socket, const Address* peer);
// The socket's pending error (SO_ERROR), cleared by reading it: an ICMP report that a
// connected socket keeps for its next call.
OsError take_socket_error(Socket socket);

// Receives up to count datagrams without blocking. Returns how many were received; when that
// is 0, *error says why (would_block(*error) when the socket is merely empty). Errors that
// only report an earlier send's ICMP (Windows WSAECONNRESET) are skipped here.
size_t receive_batch(Socket socket, ReceiveSlot* slots, size_t count, OsError* error);

// Sends one datagram without blocking. Returns the bytes sent, or -1 with *error set.
int64_t send_datagram(Socket socket, const OutgoingDatagram& datagram, OsError* error);

// Sends datagrams in order without blocking, as many as the socket takes (one sendmmsg on
// Linux). Returns how many were sent, bytes[i] holding each one's size; when fewer than count,
// *error says why the next one was not (should_queue(*error): the socket is full for now).
size_t send_batch(Socket socket, const OutgoingDatagram* datagrams, size_t count, int64_t* bytes,
                  OsError* error);

// The socket's buffers are full for now: queue the datagram and wait for writability.
bool should_queue(OsError error);
bool would_block(OsError error);

ErrorDescription describe_error(OsError error);

// Writes the control message for source into control. Returns the bytes written, or 0 if
// capacity is too small. Pure: no socket involved, so tests and fuzzers can call it.
size_t encode_source_control(const SourceInfo& source, uint8_t* control, size_t capacity);

// Reads the control messages of a received datagram. Pure, like encode_source_control.
// Never reads past length, whatever the headers inside claim.
void decode_receive_control(const uint8_t* control, size_t length, PacketInfo* out);

// Writes the interface's name (NUL-terminated) into out; false when there is none.
bool interface_name(uint32_t index, char* out, size_t capacity);
// The index of the interface named name (as interface_name writes it), or 0 when there is none.
uint32_t interface_index(const char* name);

// "linux", "darwin", "freebsd", "win32", ...: which backend and OS this build is for.
const char* backend_name();

}  // namespace udp
