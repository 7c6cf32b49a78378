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
//   ref replymmsg PORT                   reply server, batched: recvmmsg (32) until EAGAIN, then
//                                        one sendmmsg for the batch; the machine's limit
//   ref reply    PORT                    reply server, plain: one recvmsg and one sendmsg a query,
//                                        as most DNS and DHCP servers are written
// Each prints datagrams per second. send, sendmmsg and recv also print the CPU time each datagram
// cost this process, in nanoseconds: user, then system (see report).
// The reply servers bind 0.0.0.0:PORT and answer every query from the address it arrived on
// (IP_PKTINFO), as the addon's reply() does. They print "ready" on stderr once bound and run until
// SIGTERM, then print answers per CPU-second and the CPU time per answer; SIGUSR2 restarts that
// count, so that bench/run.js can leave the warm-up out.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/prctl.h>
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

static int udp_socket_on(in_addr_t host, int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int on = 1;
  setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
  address.sin_addr.s_addr = htonl(host);
  if (port && bind(fd, (struct sockaddr*)&address, sizeof address) != 0) {
    perror("bind");
    exit(1);
  }
  return fd;
}

static int udp_socket(int port, int rcvbuf) { return udp_socket_on(INADDR_LOOPBACK, port, rcvbuf); }

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

static size_t pktinfo(char* control, struct in_addr source) {
  struct cmsghdr* header = (struct cmsghdr*)control;
  memset(control, 0, CMSG_SPACE(sizeof(struct in_pktinfo)));
  header->cmsg_level = IPPROTO_IP;
  header->cmsg_type = IP_PKTINFO;
  header->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
  // ipi_ifindex 0: only the source address is chosen; the routing table picks the interface.
  struct in_pktinfo info = {.ipi_spec_dst = source};
  memcpy(CMSG_DATA(header), &info, sizeof info);
  return CMSG_SPACE(sizeof(struct in_pktinfo));
}

static int send_bench(int port, int size, long count, const char* source_text, int batch) {
  int fd = udp_socket(0, 0);
  struct sockaddr_in to = loopback(port);
  struct in_addr source;
  inet_pton(AF_INET, source_text, &source);
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

// Set by the signal handler, read by the server loop. No SA_RESTART: a signal ends the wait in
// poll at once rather than after the next query.
static volatile sig_atomic_t stopping, restart_count;

static void on_signal(int signal) {
  if (signal == SIGUSR2) restart_count = 1;
  else stopping = 1;
}

// Where the query arrived (ipi_spec_dst of its IP_PKTINFO), as the reply's IP_PKTINFO, so that
// the answer leaves from that address; none (the kernel picks) if the query carried none.
static size_t reply_source(struct msghdr* query, char* control) {
  for (struct cmsghdr* header = CMSG_FIRSTHDR(query); header; header = CMSG_NXTHDR(query, header)) {
    if (header->cmsg_level == IPPROTO_IP && header->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo info;
      memcpy(&info, CMSG_DATA(header), sizeof info);
      return pktinfo(control, info.ipi_spec_dst);
    }
  }
  return 0;
}

// Sends the n answers, again and again for what the kernel did not take (a full send buffer),
// so that every query is answered once. One that fails for good is dropped, as a server would.
// Returns how many went out.
static int send_answers(int fd, struct mmsghdr* answers, int n, int batched) {
  int done = 0, sent = 0;
  while (done < n) {
    int k = batched ? sendmmsg(fd, answers + done, n - done, 0)
                    : (sendmsg(fd, &answers[done].msg_hdr, 0) >= 0 ? 1 : -1);
    if (k > 0) {
      done += k;
      sent += k;
    } else if (errno != EINTR && errno != EAGAIN && errno != ENOBUFS) {
      perror("send");
      done++;
    }
  }
  return sent;
}

// ref reply / ref replymmsg: one thread answers each query with its own bytes, from the address
// it arrived on. Batched takes up to 32 queries a call (recvmmsg) and answers them with one
// sendmmsg; plain takes one with recvmsg and answers it with sendmsg. Both wait in poll only
// when the queue is empty.
static int reply_server(int port, int batched) {
  // Never outlive bench/run.js, even if it dies before it can kill this process.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  struct sigaction action = {.sa_handler = on_signal};
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGUSR2, &action, NULL);
  int fd = udp_socket_on(INADDR_ANY, port, 0);
  static char buffers[BATCH][2048];
  static char controls[BATCH][128];  // the query's IP_PKTINFO
  static char sources[BATCH][64];    // the answer's
  struct sockaddr_in peers[BATCH];
  struct mmsghdr messages[BATCH];
  struct iovec vectors[BATCH];
  struct pollfd poller = {.fd = fd, .events = POLLIN};
  const int per_call = batched ? BATCH : 1;
  long answered = 0;
  struct cpu_time cpu_start = cpu_time();
  fprintf(stderr, "ready\n");
  while (!stopping) {
    if (restart_count) {
      restart_count = 0;
      answered = 0;
      cpu_start = cpu_time();
    }
    for (int i = 0; i < per_call; i++) {
      vectors[i] = (struct iovec){buffers[i], sizeof buffers[i]};
      messages[i].msg_hdr = (struct msghdr){.msg_name = &peers[i], .msg_namelen = sizeof peers[i],
                                            .msg_iov = &vectors[i], .msg_iovlen = 1,
                                            .msg_control = controls[i], .msg_controllen = sizeof controls[i]};
    }
    int n;
    if (batched) {
      n = recvmmsg(fd, messages, BATCH, MSG_DONTWAIT, NULL);
    } else {
      ssize_t length = recvmsg(fd, &messages[0].msg_hdr, MSG_DONTWAIT);
      n = length >= 0 ? 1 : -1;
      if (n > 0) messages[0].msg_len = length;
    }
    if (n < 0) {
      // The timeout covers a signal that lands between the check of stopping and the wait.
      if (errno == EAGAIN || errno == EWOULDBLOCK) poll(&poller, 1, 100);
      else if (errno != EINTR) {
        perror("recv");
        return 1;
      }
      continue;
    }
    // Each query becomes its answer in place: the same bytes, back to the sender.
    for (int i = 0; i < n; i++) {
      struct msghdr* header = &messages[i].msg_hdr;
      vectors[i].iov_len = messages[i].msg_len;
      size_t length = reply_source(header, sources[i]);
      header->msg_control = length ? sources[i] : NULL;
      header->msg_controllen = length;
    }
    answered += send_answers(fd, messages, n, batched);
  }
  struct cpu_time cpu = cpu_time();
  double seconds = cpu.user + cpu.system - cpu_start.user - cpu_start.system;
  report(seconds > 0 ? answered / seconds : 0, cpu_start, answered);
  close(fd);
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
  if (!strcmp(mode, "reply") || !strcmp(mode, "replymmsg")) return reply_server(port, !strcmp(mode, "replymmsg"));
  fprintf(stderr, "unknown mode %s\n", mode);
  return 2;
}
