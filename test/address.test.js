// The formatting of the raw address bytes the addon reports, without sockets: RFC 5952 text,
// and a cache that must never return the text of another address that hashed alike.
const net = require('net');
const { AddressFormatter, formatIPv6 } = require('../dist/address');
const { assert } = require('./helpers');

function ipv4Words(addresses) {
  const words = new Int32Array(addresses.length);
  const bytes = new Uint8Array(words.buffer);
  addresses.forEach((address, i) => bytes.set(address.split('.').map(Number), i * 4));
  return words;
}

// The 16 bytes of an IPv6 literal without an embedded IPv4 part.
function ipv6Bytes(address) {
  const [head, tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return Uint8Array.from(groups.flatMap((group) => [parseInt(group, 16) >> 8, parseInt(group, 16) & 255]));
}

describe('address formatting (no sockets)', function () {
  it('formats every IPv4 address of a /16 right, though many share a cache entry', function () {
    const addresses = [];
    for (let i = 0; i < 65536; i++) addresses.push(`10.${i >> 8}.${i & 255}.${(i * 7) & 255}`);
    const words = ipv4Words(addresses);
    const formatter = new AddressFormatter(words);
    // Twice, in two orders: the second pass reads from the cache what the first put there.
    for (const order of [addresses.keys(), [...addresses.keys()].reverse()]) {
      for (const i of order) assert.strictEqual(formatter.format(4, i), addresses[i]);
    }
  });

  it('formats IPv6 addresses right, though many share a cache entry', function () {
    const addresses = [];
    for (let i = 0; i < 4096; i++) addresses.push(`2001:db8:${(i >> 4).toString(16)}::${(i & 15).toString(16)}:1`);
    addresses.push('::1', '::', 'fe80::1', '2001:db8::', '1:0:0:1:0:0:0:1');
    const words = new Int32Array(addresses.length * 4);
    const bytes = new Uint8Array(words.buffer);
    addresses.forEach((address, i) => bytes.set(ipv6Bytes(address), i * 16));
    const formatter = new AddressFormatter(words);
    const expected = addresses.map((address) => new net.SocketAddress({ address, family: 'ipv6' }).address);
    for (let pass = 0; pass < 2; pass++) {
      addresses.forEach((_, i) => assert.strictEqual(formatter.format(6, i * 4), expected[i]));
    }
  });

  it('writes RFC 5952 text: lower case, no leading zeros, the longest zero run shortened', function () {
    const cases = {
      '2001:0db8:0000:0000:0001:0000:0000:0001': '2001:db8::1:0:0:1',
      '2001:0db8:0000:0001:0001:0001:0001:0001': '2001:db8:0:1:1:1:1:1',
      '0000:0000:0000:0000:0000:0000:0000:0001': '::1',
      'FE80:0000:0000:0000:0000:0000:0000:0000': 'fe80::',
    };
    for (const [full, text] of Object.entries(cases)) {
      const bytes = Buffer.from(full.replace(/:/g, ''), 'hex');
      assert.strictEqual(formatIPv6(bytes, 0), text);
    }
  });
});
