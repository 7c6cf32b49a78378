'use strict';
// The address strings the fuzzer may use, what the package must make of each, and the guard
// that keeps every datagram on this host.
//
// What a destination string means (README.md, issue 10):
// - an IP literal, judged whole by one strict parser: IPv4 dotted quads, IPv6 (a v4-mapped one
//   is the IPv4 host it names, on udp4 and udp6 sockets); a zone only on IPv6, numeric ('%2')
//   or a name looked up at each send (a name no interface has: ERR_INVALID_ARG_VALUE); a zone
//   on IPv4 or on a v4-mapped literal is ERR_INVALID_IP_ADDRESS;
// - '' (or a missing address): loopback, as dgram;
// - a string of host-name syntax that is not all digits and dots ('localhost', 'zz127.0.0.01'):
//   a host name, looked up with the socket's `lookup` option, asynchronously, in order with the
//   socket's other sends. The fuzzer always passes its own lookup (runtime.js), which answers
//   the names in HOST_NAMES and fails every other one with ENOTFOUND: no real DNS query;
// - anything else: ERR_INVALID_IP_ADDRESS, thrown at once.
//
// Each DESTINATIONS entry says:
// - `kind`: 'ip' (a literal the parser takes), 'invalid' (thrown at once), 'name' (looked up),
//   'loopback' (''), or 'either' (the rules above do not decide: not judged);
// - `to`: where a datagram must arrive if it is sent (null: nowhere to check, e.g. an
//   unspecified address or a link-local one no socket has);
// - `code`: for 'invalid', the error code the refusal must have;
// - `safe`: every way any parser could read it (strict, lenient like inet_aton, cut at a
//   length, ignoring a zone or trailing bytes) is a loopback address or nothing, and a name is
//   only ever resolved by the fuzzer's lookup. Outside a private network namespace only safe
//   strings are ever passed to a send; inside one (the fuzzer's normal mode) lo is the only
//   interface, so nothing can leave whatever happens.
// No entry is a valid non-loopback unicast address: those are never generated.
const { isIP } = require('net');

const BAD_IP = 'ERR_INVALID_IP_ADDRESS';
const NO_SUCH_ZONE = 'ERR_INVALID_ARG_VALUE';

// The names the fuzzer's lookup answers, by the family asked for; every other name fails with
// ENOTFOUND. Compared without case and without a trailing dot, as a resolver would.
const HOST_NAMES = {
  localhost: { 4: '127.0.0.1', 6: '::1' },
  'lo2.fuzz.test': { 4: '127.0.0.2', 6: 'fd00::2' },
};

