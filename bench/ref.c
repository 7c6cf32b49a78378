// The C reference for bench/run.js: the same paths the addon takes, with nothing in between,
// so that "sendmsg / C" says how much of the machine's limit the addon reaches. Also the
// feeder and the load generator that drive the receive and reply benchmarks from another
// process. Loopback only.
//
//   ref send     PORT SIZE COUNT SRC     sendmsg + IP_PKTINFO, one datagram per call
//   ref sendmmsg PORT SIZE COUNT SRC     sendmmsg, 32 per call, each with IP_PKTINFO
//   ref recv     PORT SECONDS WARMUP [recvmsg]
//                                        drain with recvmmsg (32) or recvmsg, IP_PKTINFO on,
//                                        counting from WARMUP seconds after the first datagram
//   ref flood    PORT SIZE SECONDS       feed datagrams as fast as possible (sendmmsg)
//   ref sink     PORT SECONDS            drain and discard (the far end of the send benches)
//   ref load     PORT SECONDS WINDOW     queries with WINDOW outstanding; counts answers
// Each prints datagrams per second. send, sendmmsg and recv also print the CPU time each datagram
// cost this process, in nanoseconds: user, then system (see report_cpu).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

struct cpu_time {
  double user, system;  // seconds
};

static struct cpu_time cpu_time(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (struct cpu_time){usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6,
                           usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6};
}

// "RATE USER SYSTEM": the rate, then the CPU time per datagram since start, split into user
// and system time (ns), which shows where the time goes: in this program or in the kernel.
static void report(double rate, struct cpu_time start, long datagrams) {
  struct cpu_time end = cpu_time();
  if (datagrams <= 0) datagrams = 1;
  printf("%.0f %.0f %.0f\n", rate, (end.user - start.user) * 1e9 / datagrams,
         (end.system - start.system) * 1e9 / datagrams);
}

static int udp_socket(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int on = 1;
  setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (port && bind(fd, (struct sockaddr*)&address, sizeof address) != 0) {
    perror("bind");
    exit(1);
  }
  return fd;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

static size_t pktinfo(char* control, const char* source) {
  struct cmsghdr* header = (struct cmsghdr*)control;
  memset(control, 0, CMSG_SPACE(sizeof(struct in_pktinfo)));
  header->cmsg_level = IPPROTO_IP;
  header->cmsg_type = IP_PKTINFO;
  header->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
  struct in_pktinfo info = {0};
  inet_pton(AF_INET, source, &info.ipi_spec_dst);
  memcpy(CMSG_DATA(header), &info, sizeof info);
  return CMSG_SPACE(sizeof(struct in_pktinfo));
}

static int send_bench(int port, int size, long count, const char* source, int batch) {
  int fd = udp_socket(0, 0);
  struct sockaddr_in to = loopback(port);
  char payload[65536] = {0};
  struct mmsghdr messages[BATCH];
  struct iovec vectors[BATCH];
  char controls[BATCH][64];
  for (int i = 0; i < BATCH; i++) {
    vectors[i] = (struct iovec){payload, (size_t)size};
    messages[i].msg_hdr = (struct msghdr){.msg_name = &to, .msg_namelen = sizeof to,
                                          .msg_iov = &vectors[i], .msg_iovlen = 1,
                                          .msg_control = controls[i],
                                          .msg_controllen = pktinfo(controls[i], source)};
  }
  double start = now();
  struct cpu_time cpu_start = cpu_time();
  long sent = 0;
  while (sent < count) {
    int n = batch ? sendmmsg(fd, messages, BATCH, 0) : (sendmsg(fd, &messages[0].msg_hdr, 0) >= 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) continue;
      perror("send");
      return 1;
    }
    sent += n;
  }
  report(sent / (now() - start), cpu_start, sent);
  return 0;
}

