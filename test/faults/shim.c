// Fault injection for the send path: an LD_PRELOAD library that wraps sendmsg and sendmmsg
// and makes them fail as a plan says, so tests can reach the error paths the kernel takes
// only under load (ENOBUFS from a full device queue, EAGAIN, EINTR, a seccomp filter that
// refuses sendmmsg) on plain loopback. Linux and glibc only.
//
// The plan, in SENDMSG_FAULT: rules separated by commas, at most one per function,
//   <function>:<ERRNO>:<when>
//   function  sendmsg | sendmmsg
//   ERRNO     a name from kErrnoNames below, or a number
//   when      always | first=N (the first N calls fail, then all pass) |
//             every=N (calls N, 2N, 3N, ... fail)
// e.g. SENDMSG_FAULT="sendmmsg:EPERM:always,sendmsg:EAGAIN:first=50". A failing call returns
// -1 with errno set and does not reach the kernel; sendmmsg fails as a whole, as the kernel's
// does when its first datagram fails. A plan that does not parse ends the process (exit 2):
// a typo must not quietly turn into a run without faults.
//
// Only calls on AF_INET/AF_INET6 datagram sockets are counted and failed. Everything else
// (the AF_UNIX sockets of Node's IPC and stdio) passes through untouched.
//
// Counts, in SENDMSG_FAULT_COUNTS (a file path): the file is mapped shared and the counters
// are updated in place as calls happen, so a parent process can read them at any moment,
// and they survive a crash or SIGKILL of this process. Layout (little-endian, test/faults/
// shim-counts.js reads it): 8 bytes of magic "SMFAULT1", then the uint64 counters of
// struct Counts, in order. Descendant processes that inherit the environment map the same
// file and add to the same counters.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct Counts {
  char magic[8];
  uint64_t sendmsg_calls;      // on UDP sockets, failed or not
  uint64_t sendmsg_faults;     // of those, failed by the plan
  uint64_t sendmmsg_calls;     // on UDP sockets, failed or not
  uint64_t sendmmsg_faults;    // of those, failed by the plan
  uint64_t sendmmsg_datagrams; // datagrams the real sendmmsg reported sent
  uint64_t loop_waits;         // epoll_wait + epoll_pwait calls: event loop turns, all threads
  uint64_t other_sends;        // sendmsg/sendmmsg on other sockets, passed through uncounted above
};

enum When { kNever, kAlways, kFirst, kEvery };

struct Rule {
  enum When when;
  int error;
  uint64_t n;
};

static struct Counts fallback_counts;
static struct Counts* counts = &fallback_counts;
static struct Rule sendmsg_rule, sendmmsg_rule;

static ssize_t (*real_sendmsg)(int, const struct msghdr*, int);
static int (*real_sendmmsg)(int, struct mmsghdr*, unsigned int, int);
static int (*real_epoll_wait)(int, struct epoll_event*, int, int);
static int (*real_epoll_pwait)(int, struct epoll_event*, int, int, const sigset_t*);

static const struct {
  const char* name;
  int number;
} kErrnoNames[] = {
    {"EAGAIN", EAGAIN},           {"EWOULDBLOCK", EWOULDBLOCK}, {"ENOBUFS", ENOBUFS},
    {"EINTR", EINTR},             {"EPERM", EPERM},             {"ENOMEM", ENOMEM},
    {"EMSGSIZE", EMSGSIZE},       {"EINVAL", EINVAL},           {"ENETUNREACH", ENETUNREACH},
    {"EHOSTUNREACH", EHOSTUNREACH}, {"ECONNREFUSED", ECONNREFUSED}, {"EACCES", EACCES},
    {"ENOSYS", ENOSYS},
};

static void die(const char* why, const char* rule) {
  fprintf(stderr, "sendmsg fault shim: %s in SENDMSG_FAULT rule \"%s\"\n", why, rule);
  _exit(2);
}

static int parse_errno(const char* text, const char* rule) {
  for (size_t i = 0; i < sizeof kErrnoNames / sizeof kErrnoNames[0]; i++) {
    if (strcmp(text, kErrnoNames[i].name) == 0) return kErrnoNames[i].number;
  }
  char* end;
  const long number = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || number <= 0 || number > 4095) die("unknown errno", rule);
  return (int)number;
}

static uint64_t parse_count(const char* text, const char* rule) {
  char* end;
  const unsigned long long n = strtoull(text, &end, 10);
  if (*text == '\0' || *end != '\0' || n == 0) die("a count must be a positive integer", rule);
  return n;
}

