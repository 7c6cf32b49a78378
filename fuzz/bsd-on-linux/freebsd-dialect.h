// Force-included (-include) by scripts/fuzz.sh, with -DSENDMSG_FUZZ_BSD_DIALECT, into every file
// of the FreeBSD-dialect fuzz targets: it makes the BSD branch of native-posix/control.cc compile
// on Linux and walk control messages laid out as on FreeBSD amd64, not as on Linux. Without the
// layout part, the "BSD" fuzzer would exercise glibc's CMSG_NXTHDR, which refuses a cmsg_len
// shorter than a header; FreeBSD's does not (a cmsg_len of 0 returns the same header again), and
// the decoder's own bound checks are what stop that there.
//
// Everything here is FreeBSD's, read from its headers (sys/sys/socket.h, netinet/in.h,
// netinet6/in6.h, amd64 machine/_align.h); nothing of a real build changes.
#pragma once

#ifndef SENDMSG_FUZZ_BSD_DIALECT
#error "freebsd-dialect.h goes with -DSENDMSG_FUZZ_BSD_DIALECT (see scripts/fuzz.sh)"
#endif

// Linux's own definitions first, so that they are not read again after the renaming below.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

// struct cmsghdr as FreeBSD has it: socklen_t cmsg_len, 12 bytes. Renamed, because glibc's
// struct cmsghdr (size_t cmsg_len, 16 bytes) already exists under that name.
#define cmsghdr sendmsg_freebsd_cmsghdr
struct cmsghdr {
  socklen_t cmsg_len;  // data byte count, including the header
  int cmsg_level;
  int cmsg_type;
};

// amd64: _ALIGNBYTES is sizeof(register_t) - 1.
#define SENDMSG_FREEBSD_ALIGN(p) \
  (((unsigned long)(p) + (sizeof(long) - 1)) & ~(unsigned long)(sizeof(long) - 1))

#undef CMSG_DATA
#undef CMSG_NXTHDR
#undef CMSG_FIRSTHDR
#undef CMSG_SPACE
#undef CMSG_LEN
#undef CMSG_ALIGN
#define CMSG_DATA(cmsg) ((unsigned char *)(cmsg) + SENDMSG_FREEBSD_ALIGN(sizeof(struct cmsghdr)))
// Unlike glibc's, this does not look at whether cmsg_len is at least a header.
#define CMSG_NXTHDR(mhdr, cmsg)                                                          \
  ((char *)(cmsg) == (char *)0 ? CMSG_FIRSTHDR(mhdr)                                      \
   : ((char *)(cmsg) + SENDMSG_FREEBSD_ALIGN(((struct cmsghdr *)(cmsg))->cmsg_len) +      \
          SENDMSG_FREEBSD_ALIGN(sizeof(struct cmsghdr)) >                                 \
      (char *)(mhdr)->msg_control + (mhdr)->msg_controllen)                               \
       ? (struct cmsghdr *)0                                                              \
       : (struct cmsghdr *)(void *)((char *)(cmsg) +                                      \
                                    SENDMSG_FREEBSD_ALIGN(((struct cmsghdr *)(cmsg))->cmsg_len)))
#define CMSG_FIRSTHDR(mhdr)                                                                \
  ((mhdr)->msg_controllen >= sizeof(struct cmsghdr) ? (struct cmsghdr *)(mhdr)->msg_control \
                                                    : (struct cmsghdr *)0)
#define CMSG_SPACE(l) (SENDMSG_FREEBSD_ALIGN(sizeof(struct cmsghdr)) + SENDMSG_FREEBSD_ALIGN(l))
#define CMSG_LEN(l) (SENDMSG_FREEBSD_ALIGN(sizeof(struct cmsghdr)) + (l))

// FreeBSD's option numbers where the BSD branch uses them. FreeBSD has no IP_PKTINFO: leaving
// Linux's in place would let a branch that wrongly used it compile here.
#undef IP_PKTINFO
#undef IPV6_PKTINFO
#define IP_RECVDSTADDR 7  // bool; receive IP dst addr w/dgram
#define IP_SENDSRCADDR IP_RECVDSTADDR  // cmsg_type to set src addr
#define IP_RECVIF 20  // bool; receive reception if w/dgram
#define IPV6_PKTINFO 46  // in6_pktinfo; send if, src addr
