// Control messages and errors, without sockets: the exact bytes the backend hands to the OS
// (the only way to check source selection under Wine, which ignores them on the wire), the
// decoder on well-formed and hostile input, and the error table.
const os = require('os');
const { binding } = require('../dist/native');
const { sourceControlBytes } = require('../dist/send-record');
const { assert, platform } = require('./helpers');

const hex = (text) => Buffer.from(text.replace(/[\s|]/g, ''), 'hex');

// Written out by hand from the platforms' headers, not computed by the code under test.
const SEND_CONTROL = {
  // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }, 16 bytes on x64;
  // IP_PKTINFO 8: struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; };
  // IPV6_PKTINFO 50: struct in6_pktinfo { in6_addr ipi6_addr; unsigned ipi6_ifindex; };
  // CMSG_SPACE rounds up to 8.
  linux: {
    ipv4: hex('1c00000000000000 | 00000000 | 08000000 | 00000000 | c0000201 | 00000000 | 00000000'),
    ipv4WithInterface: hex('1c00000000000000 | 00000000 | 08000000 | 07000000 | c0000201 | 00000000 | 00000000'),
    ipv6: hex('2400000000000000 | 29000000 | 32000000 | 20010db8000000000000000000000001 | 02000000 | 00000000'),
    interfaceOnly: hex('2400000000000000 | 29000000 | 32000000 | 00000000000000000000000000000000 | 05000000 | 00000000'),
  },
  // WSACMSGHDR { SIZE_T cmsg_len; INT cmsg_level; INT cmsg_type; }, 16 bytes on x64;
  // IP_PKTINFO 19: IN_PKTINFO { IN_ADDR ipi_addr; ULONG ipi_ifindex; } (ipi_addr is the source);
  // IPV6_PKTINFO 19: IN6_PKTINFO { IN6_ADDR ipi6_addr; ULONG ipi6_ifindex; };
  // WSA_CMSG_LEN(n) = 16 + n; WSA_CMSG_SPACE(n) = 16 + n rounded up to 8.
  win32: {
    ipv4: hex('1800000000000000 | 00000000 | 13000000 | c0000201 | 00000000'),
    ipv4WithInterface: hex('1800000000000000 | 00000000 | 13000000 | c0000201 | 07000000'),
    ipv6: hex('2400000000000000 | 29000000 | 13000000 | 20010db8000000000000000000000001 | 02000000 | 00000000'),
    interfaceOnly: hex('2400000000000000 | 29000000 | 13000000 | 00000000000000000000000000000000 | 05000000 | 00000000'),
  },
};

// A received control buffer for each platform: IPv4 pktinfo of a broadcast (ifindex 3,
// destination 127.255.255.255, and on Linux the reply-from address 127.0.0.1), and IPv6 pktinfo
// of a v4-mapped address (a dual-stack socket receiving IPv4).
const RECEIVED_CONTROL = {
  linux: {
    broadcast: hex('1c00000000000000 | 00000000 | 08000000 | 03000000 | 7f000001 | 7fffffff | 00000000'),
    broadcastInfo: { localAddress: '127.0.0.1', destinationAddress: '127.255.255.255', interfaceIndex: 3 },
    mapped: hex('2400000000000000 | 29000000 | 32000000 | 00000000000000000000ffff7f000009 | 04000000 | 00000000'),
    mappedInfo: { localAddress: '127.0.0.9', destinationAddress: '127.0.0.9', interfaceIndex: 4 },
    mappedLimitedBroadcast: hex('2400000000000000 | 29000000 | 32000000 | 00000000000000000000ffffffffffff | 04000000 | 00000000'),
    mappedMulticast: hex('2400000000000000 | 29000000 | 32000000 | 00000000000000000000ffffe00000fb | 04000000 | 00000000'),
  },
  win32: {
    // The control bytes alone cannot tell a subnet broadcast, so the decoder reports only what
    // they say; receive_batch adds the reply-from address from the host's address table.
    broadcast: hex('1800000000000000 | 00000000 | 13000000 | 7fffffff | 03000000'),
    broadcastInfo: { localAddress: '127.255.255.255', destinationAddress: '127.255.255.255', interfaceIndex: 3 },
    mapped: hex('2400000000000000 | 29000000 | 13000000 | 00000000000000000000ffff7f000009 | 04000000 | 00000000'),
    mappedInfo: { localAddress: '127.0.0.9', destinationAddress: '127.0.0.9', interfaceIndex: 4 },
    mappedLimitedBroadcast: hex('2400000000000000 | 29000000 | 13000000 | 00000000000000000000ffffffffffff | 04000000 | 00000000'),
    mappedMulticast: hex('2400000000000000 | 29000000 | 13000000 | 00000000000000000000ffffe00000fb | 04000000 | 00000000'),
  },
};

