// Stands in for FreeBSD's <net/if_dl.h> (Linux has none) in the fuzz build of the BSD branch of
// native-posix/control.cc: struct sockaddr_dl as FreeBSD defines it (sys/net/if_dl.h), the
// payload of an IP_RECVIF control message. See freebsd-dialect.h.
#pragma once

#include <sys/types.h>

struct sockaddr_dl {
  u_char sdl_len;  // total length of sockaddr
  u_char sdl_family;  // AF_LINK
  u_short sdl_index;  // if != 0, system given index for interface
  u_char sdl_type;  // interface type
  u_char sdl_nlen;  // interface name length, no trailing 0 reqd.
  u_char sdl_alen;  // link level address length
  u_char sdl_slen;  // link layer selector length
  char sdl_data[46];  // minimum work area, can be larger; contains both if name and ll address
};
