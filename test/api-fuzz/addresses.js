'use strict';
// The address strings the fuzzer may use, and the guard that keeps every datagram on this host.
//
// A destination is drawn from DESTINATIONS, or is a mutant of one that no IP parser accepts.
// Each entry says:
// - `to`: where a datagram must arrive if the string is accepted (null: nowhere to check, e.g.
//   an unspecified address or a link-local one no socket has);
// - `safe`: every way any parser could read it (strict, lenient like inet_aton, cut at a
//   length, ignoring a zone or trailing bytes) is a loopback address or nothing. Outside a
//   private network namespace only safe strings are ever passed to a send; inside one (the
//   fuzzer's normal mode) lo is the only interface, so nothing can leave whatever happens.
// No entry is a valid non-loopback address: those are never generated.
const { isIP } = require('net');

const DESTINATIONS = [
  // IPv4 and the IPv6 spellings of IPv4 loopback.
  { text: '127.0.0.1', to: '127.0.0.1', valid: true, safe: true },
  { text: '127.0.0.2', to: '127.0.0.2', valid: true, safe: true },
  { text: '127.1.2.3', to: '127.1.2.3', valid: true, safe: true },
  { text: '::ffff:127.0.0.1', to: '127.0.0.1', valid: true, safe: true },
  { text: '::ffff:7f00:1', to: '127.0.0.1', valid: true, safe: true },
  { text: '::FFFF:127.0.0.3', to: '127.0.0.3', valid: true, safe: true },
  { text: '0:0:0:0:0:ffff:7f00:2', to: '127.0.0.2', valid: true, safe: true },
  // 45 characters: a parser that copies the part before the zone into 40 bytes reads
  // 127.0.0.1 instead of 127.0.0.100.
  { text: '0000:0000:0000:0000:0000:ffff:127.0.0.100%lo', to: '127.0.0.100', valid: true, safe: true },
  { text: '::ffff:127.0.0.1%lo', to: '127.0.0.1', valid: undefined, safe: true },
  { text: '127.0.0.1%lo', to: '127.0.0.1', valid: undefined, safe: true },
  { text: '127.0.0.1%', to: '127.0.0.1', valid: undefined, safe: true },
  // IPv6 loopback.
  { text: '::1', to: '::1', valid: true, safe: true },
  { text: '0:0:0:0:0:0:0:1', to: '::1', valid: true, safe: true },
  { text: '0000:0000:0000:0000:0000:0000:0000:0001', to: '::1', valid: true, safe: true },
  { text: '::1%lo', to: '::1', valid: true, safe: true },
  { text: '::1%1', to: '::1', valid: true, safe: true },
  { text: '::1%', to: '::1', valid: undefined, safe: true },
  { text: `::1%${'z'.repeat(300)}`, to: '::1', valid: undefined, safe: true },
  // Unspecified: Linux delivers these to the host itself.
  { text: '0.0.0.0', to: null, valid: true, safe: true },
  { text: '::', to: null, valid: true, safe: true },
  { text: '::ffff:0.0.0.0', to: null, valid: true, safe: true },
  // Addresses of lo in the fuzzer's namespace (test/fixtures/netns-setup.sh adds fd00::1 and
  // fd00::2), and link-local ones scoped to lo: only inside the namespace.
  { text: 'fd00::1', to: 'fd00::1', valid: true, safe: false },
  { text: 'fd00::2', to: 'fd00::2', valid: true, safe: false },
  { text: 'fe80::1%lo', to: null, valid: true, safe: false },
  { text: 'fe80::1%1', to: null, valid: true, safe: false },
  { text: 'fe80::1', to: null, valid: true, safe: false },
  // Strings that must be refused. Safe ones read as loopback or nothing by any lenient parser.
  { text: '', to: null, valid: false, safe: true },
  { text: ' ', to: null, valid: false, safe: true },
  { text: ' 127.0.0.1', to: null, valid: false, safe: true },
  { text: '127.0.0.1 ', to: null, valid: false, safe: true },
  { text: '\t::1', to: null, valid: false, safe: true },
  { text: '127.1', to: null, valid: false, safe: true },
  { text: '2130706433', to: null, valid: false, safe: true },
  { text: '0x7f.0.0.1', to: null, valid: false, safe: true },
  { text: '127.0.0.01', to: null, valid: false, safe: true },
  { text: '127.0.0.256', to: null, valid: false, safe: true },
  { text: '127.0.0.-1', to: null, valid: false, safe: true },
  { text: ':::1', to: null, valid: false, safe: true },
  { text: '::1::', to: null, valid: false, safe: true },
  { text: '[::1]', to: null, valid: false, safe: true },
  { text: '127.0.0.1:9', to: null, valid: false, safe: true },
  { text: '::ffff:127.0.0.1.5', to: null, valid: false, safe: true },
  { text: 'localhost', to: null, valid: false, safe: true },
  { text: '127.0.0.1\u0000junk', to: null, valid: false, safe: true },
  { text: '::1\u0000', to: null, valid: false, safe: true },
  { text: '\uff11\uff12\uff17.0.0.1', to: null, valid: false, safe: true },
  { text: `127.0.0.1${' '.repeat(70)}`, to: null, valid: false, safe: true },
  { text: 'x'.repeat(5000), to: null, valid: false, safe: true },
  { text: `::1%${'a'.repeat(100000)}`, to: '::1', valid: undefined, safe: true },
  // Invalid, but a lenient parser could read a non-loopback address: namespace only.
  { text: '1.2.3', to: null, valid: false, safe: false },
  { text: '256.0.0.1', to: null, valid: false, safe: false },
  { text: '1.2.3.4.5', to: null, valid: false, safe: false },
  { text: 'fe80::1%eth0', to: null, valid: undefined, safe: false },
];