// [Winsock number, code, errno] for every row of platform-notes section 3, plus two that fall
// through to libuv's own table.
const WINSOCK_ERRORS = [
  [10013, 'EACCES', -4092], [10054, 'ECONNRESET', -4077], [10014, 'EFAULT', -4074],
  [10036, 'EINPROGRESS', -112], [10004, 'EINTR', -4072], [10022, 'EINVAL', -4071],
  [10040, 'EMSGSIZE', -4065], [10050, 'ENETDOWN', -4063], [10052, 'ENETRESET', -117],
  [10051, 'ENETUNREACH', -4062], [10065, 'EHOSTUNREACH', -4073], [10055, 'ENOBUFS', -4060],
  [10057, 'ENOTCONN', -4053], [10038, 'ENOTSOCK', -4050], [10045, 'EOPNOTSUPP', -130],
  [10058, 'EPIPE', -4047], [10060, 'ETIMEDOUT', -4039], [10035, 'EAGAIN', -4088],
  [10093, 'WSANOTINITIALISED', -10093], [997, 'WSA_IO_PENDING', -997], [995, 'ECANCELED', -4081],
  [10049, 'EADDRNOTAVAIL', -4090], [10047, 'EAFNOSUPPORT', -4089], [10039, 'EDESTADDRREQ', -4076],
  [10048, 'EADDRINUSE', -4091], [12345, 'UNKNOWN', -4094],
];

// The same failures on POSIX: errno numbers from os.constants, so the table holds on any OS.
const POSIX_ERRORS = ['EACCES', 'ECONNRESET', 'EFAULT', 'EINPROGRESS', 'EINTR', 'EINVAL',
  'EMSGSIZE', 'ENETDOWN', 'ENETRESET', 'ENETUNREACH', 'EHOSTUNREACH', 'ENOBUFS', 'ENOTCONN',
  'ENOTSOCK', 'EOPNOTSUPP', 'EPIPE', 'ETIMEDOUT', 'EAGAIN', 'ECANCELED', 'EADDRNOTAVAIL',
  'EAFNOSUPPORT', 'EDESTADDRREQ', 'EADDRINUSE'];

function forBackend(context, table) {
  const expected = table[binding.backend];
  if (!expected) platform.skip(context, `no expected bytes written for the ${binding.backend} backend`, { allowedInCI: true });
  return expected;
}

