// Winsock errors -> the normalized codes every backend reports (platform-notes section 3).
//
// uv_errno is what Node reports as err.errno on Windows: libuv's UV_E* value there, which is a
// fixed negative number (UV_EMSGSIZE is -4065), not a negated Winsock or CRT code.
#include <cstdio>
#include <cstring>

#include "backend.h"

namespace udp {

namespace {

// Codes libuv has no UV_E* constant for. Each is the negated value of the Microsoft C
// runtime's errno.h, which is also what os.constants.errno holds for that name on Windows;
// none of them collides with a libuv code (those are -3000 and below).
constexpr int kErrnoEINPROGRESS = -112;  // errno.h EINPROGRESS 112
constexpr int kErrnoENETRESET = -117;  // errno.h ENETRESET 117
constexpr int kErrnoEOPNOTSUPP = -130;  // errno.h EOPNOTSUPP 130 (ENOTSUP is 129: another code)
// Errors that mean a bug in this addon, not a network condition, keep their Winsock names and
// are reported as their negated Winsock numbers.
constexpr int kErrnoWSANOTINITIALISED = -WSANOTINITIALISED;  // -10093
constexpr int kErrnoWSA_IO_PENDING = -WSA_IO_PENDING;  // -997

struct ErrorRow {
  int winsock;
  const char* code;
  int uv_errno;
};

// Every error that the WSASendMsg and WSARecvMsg pages list, plus those sendto reports.
// Rows where libuv's uv_translate_sys_error says something else are marked.
constexpr ErrorRow kErrorTable[] = {
    {WSAEACCES, "EACCES", UV_EACCES},  // broadcast destination without SO_BROADCAST
    {WSAECONNRESET, "ECONNRESET", UV_ECONNRESET},  // earlier send's ICMP; skipped on receive
    {WSAEFAULT, "EFAULT", UV_EFAULT},
    {WSAEINPROGRESS, "EINPROGRESS", kErrnoEINPROGRESS},  // libuv: EBUSY
    {WSAEINTR, "EINTR", UV_EINTR},  // libuv: ECANCELED
    {WSAEINVAL, "EINVAL", UV_EINVAL},  // unbound socket, bad flags, rejected pktinfo
    {WSAEMSGSIZE, "EMSGSIZE", UV_EMSGSIZE},  // on send; on receive it is a truncated datagram
    {WSAENETDOWN, "ENETDOWN", UV_ENETDOWN},  // libuv: UNKNOWN
    {WSAENETRESET, "ENETRESET", kErrnoENETRESET},  // TTL expired; skipped on receive
    {WSAENETUNREACH, "ENETUNREACH", UV_ENETUNREACH},
    {WSAEHOSTUNREACH, "EHOSTUNREACH", UV_EHOSTUNREACH},
    {WSAENOBUFS, "ENOBUFS", UV_ENOBUFS},
    {WSAENOTCONN, "ENOTCONN", UV_ENOTCONN},
    {WSAENOTSOCK, "ENOTSOCK", UV_ENOTSOCK},
    {WSAEOPNOTSUPP, "EOPNOTSUPP", kErrnoEOPNOTSUPP},  // libuv: ENOTSUP
    // Sending after shutdown(SD_SEND). EPIPE, not ESHUTDOWN: it is what Linux and macOS
    // return for sendmsg after shutdown(SHUT_WR), and what libuv maps WSAESHUTDOWN to, so a
    // program sees one code on every OS and the same one as from Node's own sockets.
    {WSAESHUTDOWN, "EPIPE", UV_EPIPE},
    {WSAETIMEDOUT, "ETIMEDOUT", UV_ETIMEDOUT},
    {WSAEWOULDBLOCK, "EAGAIN", UV_EAGAIN},
    {WSANOTINITIALISED, "WSANOTINITIALISED", kErrnoWSANOTINITIALISED},  // libuv: UNKNOWN
    {WSA_IO_PENDING, "WSA_IO_PENDING", kErrnoWSA_IO_PENDING},  // only for overlapped calls
    {WSA_OPERATION_ABORTED, "ECANCELED", UV_ECANCELED},  // the socket was closed
    {WSAEADDRNOTAVAIL, "EADDRNOTAVAIL", UV_EADDRNOTAVAIL},  // pktinfo source not local
    {WSAEAFNOSUPPORT, "EAFNOSUPPORT", UV_EAFNOSUPPORT},
    {WSAEDESTADDRREQ, "EDESTADDRREQ", UV_EDESTADDRREQ},  // libuv: UNKNOWN
};

void set_code(ErrorDescription* description, const char* code) {
  std::snprintf(description->code, sizeof description->code, "%s", code);
}

}  // namespace

ErrorDescription describe_error(OsError error) {
  ErrorDescription description{};
  for (const ErrorRow& row : kErrorTable) {
    if (row.winsock == error) {
      set_code(&description, row.code);
      description.uv_errno = row.uv_errno;
      return description;
    }
  }
  // Winsock and Win32 errors are positive. libuv's translation passes 0 and negative numbers
  // through as if they were libuv codes already (so -4092 would read as EACCES), which no
  // system call gave: UNKNOWN, as on POSIX.
  if (error <= 0) {
    set_code(&description, "UNKNOWN");
    description.uv_errno = UV_UNKNOWN;
    return description;
  }
  // Anything else (bind's WSAEADDRINUSE, a Win32 error): libuv's own translation, which is
  // what Node would report for the same error.
  description.uv_errno = uv_translate_sys_error(error);
  uv_err_name_r(description.uv_errno, description.code, sizeof description.code);
  if (std::strncmp(description.code, "Unknown", 7) == 0) set_code(&description, "UNKNOWN");
  return description;
}

}  // namespace udp
