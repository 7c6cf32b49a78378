// Writes the hand-made files of the fuzz corpus: FreeBSD (decode_freebsd/bsd-*) and Winsock
// (control_win32/wsa-*) control buffers, laid out by hand from the platforms' headers as the
// kernels deliver them, since this machine can capture only Linux's (capture-linux-corpus.sh);
// and the regression inputs of earlier findings (*/finding-*).
//   node fuzz/corpus/handwritten.js
const fs = require('fs');
const path = require('path');

const hex = (text) => Buffer.from(text.replace(/[\s|]/g, ''), 'hex');
const u16 = (n) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
const pad8 = (b) => Buffer.concat([b, Buffer.alloc((8 - (b.length % 8)) % 8)]);
const ipv4 = (text) => Buffer.from(text.split('.').map(Number));

// FreeBSD amd64: struct cmsghdr { socklen_t cmsg_len; int cmsg_level; int cmsg_type; } (12
// bytes), data at _ALIGN(12) = 16, each message padded to 8 (CMSG_SPACE).
function bsd(level, type, payload) {
  const header = Buffer.concat([u32(16 + payload.length), u32(level), u32(type), Buffer.alloc(4)]);
  return pad8(Buffer.concat([header, payload]));
}
// Winsock x64: WSACMSGHDR { SIZE_T cmsg_len; INT cmsg_level; INT cmsg_type; } (16 bytes), data at
// 16, each message padded to 8 (WSA_CMSG_SPACE).
function wsa(level, type, payload) {
  return pad8(Buffer.concat([u64(16 + payload.length), u32(level), u32(type), payload]));
}

const IPPROTO_IP = 0;
const IPPROTO_IPV6 = 41;
const BSD = { SOL_SOCKET: 0xffff, SCM_TIMESTAMP: 2, IP_RECVDSTADDR: 7, IP_RECVIF: 20, IP_RECVTTL: 65, IPV6_PKTINFO: 46 };
const WIN = { IP_PKTINFO: 19, IPV6_PKTINFO: 19 };

// struct sockaddr_dl as ip_savecontrol copies it for IP_RECVIF: the interface's own, whose
// sdl_len if_attach makes at least sizeof(struct sockaddr_dl) (54), rounded up to 8: 56. The
// name ("em0") and the Ethernet address follow in sdl_data.
function sockaddrDl(index, name, mac) {
  const data = Buffer.concat([Buffer.from(name), hex(mac)]);
  const head = Buffer.concat([Buffer.from([56, 18]), u16(index), Buffer.from([6, name.length, 6, 0])]);
  return Buffer.concat([head, data, Buffer.alloc(56 - head.length - data.length)]);
}
// ip_savecontrol's stand-in when the interface has no link address: sdl_len 8, index 0.
const dummyDl = Buffer.concat([Buffer.from([8, 18]), u16(0), Buffer.from([0, 0, 0, 0])]);
// in6_pktinfo / IN6_PKTINFO { in6_addr; unsigned index; }
const pktinfo6 = (address, index) => Buffer.concat([hex(address), u32(index)]);

const em0 = sockaddrDl(1, 'em0', '020000000001');
const em1 = sockaddrDl(2, 'em1', '020000000002');
const freebsd = {
  'bsd-ipv4-unicast': [bsd(IPPROTO_IP, BSD.IP_RECVDSTADDR, ipv4('192.0.2.1')), bsd(IPPROTO_IP, BSD.IP_RECVIF, em0)],
  'bsd-ipv4-broadcast': [bsd(IPPROTO_IP, BSD.IP_RECVDSTADDR, ipv4('255.255.255.255')), bsd(IPPROTO_IP, BSD.IP_RECVIF, em0)],
  'bsd-ipv4-subnet-broadcast': [bsd(IPPROTO_IP, BSD.IP_RECVDSTADDR, ipv4('192.0.2.255')), bsd(IPPROTO_IP, BSD.IP_RECVIF, em0)],
  'bsd-ipv4-multicast': [bsd(IPPROTO_IP, BSD.IP_RECVDSTADDR, ipv4('224.0.0.251')), bsd(IPPROTO_IP, BSD.IP_RECVIF, em1)],
  'bsd-ipv4-dummy-interface': [bsd(IPPROTO_IP, BSD.IP_RECVDSTADDR, ipv4('192.0.2.1')), bsd(IPPROTO_IP, BSD.IP_RECVIF, dummyDl)],
  // SO_TIMESTAMP and IP_RECVTTL on as well: ip_savecontrol puts the timestamp first.
  'bsd-ipv4-timestamp-ttl': [
    bsd(BSD.SOL_SOCKET, BSD.SCM_TIMESTAMP, Buffer.concat([u64(1795000000), u64(123456)])),
    bsd(IPPROTO_IP, BSD.IP_RECVDSTADDR, ipv4('192.0.2.1')),
    bsd(IPPROTO_IP, BSD.IP_RECVTTL, Buffer.from([64])),
    bsd(IPPROTO_IP, BSD.IP_RECVIF, em0),
  ],
  'bsd-ipv6-unicast': [bsd(IPPROTO_IPV6, BSD.IPV6_PKTINFO, pktinfo6('20010db8000000000000000000000001', 2))],
  'bsd-ipv6-multicast': [bsd(IPPROTO_IPV6, BSD.IPV6_PKTINFO, pktinfo6('ff0200000000000000000000000000fb', 2))],
  // A dual-stack socket: ip6_savecontrol_v4 reports an IPv4 datagram as IPV6_PKTINFO, v4-mapped.
  'bsd-dualstack-v4mapped': [bsd(IPPROTO_IPV6, BSD.IPV6_PKTINFO, pktinfo6('00000000000000000000ffffc0000201', 1))],
  'bsd-dualstack-v4mapped-broadcast': [bsd(IPPROTO_IPV6, BSD.IPV6_PKTINFO, pktinfo6('00000000000000000000ffffffffffff', 1))],
};

