// POSIX socket headers for the backend contract (native-common/backend.h).
#pragma once

// macOS hides the RFC 3542 IPv6 packet-info API (IPV6_RECVPKTINFO, in6_pktinfo) unless
// __APPLE_USE_RFC_3542 is defined before the first system header. Defining it here is too late:
// backend.h includes <uv.h>, which brings <netinet/in.h>, before this file. So binding.gyp
// (OS=="mac") defines it on the command line, and this only stops a build that does not.
#if defined(__APPLE__) && !defined(__APPLE_USE_RFC_3542)
#error "define __APPLE_USE_RFC_3542 for every source file (binding.gyp does, for OS==\"mac\")"
#endif

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