const DESTINATIONS = [
  // IPv4 and the IPv6 spellings of IPv4 loopback.
  { text: '127.0.0.1', kind: 'ip', to: '127.0.0.1', safe: true },
  { text: '127.0.0.2', kind: 'ip', to: '127.0.0.2', safe: true },
  { text: '127.1.2.3', kind: 'ip', to: '127.1.2.3', safe: true },
  { text: '::ffff:127.0.0.1', kind: 'ip', to: '127.0.0.1', safe: true },
  { text: '::ffff:7f00:1', kind: 'ip', to: '127.0.0.1', safe: true },
  { text: '::FFFF:127.0.0.3', kind: 'ip', to: '127.0.0.3', safe: true },
  { text: '0:0:0:0:0:ffff:7f00:2', kind: 'ip', to: '127.0.0.2', safe: true },
  // 45 characters: a parser that copies the part before the zone into 40 bytes reads
  // 127.0.0.1 instead of 127.0.0.100. A v4-mapped literal takes no zone: refused whole.
  { text: '0000:0000:0000:0000:0000:ffff:127.0.0.100%lo', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '::ffff:127.0.0.1%lo', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '::ffff:127.0.0.1%1', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.0.0.1%lo', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.0.0.1%1', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.0.0.1%', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  // IPv6 loopback.
  { text: '::1', kind: 'ip', to: '::1', safe: true },
  { text: '0:0:0:0:0:0:0:1', kind: 'ip', to: '::1', safe: true },
  { text: '0000:0000:0000:0000:0000:0000:0000:0001', kind: 'ip', to: '::1', safe: true },
  { text: '::1%lo', kind: 'ip', to: '::1', safe: true },
  { text: '::1%1', kind: 'ip', to: '::1', safe: true },
  { text: '::1%', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '::1%99999999999', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  // A zone by a name no interface has.
  { text: `::1%${'z'.repeat(300)}`, kind: 'invalid', code: NO_SUCH_ZONE, to: null, safe: true },
  { text: '::1%nosuchif', kind: 'invalid', code: NO_SUCH_ZONE, to: null, safe: true },
  // Unspecified: Linux delivers these to the host itself.
  { text: '0.0.0.0', kind: 'ip', to: null, safe: true },
  { text: '::', kind: 'ip', to: null, safe: true },
  { text: '::ffff:0.0.0.0', kind: 'ip', to: null, safe: true },
  // Addresses of lo in the fuzzer's namespace (test/fixtures/netns-setup.sh adds fd00::1 and
  // fd00::2), and link-local ones scoped to lo: only inside the namespace.
  { text: 'fd00::1', kind: 'ip', to: 'fd00::1', safe: false },
  { text: 'fd00::2', kind: 'ip', to: 'fd00::2', safe: false },
  { text: 'fe80::1%lo', kind: 'ip', to: null, safe: false },
  { text: 'fe80::1%1', kind: 'ip', to: null, safe: false },
  { text: 'fe80::1', kind: 'ip', to: null, safe: false },
  // Multicast, on the lo of the fuzzer's namespace (scripts/fuzz-api.js turns its multicast
  // on): a datagram may arrive at every socket of the port, at most once at each.
  { text: '224.0.0.251', kind: 'ip', to: '224.0.0.251', safe: false, multicast: true },
  { text: '239.1.2.3', kind: 'ip', to: '239.1.2.3', safe: false, multicast: true },
  { text: 'ff02::fb%lo', kind: 'ip', to: 'ff02::fb', safe: false, multicast: true },
  { text: 'ff02::fb%1', kind: 'ip', to: 'ff02::fb', safe: false, multicast: true },
  { text: 'ff15::1234', kind: 'ip', to: 'ff15::1234', safe: false, multicast: true },
  // No address: loopback, as with dgram.
  { text: '', kind: 'loopback', to: null, safe: true },
  // Host names: looked up with the fuzzer's lookup only.
  { text: 'localhost', kind: 'name', to: null, safe: true },
  { text: 'LocalHost.', kind: 'name', to: null, safe: true },
  { text: 'lo2.fuzz.test', kind: 'name', to: null, safe: true },
  { text: 'nowhere.fuzz.test', kind: 'name', to: null, safe: true },
  { text: 'zz127.0.0.01', kind: 'name', to: null, safe: true },
  { text: '0x7f.0.0.1', kind: 'name', to: null, safe: true },
  { text: '1e3', kind: 'name', to: null, safe: true },
  { text: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, kind: 'name', to: null, safe: true },
  // Strings that must be refused. Safe ones read as loopback or nothing by any lenient parser.
  { text: ' ', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: ' 127.0.0.1', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.0.0.1 ', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '\t::1', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.1', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.0.0.1.', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '2130706433', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.0.0.01', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.0.0.256', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.0.0.-1', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: ':::1', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '::1::', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '[::1]', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.0.0.1:9', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '::ffff:127.0.0.1.5', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: 'local host', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '-localhost', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: 'localhost..', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '127.0.0.1\u0000junk', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '::1\u0000', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: '\uff11\uff12\uff17.0.0.1', kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: `127.0.0.1${' '.repeat(70)}`, kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: 'x'.repeat(5000), kind: 'invalid', code: BAD_IP, to: null, safe: true },
  { text: `::1%${'a'.repeat(100000)}`, kind: 'invalid', code: NO_SUCH_ZONE, to: null, safe: true },
  // Invalid, but a lenient parser could read a non-loopback address: namespace only.
  { text: '1.2.3', kind: 'invalid', code: BAD_IP, to: null, safe: false },
  { text: '256.0.0.1', kind: 'invalid', code: BAD_IP, to: null, safe: false },
  { text: '1.2.3.4.5', kind: 'invalid', code: BAD_IP, to: null, safe: false },
  { text: 'fe80::1%eth0', kind: 'invalid', code: NO_SUCH_ZONE, to: null, safe: false },
];

// Source addresses (localAddress), IP literals only. `local`: an address of lo in the fuzzer's
// namespace, so a datagram sent from it must arrive from it. `family`: the packet's family
// (a v4-mapped literal is IPv4); a source of the other family than the destination's is
// ERR_INVALID_ARG_VALUE. `code`: what an invalid one must be refused with.
const SOURCES = [
  { text: '127.0.0.1', ip: '127.0.0.1', local: true, family: 4 },
  { text: '127.0.0.2', ip: '127.0.0.2', local: true, family: 4 },
  { text: '::ffff:127.0.0.5', ip: '127.0.0.5', local: true, family: 4 },
  { text: '::1', ip: '::1', local: true, family: 6 },
  { text: 'fd00::2', ip: 'fd00::2', local: true, family: 6 },
  { text: '192.0.2.1', ip: '192.0.2.1', local: false, family: 4 },
  { text: '2001:db8::1', ip: '2001:db8::1', local: false, family: 6 },
  { text: 'fe80::1%lo', ip: 'fe80::1', local: false, family: 6 },
  { text: '0.0.0.0', ip: null, local: false, family: 4 },
  { text: '::', ip: null, local: false, family: 6 },
  { text: '127.0.0.1%lo', ip: null, local: false, code: BAD_IP },
  { text: '', ip: null, local: false, code: BAD_IP },
  { text: '1.2.3', ip: null, local: false, code: BAD_IP },
  { text: '::1%', ip: null, local: false, code: BAD_IP },
  { text: 'localhost', ip: null, local: false, code: BAD_IP },
  { text: '::1%nosuchif', ip: null, local: false, code: NO_SUCH_ZONE },
];

const BIND_ADDRESSES = [
  '127.0.0.1', '127.0.0.2', '0.0.0.0', '::', '::1', '::ffff:127.0.0.1', 'fd00::1', '192.0.2.1',
  'fe80::1%lo', '127.0.0.1%lo', '::1%lo', '', '1.2.3', ' ::', 'x'.repeat(300), 'localhost',
  'lo2.fuzz.test', 'nowhere.fuzz.test',
];

const byText = new Map(DESTINATIONS.map((entry) => [entry.text, entry]));
const sourceByText = new Map(SOURCES.map((entry) => [entry.text, entry]));

/**
 * Host-name syntax, written here from the rule rather than copied from src/: labels of
 * letters, digits, '-' and '_', none empty and none starting or ending with '-', an optional
 * trailing dot, at most 253 characters; a string of only digits and dots is no name (it is an
 * IP literal or nothing: '1.2.3' is refused, not resolved as 1.2.0.3).
 */
function isHostName(text) {
  if (typeof text !== 'string' || text.length === 0 || text.length > 253) return false;
  if (/^[0-9.]+$/.test(text)) return false;
  const labels = (text.endsWith('.') ? text.slice(0, -1) : text).split('.');
  return labels.every((label) => /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$/.test(label));
}

/** What the fuzzer's lookup answers for a name and family: an address, or null (ENOTFOUND). */
function lookupAnswer(name, family) {
  const key = String(name).toLowerCase().replace(/\.$/, '');
  const entry = Object.prototype.hasOwnProperty.call(HOST_NAMES, key) ? HOST_NAMES[key] : undefined;
  return entry ? entry[family] : null;
}

/** Whatever a parser might make of text, it is no IP literal: a mutant that is safe to send to. */
function parsesAsNothing(text) {
  const bare = text.split('%')[0];
  // A lenient IPv4 parser stops at the first byte that is not a digit, dot or x.
  const lenient = /^\s*[0-9.xX]+/.test(text);
  return isIP(text) === 0 && isIP(bare) === 0 && !lenient && !/^[0-9a-fA-F:.]+$/.test(bare);
}

/**
 * A mutant of text that no IP parser accepts: a letter where a digit or colon was, a prefix,
 * or junk in front. Some are host names ('g127.0.0.1'), which the fuzzer's lookup fails.
 * Mutants are used only inside the namespace (see destinationAllowed).
 */
function mutate(random, text) {
  const ways = [
    () => `g${text}`,
    () => `${text.slice(0, 1)}q${text.slice(1)}`,
    () => {
      const at = random.int(0, Math.max(0, text.length - 1));
      return `${text.slice(0, at)}\u00e9${text.slice(at + 1)}`;
    },
    () => `[${text}`,
    () => `-${text}`,
  ];
  const mutant = random.pick(ways)();
  return parsesAsNothing(mutant) ? mutant : `zz${text}`;
}

// A plain IPv4 literal outside the tables (a program may write one) means itself; all of
// 127.0.0.0/8 is an address of lo.
const plainLoopback = (value) => (isIP(value) === 4 && value.startsWith('127.') ? value : null);

/** The family of a literal the tables call valid: a v4-mapped IPv6 literal is IPv4. */
function familyOf(entry) {
  if (entry.to) return entry.to.includes(':') ? 6 : 4;
  return /^[\d.]+$|^::ffff:[\d.]+$/i.test(entry.text) ? 4 : 6;
}

/**
 * What a destination string is, for the oracle: { kind, to, family, code, multicast } with
 * kind 'ip', 'invalid', 'name', 'loopback' or 'either'. Strings outside the table are judged
 * by the rules: a name by its syntax, an IP literal net.isIP knows is not judged (its zone
 * rules are the parser's), anything else must be refused.
 */
function classifyDestination(text) {
  const entry = byText.get(text);
  if (entry) return { ...entry, family: entry.kind === 'ip' ? familyOf(entry) : undefined };
  if (isHostName(text)) return { text, kind: 'name', to: null };
  const plain = plainLoopback(text);
  if (plain) return { text, kind: 'ip', to: plain, family: 4 };
  if (isIP(text) !== 0 || !parsesAsNothing(text)) return { text, kind: 'either', to: null };
  return { text, kind: 'invalid', code: BAD_IP, to: null };
}

/** What a localAddress string is: { ip, local, family } or { code } (invalid), or undefined. */
function classifySource(text) {
  const entry = sourceByText.get(text);
  if (entry) return entry;
  const plain = plainLoopback(text);
  return plain ? { text, ip: plain, local: true, family: 4 } : undefined;
}

/**
 * Whether a send to this destination string may be attempted. Inside the namespace every
 * string may: lo is the only interface. Outside it, only the safe table entries, and names
 * (the fuzzer's lookup answers them with loopback or an error).
 */
function destinationAllowed(value, isolated) {
  if (typeof value !== 'string') return true;
  if (isolated) return true;
  const entry = byText.get(value);
  if (entry) return entry.safe;
  return isHostName(value);
}

/** An address as rinfo reports it, in the form the tables use. */
function canonical(address) {
  if (typeof address !== 'string') return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address.toLowerCase();
}

function isLoopback(address) {
  const text = canonical(address);
  return typeof text === 'string' &&
    (/^127\.\d+\.\d+\.\d+$/.test(text) || text === '::1' || text === 'fd00::1' || text === 'fd00::2');
}

const isMulticast = (address) => typeof address === 'string' && /^(22[4-9]|23\d)\.|^ff/i.test(canonical(address));

module.exports = {
  parsesAsNothing,
  isHostName,
  lookupAnswer,
  HOST_NAMES,
  DESTINATIONS,
  SOURCES,
  BIND_ADDRESSES,
  mutate,
  classifyDestination,
  classifySource,
  destinationAllowed,
  canonical,
  isLoopback,
  isMulticast,
};