// IN_PKTINFO { IN_ADDR ipi_addr; ULONG ipi_ifindex; }
const pktinfo4 = (address, index) => Buffer.concat([ipv4(address), u32(index)]);
const win32 = {
  'wsa-ipv4-unicast': [wsa(IPPROTO_IP, WIN.IP_PKTINFO, pktinfo4('192.0.2.1', 3))],
  'wsa-ipv4-broadcast': [wsa(IPPROTO_IP, WIN.IP_PKTINFO, pktinfo4('255.255.255.255', 3))],
  'wsa-ipv4-subnet-broadcast': [wsa(IPPROTO_IP, WIN.IP_PKTINFO, pktinfo4('127.255.255.255', 1))],
  'wsa-ipv4-multicast': [wsa(IPPROTO_IP, WIN.IP_PKTINFO, pktinfo4('224.0.0.251', 3))],
  'wsa-ipv6-unicast': [wsa(IPPROTO_IPV6, WIN.IPV6_PKTINFO, pktinfo6('20010db8000000000000000000000001', 4))],
  'wsa-ipv6-multicast': [wsa(IPPROTO_IPV6, WIN.IPV6_PKTINFO, pktinfo6('ff0200000000000000000000000000fb', 4))],
  // A dual-stack socket with both options on gets both records (Wine), in either order.
  'wsa-dualstack-v6-then-v4': [
    wsa(IPPROTO_IPV6, WIN.IPV6_PKTINFO, pktinfo6('00000000000000000000ffffc0000201', 3)),
    wsa(IPPROTO_IP, WIN.IP_PKTINFO, pktinfo4('192.0.2.1', 3)),
  ],
  'wsa-dualstack-v4-then-v6': [
    wsa(IPPROTO_IP, WIN.IP_PKTINFO, pktinfo4('192.0.2.1', 3)),
    wsa(IPPROTO_IPV6, WIN.IPV6_PKTINFO, pktinfo6('00000000000000000000ffffc0000201', 3)),
  ],
};

// Regression inputs: what the fuzzers found (fuzz/README.md), written out plainly. The targets
// run every corpus file before fuzzing, so each finding is checked again on every run.
// Linux x86-64: struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }, like Winsock's.
const linux = (level, type, payload) => wsa(level, type, payload);
const IPV6_PKTINFO_LINUX = 50;
// Two IPv6 records, the second multicast: the reply-from address of the first stayed.
const unicastThenMulticast = (message) => [
  message(IPPROTO_IPV6, pktinfo6('20010db8000000000000000000000001', 4)),
  message(IPPROTO_IPV6, pktinfo6('ff0200000000000000000000000000fb', 4)),
];
const regressions = {
  decode_linux: {
    'finding-ipv6-unicast-then-multicast': unicastThenMulticast((level, payload) => linux(level, IPV6_PKTINFO_LINUX, payload)),
  },
  decode_freebsd: {
    'finding-ipv6-unicast-then-multicast': unicastThenMulticast((level, payload) => bsd(level, BSD.IPV6_PKTINFO, payload)),
    // An IPv6 record, then IP_RECVDSTADDR: 12 bytes of the IPv6 addresses stayed behind the
    // IPv4 ones (and the whole reply-from address, for a broadcast).
    'finding-ipv6-then-recvdstaddr-broadcast': [
      bsd(IPPROTO_IPV6, BSD.IPV6_PKTINFO, pktinfo6('20010db8000000000000000000000001', 2)),
      bsd(IPPROTO_IP, BSD.IP_RECVDSTADDR, ipv4('255.255.255.255')),
    ],
  },
  control_win32: {
    // control_win.exe takes the mode from the name: finding-<decode|model>-...
    'finding-decode-ipv6-unicast-then-multicast': unicastThenMulticast((level, payload) => wsa(level, WIN.IPV6_PKTINFO, payload)),
  },
};

for (const [directory, files] of [['decode_freebsd', freebsd], ['control_win32', win32],
  ...Object.entries(regressions)]) {
  fs.mkdirSync(path.join(__dirname, directory), { recursive: true });
  for (const [name, messages] of Object.entries(files)) {
    fs.writeFileSync(path.join(__dirname, directory, name), Buffer.concat(messages));
  }
}