static int recv_bench(int port, double seconds, double warmup, int single, int discard_only) {
  int fd = udp_socket(port, 4 << 20);
  static char buffers[BATCH][2048];
  static char controls[BATCH][128];
  struct sockaddr_in peers[BATCH];
  struct mmsghdr messages[BATCH];
  struct iovec vectors[BATCH];
  long received = 0;
  double warm_end = 0, start = 0, end = 0;
  struct cpu_time cpu_start = {0, 0};
  struct pollfd poller = {.fd = fd, .events = POLLIN};
  // Never outlive the benchmark, whether or not anything arrives.
  const double give_up = now() + seconds * 3 + 5;
  for (;;) {
    if (now() > give_up) break;
    for (int i = 0; i < BATCH; i++) {
      vectors[i] = (struct iovec){buffers[i], sizeof buffers[i]};
      messages[i].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = sizeof peers[i],
                                            .msg_iov = &vectors[i], .msg_iovlen = 1,
                                            .msg_control = controls[i], .msg_controllen = 128};
    }
    int n = single ? (recvmsg(fd, &messages[0].msg_hdr, MSG_DONTWAIT) >= 0 ? 1 : -1)
                   : recvmmsg(fd, messages, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (start > 0 && now() > end) break;
      // Drained: sleep while the queue fills, as bench/worker.js does, so that this measures
      // draining in full batches rather than waking up for each datagram.
      if (warm_end > 0 && !discard_only) usleep(20000);
      if (poll(&poller, 1, 200) == 0 && start > 0) break;
      continue;
    }
    if (start == 0) {
      // The clock starts once the warm-up that follows the first datagram is over, as in
      // bench/worker.js (where it covers JIT compilation).
      if (warm_end == 0) warm_end = now() + warmup;
      if (now() < warm_end) continue;
      start = now();
      cpu_start = cpu_time();
      end = start + seconds;
    }
    received += n;
    if ((received & 1023) < (unsigned)n && now() > end) break;
  }
  // Datagrams per CPU-second of this process: what one core can take in (see bench/run.js).
  if (discard_only || start == 0) {
    printf("0\n");
    return 0;
  }
  struct cpu_time cpu = cpu_time();
  report(received / (cpu.user + cpu.system - cpu_start.user - cpu_start.system), cpu_start, received);
  return 0;
}

static int flood(int port, int size, double seconds) {
  int fd = udp_socket(0, 0);
  struct sockaddr_in to = loopback(port);
  char payload[2048] = {0};
  struct mmsghdr messages[BATCH];
  struct iovec vector = {payload, (size_t)size};
  for (int i = 0; i < BATCH; i++) {
    messages[i].msg_hdr = (struct msghdr){.msg_name = &to, .msg_namelen = sizeof to,
                                          .msg_iov = &vector, .msg_iovlen = 1};
  }
  double end = now() + seconds;
  long sent = 0;
  while (now() < end) {
    int n = sendmmsg(fd, messages, BATCH, 0);
    if (n > 0) sent += n;
  }
  printf("%.0f\n", sent / seconds);
  return 0;
}

static int load(int port, double seconds, int window) {
  int fd = udp_socket(0, 4 << 20);
  struct sockaddr_in to = loopback(port);
  connect(fd, (struct sockaddr*)&to, sizeof to);
  char query[64] = "query";
  char answer[2048];
  for (int i = 0; i < window; i++) send(fd, query, sizeof query, 0);
  struct pollfd poller = {.fd = fd, .events = POLLIN};
  double start = now(), end = start + seconds;
  long answers = 0;
  while (now() < end) {
    if (poll(&poller, 1, 100) == 0) {
      // A lost query or answer would shrink the window for good: top it up.
      for (int i = 0; i < window; i++) send(fd, query, sizeof query, 0);
      continue;
    }
    while (recv(fd, answer, sizeof answer, MSG_DONTWAIT) > 0) {
      answers++;
      send(fd, query, sizeof query, 0);
    }
  }
  printf("%.0f\n", answers / (now() - start));
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: see the top of ref.c\n");
    return 2;
  }
  const char* mode = argv[1];
  int port = atoi(argv[2]);
  if (!strcmp(mode, "send") || !strcmp(mode, "sendmmsg")) {
    return send_bench(port, atoi(argv[3]), atol(argv[4]), argv[5], !strcmp(mode, "sendmmsg"));
  }
  if (!strcmp(mode, "recv")) return recv_bench(port, atof(argv[3]), argc > 4 ? atof(argv[4]) : 0, argc > 5, 0);
  if (!strcmp(mode, "sink")) return recv_bench(port, atof(argv[3]), 0, 0, 1);
  if (!strcmp(mode, "flood")) return flood(port, atoi(argv[3]), atof(argv[4]));
  if (!strcmp(mode, "load")) return load(port, atof(argv[3]), atoi(argv[4]));
  fprintf(stderr, "unknown mode %s\n", mode);
  return 2;
}
