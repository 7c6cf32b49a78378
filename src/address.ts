// IP literals: validation for the API (and host names told from them), and formatting of the
// raw address bytes the addon reports, with small caches because a server sees the same few
// addresses again and again.
import { isIPv4, isIPv6 } from 'net';

import { invalidArgType, invalidArgValue, invalidIpAddress } from './errors';
import { binding } from './native';

/**
 * An IP literal as the addon takes it: the family, the 16 address bytes as four int32 words
 * (raw network-order bytes, read in the platform's order, as the addon's records hold them),
 * and the zone. A v4-mapped IPv6 literal is the IPv4 host it names (family 4, w0 only).
 */
export interface ParsedIp {
  readonly family: 4 | 6;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  /** A numeric zone ("%2"), or 0. */
  readonly scope: number;
  /** A zone by name ("%eth0"), resolved at each use: interfaces are renamed. */
  readonly zoneName: string | undefined;
}

const CACHE_LIMIT = 1024;
const parsed = new Map<string, ParsedIp | null>();
const scratch = new Uint8Array(16);
const scratchWords = new Int32Array(scratch.buffer);

/**
 * The one parser of IP literals: TypeScript judges every address the API takes, and the addon
 * trusts the parsed form. null for a string that is not one whole literal. A zone is allowed
 * only on IPv6 ("fe80::1%eth0", "fe80::1%2"), as dgram takes it.
 */
export function parseIp(text: string): ParsedIp | null {
  // A server sends to the same few peers from the same few addresses: parse each once.
  let ip = parsed.get(text);
  if (ip === undefined) {
    ip = parseUncached(text);
    if (parsed.size >= CACHE_LIMIT) parsed.clear();
    parsed.set(text, ip);
  }
  return ip;
}

function parseUncached(text: string): ParsedIp | null {
  scratch.fill(0);
  if (isIPv4(text)) {
    text.split('.').forEach((part, i) => { scratch[i] = Number(part); });
    return { family: 4, w0: scratchWords[0], w1: 0, w2: 0, w3: 0, scope: 0, zoneName: undefined };
  }
  const percent = text.indexOf('%');
  const bare = percent < 0 ? text : text.slice(0, percent);
  const zone = percent < 0 ? undefined : text.slice(percent + 1);
  // isIPv6 takes a zone of its own; the bare part must stand alone.
  if (bare.includes('%') || !isIPv6(bare) || zone === '') return null;
  writeIPv6(bare, scratch);
  const mapped = scratchWords[0] === 0 && scratchWords[1] === 0 &&
    scratch[8] === 0 && scratch[9] === 0 && scratch[10] === 0xff && scratch[11] === 0xff;
  if (mapped) {
    if (zone !== undefined) return null; // an IPv4 host has no zone
    return { family: 4, w0: scratchWords[3], w1: 0, w2: 0, w3: 0, scope: 0, zoneName: undefined };
  }
  let scope = 0;
  let zoneName: string | undefined;
  if (zone !== undefined) {
    if (/^[0-9]+$/.test(zone)) {
      scope = Number(zone);
      if (scope > 0x7fffffff) return null;
    } else {
      zoneName = zone;
    }
  }
  return {
    family: 6, w0: scratchWords[0], w1: scratchWords[1], w2: scratchWords[2], w3: scratchWords[3],
    scope, zoneName,
  };
}

// The 16 bytes of an IPv6 literal that isIPv6 accepted (so its groups are well formed).
function writeIPv6(text: string, out: Uint8Array): void {
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const result: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const [a, b, c, d] = group.split('.').map(Number);
        result.push((a << 8) | b, (c << 8) | d);
      } else {
        result.push(parseInt(group, 16));
      }
    }
    return result;
  };
  const gap = text.indexOf('::');
  const head = groups(gap < 0 ? text : text.slice(0, gap));
  const tail = gap < 0 ? [] : groups(text.slice(gap + 2));
  const all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  all.forEach((group, i) => {
    out[2 * i] = group >> 8;
    out[2 * i + 1] = group & 0xff;
  });
}

