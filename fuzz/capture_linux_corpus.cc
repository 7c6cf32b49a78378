// Captures the control data Linux's recvmsg really returns, as seeds for the decode_linux fuzz
// target: one file per case in the directory given, holding exactly msg_controllen bytes.
// Run inside a private network namespace with loopback and a veth pair fuzz0/fuzz1
// (fuzz/capture-linux-corpus.sh makes it),
// with every receive option the backend turns on (native-posix/socket.cc), plus the TTL, hop
// limit and timestamp messages other programs on a host may also ask for.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

const char* directory = ".";

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "capture: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void on(int fd, int level, int name, int value = 1) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) die("setsockopt");
}

struct Receiver {
  int fd;
  int port;
};

// A socket like the backend's: family, the packet-info options for its families, bound to the
// wildcard address on an ephemeral port.
Receiver receiver(int family, bool v6only, bool extras) {
  const int fd = socket(family, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  sockaddr_storage address{};
  socklen_t length;
  if (family == AF_INET) {
    on(fd, IPPROTO_IP, IP_PKTINFO);
    if (extras) on(fd, IPPROTO_IP, IP_RECVTTL);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    v4->sin_family = AF_INET;
    length = sizeof *v4;
  } else {
    on(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? 1 : 0);
    on(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO);
    if (!v6only) on(fd, IPPROTO_IP, IP_PKTINFO);
    if (extras) on(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    v6->sin6_family = AF_INET6;
    length = sizeof *v6;
  }
  if (extras) on(fd, SOL_SOCKET, SO_TIMESTAMP);
  // A case whose datagram never arrives fails instead of waiting forever.
  timeval timeout{2, 0};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) die("SO_RCVTIMEO");
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) die("bind");
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) die("getsockname");
  const int port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                                           : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  return {fd, port};
}

void send_to(int family, const char* text, int port, bool multicast) {
  const int fd = socket(family, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  sockaddr_storage address{};
  socklen_t length;
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, text, &v4->sin_addr) != 1) die(text);
    length = sizeof *v4;
    on(fd, SOL_SOCKET, SO_BROADCAST);
    if (multicast) {
      in_addr lo{};
      lo.s_addr = htonl(INADDR_LOOPBACK);
      if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo) != 0) die("IP_MULTICAST_IF");
    }
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) != 1) die(text);
    length = sizeof *v6;
    // IPv6 multicast does not loop back through lo: it leaves by fuzz0 of the veth pair.
    if (multicast) on(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(if_nametoindex("fuzz0")));
  }
  if (sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&address), length) != 1) die(text);
  close(fd);
}

void save(const char* name, const Receiver& r) {
  alignas(8) unsigned char control[256];  // kControlCapacity, as the addon passes
  // The kernel does not write the padding after each message: it keeps what the buffer held,
  // which here is a fixed pattern rather than whatever the stack had.
  std::memset(control, 0xaa, sizeof control);
  char data[64];
  iovec iov{data, sizeof data};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  if (recvmsg(r.fd, &message, 0) < 0) die(name);
  if (message.msg_flags & MSG_CTRUNC) {
    std::fprintf(stderr, "capture: %s: control data truncated\n", name);
    std::exit(1);
  }
  const std::string path = std::string(directory) + "/" + name;
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr || std::fwrite(control, 1, message.msg_controllen, file) != message.msg_controllen)
    die(path.c_str());
  std::fclose(file);
  std::printf("capture: %s (%zu bytes)\n", path.c_str(), static_cast<size_t>(message.msg_controllen));
  std::fflush(stdout);
  close(r.fd);
}

// One receiver, one datagram to it, its control data saved. A multicast destination is joined
// first: IPv4 on lo, IPv6 on fuzz1 (where fuzz0's datagrams arrive).
struct Case {
  const char* name;
  int socket_family;
  bool v6only;
  bool extras;  // TTL / hop limit and timestamp messages too
  int send_family;
  const char* to;
};

void capture(const Case& c) {
  const Receiver r = receiver(c.socket_family, c.v6only, c.extras);
  bool multicast = false;
  if (c.send_family == AF_INET) {
    ip_mreqn group{};
    if (inet_pton(AF_INET, c.to, &group.imr_multiaddr) != 1) die(c.to);
    multicast = (ntohl(group.imr_multiaddr.s_addr) >> 28) == 0xe;
    group.imr_ifindex = static_cast<int>(if_nametoindex("lo"));
    if (multicast && setsockopt(r.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &group, sizeof group) != 0)
      die("IP_ADD_MEMBERSHIP");
  } else {
    ipv6_mreq group{};
    if (inet_pton(AF_INET6, c.to, &group.ipv6mr_multiaddr) != 1) die(c.to);
    multicast = group.ipv6mr_multiaddr.s6_addr[0] == 0xff;
    group.ipv6mr_interface = if_nametoindex("fuzz1");
    if (multicast && setsockopt(r.fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &group, sizeof group) != 0)
      die("IPV6_JOIN_GROUP");
  }
  send_to(c.send_family, c.to, r.port, multicast);
  save(c.name, r);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) directory = argv[1];
  const Case cases[] = {
      {"linux-ipv4-unicast", AF_INET, false, false, AF_INET, "127.0.0.1"},
      {"linux-ipv4-unicast-ttl-timestamp", AF_INET, false, true, AF_INET, "127.0.0.2"},
      {"linux-ipv4-broadcast", AF_INET, false, false, AF_INET, "127.255.255.255"},
      {"linux-ipv4-limited-broadcast", AF_INET, false, false, AF_INET, "255.255.255.255"},
      {"linux-ipv4-multicast", AF_INET, false, false, AF_INET, "239.255.0.1"},
      {"linux-ipv6-unicast", AF_INET6, true, false, AF_INET6, "::1"},
      {"linux-ipv6-unicast-hoplimit-timestamp", AF_INET6, true, true, AF_INET6, "fd00::2"},
      {"linux-ipv6-multicast", AF_INET6, true, false, AF_INET6, "ff02::fb"},
      {"linux-dualstack-v4mapped", AF_INET6, false, false, AF_INET, "127.0.0.1"},
      {"linux-dualstack-v4mapped-broadcast", AF_INET6, false, false, AF_INET, "127.255.255.255"},
      {"linux-dualstack-ipv6", AF_INET6, false, false, AF_INET6, "::1"},
  };
  for (const Case& c : cases) capture(c);
  return 0;
}