// Source addresses (localAddress). `local`: an address of lo in the fuzzer's namespace, so a
// datagram sent from it must arrive from it.
const SOURCES = [
  { text: '127.0.0.1', ip: '127.0.0.1', local: true, valid: true },
  { text: '127.0.0.2', ip: '127.0.0.2', local: true, valid: true },
  { text: '::ffff:127.0.0.5', ip: '127.0.0.5', local: true, valid: true },
  { text: '::1', ip: '::1', local: true, valid: true },
  { text: 'fd00::2', ip: 'fd00::2', local: true, valid: true },
  { text: '192.0.2.1', ip: '192.0.2.1', local: false, valid: true },
  { text: '2001:db8::1', ip: '2001:db8::1', local: false, valid: true },
  { text: 'fe80::1%lo', ip: 'fe80::1', local: false, valid: true },
  { text: '0.0.0.0', ip: null, local: false, valid: true },
  { text: '::', ip: null, local: false, valid: true },
  { text: '127.0.0.1%lo', ip: null, local: false, valid: undefined },
  { text: '', ip: null, local: false, valid: false },
  { text: '1.2.3', ip: null, local: false, valid: false },
  { text: '::1%', ip: null, local: false, valid: undefined },
];

const BIND_ADDRESSES = [
  '127.0.0.1', '127.0.0.2', '0.0.0.0', '::', '::1', '::ffff:127.0.0.1', 'fd00::1', '192.0.2.1',
  'fe80::1%lo', '127.0.0.1%lo', '::1%lo', '', '1.2.3', ' ::', 'x'.repeat(300),
];

const byText = new Map(DESTINATIONS.map((entry) => [entry.text, entry]));
const sourceByText = new Map(SOURCES.map((entry) => [entry.text, entry]));

/** Whatever a parser might make of text, it is no IP literal: a mutant that is safe to send to. */
function parsesAsNothing(text) {
  const bare = text.split('%')[0];
  // A lenient IPv4 parser stops at the first byte that is not a digit, dot or x.
  const lenient = /^\s*[0-9.xX]+/.test(text);
  return isIP(text) === 0 && isIP(bare) === 0 && !lenient && !/^[0-9a-fA-F:.]+$/.test(bare);
}

/**
 * A mutant of text that no parser accepts: a letter where a digit or colon was, a prefix, or
 * junk in front. Mutants are used only inside the namespace (see destinationAllowed).
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

/**
 * Whether a send to this destination string may be attempted. Inside the namespace every
 * string may: lo is the only interface. Outside it, only the safe table entries.
 */
function destinationAllowed(value, isolated) {
  if (typeof value !== 'string') return true;
  if (isolated) return true;
  const entry = byText.get(value);
  return entry !== undefined && entry.safe;
}

// A plain IPv4 literal outside the tables (a program may write one) means itself; all of
// 127.0.0.0/8 is an address of lo.
const plainLoopback = (value) => (isIP(value) === 4 && value.startsWith('127.') ? value : null);

/** Where a datagram sent to this string must arrive: an IP in canonical form, or null. */
function expectedArrival(value) {
  if (typeof value !== 'string') return null;
  const entry = byText.get(value);
  return entry ? entry.to : plainLoopback(value);
}

/** The canonical source a datagram sent from this localAddress must carry, or null. */
function expectedSource(value) {
  if (typeof value !== 'string') return null;
  const entry = sourceByText.get(value);
  if (entry) return entry.local ? entry.ip : null;
  return plainLoopback(value);
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

module.exports = {
  parsesAsNothing,
  DESTINATIONS,
  SOURCES,
  BIND_ADDRESSES,
  mutate,
  destinationAllowed,
  expectedArrival,
  expectedSource,
  canonical,
  isLoopback,
};
