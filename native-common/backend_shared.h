// Logic both backends need over the same names: socket options by level and name, and the
// rules that turn a packet-info record into PacketInfo. Only standard socket constants here;
// each backend includes this after its platform.h (through backend.h).
#pragma once

#include "backend.h"

namespace udp {

// The level and name of option for a socket of family. False for an option with none.
bool socket_option_name(int family, Option option, int* level, int* name);

// From an IPv6 packet-info record (in6_pktinfo, IN6_PKTINFO): the destination, which is also
// the address to reply from unless it is multicast (then the stack picks the source). A
// v4-mapped address (a dual-stack socket receiving IPv4) is reported as plain IPv4 and decoded
// by set_ipv4_destination's rule: the same datagram gives the same answer from either record.
void set_ipv6_packet_info(const uint8_t address[16], uint32_t interface_index, PacketInfo* info);

// From a record that gives an IPv4 destination but no reply-from address (BSD IP_RECVDSTADDR,
// Windows IN_PKTINFO): for a unicast destination it is the address to reply from; for the
// limited broadcast and multicast the record says nothing of it, and local_family stays 0.
// (A subnet-directed broadcast looks like unicast here: telling it apart needs the
// interface's prefix.)
void set_ipv4_destination(const uint8_t address[4], PacketInfo* info);

// Joins or leaves with the protocol-independent calls of RFC 3678 (MCAST_JOIN_GROUP,
// MCAST_JOIN_SOURCE_GROUP and their LEAVE forms), which take the interface by index.
OsError set_membership_by_index(Socket socket, const Membership& membership, bool join);

// Joins or leaves an IPv4 group with the interface named by one of its addresses
// (IP_ADD_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP and their DROP forms): dgram's form.
OsError set_membership_by_address(Socket socket, const Membership& membership, bool join);

// send_batch for systems with no sendmmsg: send_datagram for each, stopping at a failure.
size_t send_one_by_one(Socket socket, const OutgoingDatagram* datagrams, size_t count,
                       int64_t* bytes, OsError* error);

}  // namespace udp