/** The parsed literal, or the ERR_INVALID_IP_ADDRESS TypeError for what is not one. */
export function ipArgument(value: unknown, name: string): ParsedIp {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  const ip = parseIp(value);
  if (ip === null) throw invalidIpAddress(name, value);
  return ip;
}

/** The scope of a parsed IPv6 literal now: a zone name is looked up each time. */
export function scopeOf(ip: ParsedIp, text: string, name: string): number {
  if (ip.zoneName === undefined) return ip.scope;
  const index = binding.interfaceIndex(ip.zoneName);
  if (index === 0) {
    throw invalidArgValue(name, text, `names an interface that does not exist ('${ip.zoneName}')`);
  }
  return index;
}

/** The unspecified address (0.0.0.0 or ::): no host. */
export function isUnspecified(ip: ParsedIp): boolean {
  return (ip.w0 | ip.w1 | ip.w2 | ip.w3) === 0;
}

export function isIPv6LinkLocal(address: string): boolean {
  return /^fe[89ab]/i.test(address);
}

// A host name, as dgram passes it to lookup. A string of digits and dots, or one with ':' or
// '%', is an IP literal or nothing: '1.2.3' is refused, not resolved as 1.2.0.3.
const HOST_NAME = /^(?![0-9.]+$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

export function isHostName(address: string): boolean {
  return address.length <= 253 && HOST_NAME.test(address);
}


// Formatted addresses, in a direct-mapped cache: a hash of the raw bytes picks one entry,
// which keeps the last address that hashed there. A lookup is a few integer compares, with no
// string built for the key, and the cache can never grow.
const FORMAT_CACHE_SIZE = 256; // a power of two

export class AddressFormatter {
  private readonly bytes: Uint8Array;
  private readonly v4Keys = new Int32Array(FORMAT_CACHE_SIZE);
  private readonly v4Texts: Array<string | undefined> = new Array(FORMAT_CACHE_SIZE).fill(undefined);
  private readonly v6Keys = new Int32Array(FORMAT_CACHE_SIZE * 4);
  private readonly v6Texts: Array<string | undefined> = new Array(FORMAT_CACHE_SIZE).fill(undefined);

  constructor(private readonly words: Int32Array) {
    this.bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  }

  /** The address whose raw bytes start at words[index]. */
  format(family: number, index: number): string {
    const words = this.words;
    if (family === 4) {
      const key = words[index];
      const entry = (key ^ (key >>> 8) ^ (key >>> 16) ^ (key >>> 24)) & (FORMAT_CACHE_SIZE - 1);
      let text = this.v4Texts[entry];
      if (text === undefined || this.v4Keys[entry] !== key) {
        const b = this.bytes;
        const at = index * 4;
        text = `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
        this.v4Keys[entry] = key;
        this.v4Texts[entry] = text;
      }
      return text;
    }
    const w0 = words[index];
    const w1 = words[index + 1];
    const w2 = words[index + 2];
    const w3 = words[index + 3];
    let mixed = w0 ^ w1 ^ w2 ^ w3;
    mixed ^= mixed >>> 16;
    const entry = (mixed ^ (mixed >>> 8)) & (FORMAT_CACHE_SIZE - 1);
    const keys = this.v6Keys;
    const at = entry * 4;
    let text = this.v6Texts[entry];
    if (text === undefined || keys[at] !== w0 || keys[at + 1] !== w1 || keys[at + 2] !== w2 || keys[at + 3] !== w3) {
      text = formatIPv6(this.bytes, index * 4);
      keys[at] = w0;
      keys[at + 1] = w1;
      keys[at + 2] = w2;
      keys[at + 3] = w3;
      this.v6Texts[entry] = text;
    }
    return text;
  }
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of zero groups as "::". */
export function formatIPv6(bytes: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[at + 2 * i] << 8) | bytes[at + 2 * i + 1]);
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not shortened
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (from: number, to: number) =>
    groups.slice(from, to).map((group) => group.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}