describe('control messages and errors (no sockets)', function () {
  it('encodes the source for an IPv4, a v4-mapped and an IPv6 destination, byte for byte', function () {
    const expected = forBackend(this, SEND_CONTROL);
    assert.deepStrictEqual(sourceControlBytes(4, '198.51.100.7', '192.0.2.1', 0), expected.ipv4);
    assert.deepStrictEqual(sourceControlBytes(4, '198.51.100.7', '192.0.2.1', 7), expected.ipv4WithInterface);
    // On a dual-stack socket an IPv4 destination, plain or v4-mapped, takes the IPv4 message.
    assert.deepStrictEqual(sourceControlBytes(6, '198.51.100.7', '192.0.2.1', 0), expected.ipv4);
    assert.deepStrictEqual(sourceControlBytes(6, '::ffff:198.51.100.7', '::ffff:192.0.2.1', 0), expected.ipv4);
    assert.deepStrictEqual(sourceControlBytes(6, '2001:db8::99', '2001:db8::1', 2), expected.ipv6);
    assert.deepStrictEqual(sourceControlBytes(6, 'fe80::1', null, 5), expected.interfaceOnly);
    assert.strictEqual(sourceControlBytes(4, '198.51.100.7', null, 0).length, 0, 'nothing to say: no control data');
  });

  it('refuses a source of the wrong family for the packet', function () {
    assert.throws(() => sourceControlBytes(6, '2001:db8::99', '192.0.2.1', 0), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => sourceControlBytes(6, '198.51.100.7', '2001:db8::1', 0), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('decodes received packet info, v4-mapped as plain IPv4', function () {
    const expected = forBackend(this, RECEIVED_CONTROL);
    assert.deepStrictEqual(binding.decodeReceiveControl(expected.broadcast), expected.broadcastInfo);
    assert.deepStrictEqual(binding.decodeReceiveControl(expected.mapped), expected.mappedInfo);
    // Both, as a dual-stack socket gets them: the IPv4 message wins in either order.
    const both = Buffer.concat([expected.mapped, expected.broadcast]);
    assert.deepStrictEqual(binding.decodeReceiveControl(both), expected.broadcastInfo);
  });

  it('an IP_PKTINFO with no ipi_spec_dst (as macOS sends it) replies from a unicast destination, and from nothing for a broadcast', function () {
    if (binding.backend !== 'linux') return platform.skip(this, 'the bytes are Linux\'s in_pktinfo layout', { allowedInCI: true });
    const unicast = hex('1c00000000000000 | 00000000 | 08000000 | 03000000 | 00000000 | 7f000005 | 00000000');
    assert.deepStrictEqual(binding.decodeReceiveControl(unicast),
      { localAddress: '127.0.0.5', destinationAddress: '127.0.0.5', interfaceIndex: 3 });
    const broadcast = hex('1c00000000000000 | 00000000 | 08000000 | 03000000 | 00000000 | ffffffff | 00000000');
    assert.deepStrictEqual(binding.decodeReceiveControl(broadcast), { destinationAddress: '255.255.255.255', interfaceIndex: 3 });
    return undefined;
  });

  it('gives no reply-from address for a v4-mapped limited broadcast or multicast, as for plain IPv4', function () {
    // A dual-stack socket whose IPv4 record was refused or lost reports an IPv4 datagram only
    // through IPv6 packet info: the address is the IP header's destination, which for the
    // limited broadcast and multicast is no address of this host to reply from.
    const expected = forBackend(this, RECEIVED_CONTROL);
    assert.deepStrictEqual(binding.decodeReceiveControl(expected.mappedLimitedBroadcast),
      { destinationAddress: '255.255.255.255', interfaceIndex: 4 });
    assert.deepStrictEqual(binding.decodeReceiveControl(expected.mappedMulticast),
      { destinationAddress: '224.0.0.251', interfaceIndex: 4 });
  });

  it('never reads past a truncated, empty or hostile control buffer', function () {
    const expected = forBackend(this, RECEIVED_CONTROL);
    assert.deepStrictEqual(binding.decodeReceiveControl(Buffer.alloc(0)), {});
    for (let cut = 0; cut < expected.broadcast.readUInt32LE(0); cut++) { // up to cmsg_len
      const info = binding.decodeReceiveControl(expected.broadcast.subarray(0, cut));
      assert.strictEqual(info.destinationAddress, undefined, `cut at ${cut}: nothing from a partial message`);
    }
    const lying = Buffer.from(expected.broadcast);
    lying.writeUInt32LE(0xffffff, 0); // cmsg_len far past the end
    assert.deepStrictEqual(binding.decodeReceiveControl(lying), {});
    const zero = Buffer.from(expected.broadcast);
    zero.writeUInt32LE(0, 0); // cmsg_len 0 must not loop forever
    assert.deepStrictEqual(binding.decodeReceiveControl(zero), {});
    // A small fuzz: random bytes and random mutations of a valid buffer never crash.
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
    for (let i = 0; i < 20000; i++) {
      const buffer = i % 2 ? Buffer.from(expected.mapped) : Buffer.alloc(random() % 96);
      for (let j = 0; j < buffer.length; j++) if (i % 2 === 0 || random() < 16) buffer[j] = random();
      binding.decodeReceiveControl(buffer);
    }
  });

  it('maps every Winsock error of the table to its code and errno (win32)', function () {
    if (binding.backend !== 'win32') return platform.skip(this, 'the Winsock table is checked by the Windows build (npm run test:wine)', { allowedInCI: true });
    for (const [winsock, code, errno] of WINSOCK_ERRORS) {
      assert.deepStrictEqual(binding.describeError(winsock), { code, errno, osErrno: winsock }, `Winsock ${winsock}`);
    }
  });

  it('gives the same codes for the same failures on POSIX', function () {
    if (binding.backend === 'win32') return platform.skip(this, 'POSIX errno values', { allowedInCI: true });
    for (const code of POSIX_ERRORS) {
      const number = os.constants.errno[code];
      assert.deepStrictEqual(binding.describeError(number), { code, errno: -number, osErrno: number }, code);
    }
    assert.strictEqual(binding.describeError(99999).code, 'UNKNOWN');
  });

  it('describes the extremes of the 32-bit range as UNKNOWN (no overflow negating INT32_MIN)', function () {
    // No OS error is negative: libuv's UNKNOWN (-4094 on every OS), never a negated number.
    assert.deepStrictEqual(binding.describeError(-2147483648), { code: 'UNKNOWN', errno: -4094, osErrno: -2147483648 });
    assert.deepStrictEqual(binding.describeError(-1), { code: 'UNKNOWN', errno: -4094, osErrno: -1 });
    // The largest positive value is a number no table knows; its errno is whatever the platform
    // says for an unknown error (POSIX: the negated number, Windows: UNKNOWN's), always below 0.
    const largest = binding.describeError(2147483647);
    assert.strictEqual(largest.code, 'UNKNOWN');
    assert.strictEqual(largest.osErrno, 2147483647);
    assert.ok(Number.isInteger(largest.errno) && largest.errno < 0, `errno ${largest.errno}`);
  });
});
