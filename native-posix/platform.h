// POSIX socket headers for the backend contract (native-common/backend.h).
#pragma once

// macOS hides the RFC 3542 IPv6 packet-info API (IPV6_RECVPKTINFO, in6_pktinfo) unless this
// is defined before the first system header.
#ifndef __APPLE_USE_RFC_3542
#define __APPLE_USE_RFC_3542 1
#endif

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
