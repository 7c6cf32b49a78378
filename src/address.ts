// IP literals: validation for the API, and formatting of the raw address bytes the addon
// reports, with small caches because a server sees the same few addresses again and again.
import { isIP } from 'net';

const V4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

const families = new Map<string, 0 | 4 | 6>();

/** 4, 6, or 0 for a string that is no IP literal. A v4-mapped IPv6 literal counts as 4. */
export function ipFamily(address: string): 0 | 4 | 6 {
  // A server sends to the same few peers from the same few addresses: parse each once.
  let family = families.get(address);
  if (family === undefined) {
    family = parseFamily(address);
    if (families.size >= CACHE_LIMIT) families.clear();
    families.set(address, family);
  }
  return family;
}

function parseFamily(address: string): 0 | 4 | 6 {
  const zone = address.indexOf('%');
  const bare = zone >= 0 ? address.slice(0, zone) : address;
  const family = isIP(bare);
  if (family === 6 && V4_MAPPED.test(bare)) return 4;
  return family as 0 | 4 | 6;
}

export function isIPv6LinkLocal(address: string): boolean {
  return /^fe[89ab]/i.test(address);
}

const CACHE_LIMIT = 1024;

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
