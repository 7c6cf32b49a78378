// Winsock headers for the backend contract (native-common/backend.h).
//
// uv.h (through uv/win.h) has already brought winsock2.h, mswsock.h and ws2tcpip.h, and set
// _WIN32_WINNT to Vista or later, which WSASendMsg, WSAMSG and the iphlpapi name functions
// need. They are included again here so this header also stands on its own.
#pragma once

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
// The Windows SDK declares SIO_UDP_CONNRESET and SIO_UDP_NETRESET here, mingw-w64 in mswsock.h.
#include <mstcpip.h>

// SIO_UDP_NETRESET turns off WSAENETRESET ("TTL expired in transit" ICMP reports) on a UDP
// socket, as SIO_UDP_CONNRESET does for port unreachable. The Windows SDK's mstcpip.h has it;
// mingw-w64's headers (as of 10.0) do not. The value is the SDK's: _WSAIOW(IOC_VENDOR, 15).
#ifndef SIO_UDP_NETRESET
#define SIO_UDP_NETRESET _WSAIOW(IOC_VENDOR, 15)
#endif