static void parse_rule(char* rule) {
  char copy[256];
  snprintf(copy, sizeof copy, "%s", rule);
  char* function = strtok(rule, ":");
  char* error = strtok(NULL, ":");
  char* when = strtok(NULL, ":");
  if (function == NULL || error == NULL || when == NULL || strtok(NULL, ":") != NULL) {
    die("expected function:ERRNO:when", copy);
  }
  struct Rule* target;
  if (strcmp(function, "sendmsg") == 0) {
    target = &sendmsg_rule;
  } else if (strcmp(function, "sendmmsg") == 0) {
    target = &sendmmsg_rule;
  } else {
    die("the function must be sendmsg or sendmmsg", copy);
    return;
  }
  if (target->when != kNever) die("a second rule for the same function", copy);
  target->error = parse_errno(error, copy);
  if (strcmp(when, "always") == 0) {
    target->when = kAlways;
  } else if (strncmp(when, "first=", 6) == 0) {
    target->when = kFirst;
    target->n = parse_count(when + 6, copy);
  } else if (strncmp(when, "every=", 6) == 0) {
    target->when = kEvery;
    target->n = parse_count(when + 6, copy);
  } else {
    die("when must be always, first=N or every=N", copy);
  }
}

static void parse_plan(const char* plan) {
  char buffer[1024];
  if (strlen(plan) >= sizeof buffer) die("the plan is too long", plan);
  strcpy(buffer, plan);
  char* save;
  for (char* rule = strtok_r(buffer, ",", &save); rule != NULL; rule = strtok_r(NULL, ",", &save)) {
    parse_rule(rule);
  }
}

static void map_counts(const char* path) {
  const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot open the counts file (SENDMSG_FAULT_COUNTS)", path);
  struct stat status;
  // Never shrink: a descendant process maps a file its parent already counts in.
  if (fstat(fd, &status) != 0 ||
      ((size_t)status.st_size < sizeof(struct Counts) && ftruncate(fd, sizeof(struct Counts)) != 0)) {
    die("cannot size the counts file", path);
  }
  void* mapped = mmap(NULL, sizeof(struct Counts), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED) die("cannot map the counts file", path);
  counts = mapped;
  memcpy(counts->magic, "SMFAULT1", 8);
}

__attribute__((constructor)) static void start(void) {
  real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
  real_sendmmsg = dlsym(RTLD_NEXT, "sendmmsg");
  real_epoll_wait = dlsym(RTLD_NEXT, "epoll_wait");
  real_epoll_pwait = dlsym(RTLD_NEXT, "epoll_pwait");
  const char* plan = getenv("SENDMSG_FAULT");
  if (plan != NULL) parse_plan(plan);
  const char* path = getenv("SENDMSG_FAULT_COUNTS");
  if (path != NULL && *path != '\0') map_counts(path);
}

static uint64_t add(uint64_t* counter, uint64_t n) {
  return __atomic_add_fetch(counter, n, __ATOMIC_SEQ_CST);
}

// The socket's type and family, asked of the kernel on every call: descriptors are reused,
// so nothing about one may be remembered. errno is left as it was.
static int is_inet_datagram(int fd) {
  const int saved = errno;
  int type = 0;
  socklen_t length = sizeof type;
  int result = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_DGRAM;
  if (result) {
    struct sockaddr_storage address;
    length = sizeof address;
    result = getsockname(fd, (struct sockaddr*)&address, &length) == 0 &&
             (address.ss_family == AF_INET || address.ss_family == AF_INET6);
  }
  errno = saved;
  return result;
}

// Whether call number `call` (from 1) of a function fails under its rule.
static int should_fail(const struct Rule* rule, uint64_t call) {
  switch (rule->when) {
    case kAlways: return 1;
    case kFirst: return call <= rule->n;
    case kEvery: return call % rule->n == 0;
    default: return 0;
  }
}

ssize_t sendmsg(int fd, const struct msghdr* message, int flags) {
  if (!is_inet_datagram(fd)) {
    add(&counts->other_sends, 1);
    return real_sendmsg(fd, message, flags);
  }
  if (should_fail(&sendmsg_rule, add(&counts->sendmsg_calls, 1))) {
    add(&counts->sendmsg_faults, 1);
    errno = sendmsg_rule.error;
    return -1;
  }
  return real_sendmsg(fd, message, flags);
}

int sendmmsg(int fd, struct mmsghdr* messages, unsigned int count, int flags) {
  if (!is_inet_datagram(fd)) {
    add(&counts->other_sends, 1);
    return real_sendmmsg(fd, messages, count, flags);
  }
  if (should_fail(&sendmmsg_rule, add(&counts->sendmmsg_calls, 1))) {
    add(&counts->sendmmsg_faults, 1);
    errno = sendmmsg_rule.error;
    return -1;
  }
  const int sent = real_sendmmsg(fd, messages, count, flags);
  if (sent > 0) add(&counts->sendmmsg_datagrams, (uint64_t)sent);
  return sent;
}

// libuv waits for its sockets here once per loop turn: the count tells an idle process from
// one that spins, without measuring time.
int epoll_wait(int epfd, struct epoll_event* events, int max, int timeout) {
  add(&counts->loop_waits, 1);
  return real_epoll_wait(epfd, events, max, timeout);
}

int epoll_pwait(int epfd, struct epoll_event* events, int max, int timeout, const sigset_t* mask) {
  add(&counts->loop_waits, 1);
  return real_epoll_pwait(epfd, events, max, timeout, mask);
}
