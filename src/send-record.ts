// A send's destination, source and interface, judged and parsed once in TypeScript, and the
// record the addon reads them from: a shared Int32Array, written fresh before every call, so
// nothing of one send's options can reach the next.
import { ParsedIp, ipArgument, scopeOf } from './address';
import { invalidArgValue } from './errors';
import { SendRecord, binding } from './native';

/** Where one datagram goes, from where, by which link: everything but the bytes. */
export interface Destination {
  readonly port: number;
  /** As the caller wrote it, for error messages. */
  readonly address: string;
  readonly ip: ParsedIp;
  /** The destination's zone, resolved when the send was made. */
  readonly scope: number;
  readonly localAddress: string | undefined;
  readonly source: ParsedIp | undefined;
  /** 0: the kernel chooses. */
  readonly interfaceIndex: number;
  /** The connected peer: the addon sends with no address, as send() on a connected socket. */
  readonly connected?: boolean;
}

/**
 * Judges a destination for a socket of socketFamily: both addresses parse whole, an IPv6
 * destination needs a udp6 socket, and the source is of the packet's family.
 */
export function makeDestination(
  socketFamily: 4 | 6,
  port: number,
  address: string,
  localAddress: string | undefined,
  interfaceIndex: number | undefined,
): Destination {
  const ip = ipArgument(address, 'address');
  if (ip.family === 6 && socketFamily === 4) {
    throw invalidArgValue('address', address, 'must be an IPv4 address on a udp4 socket');
  }
  let source: ParsedIp | undefined;
  if (localAddress !== undefined) {
    source = sourceArgument(localAddress);
    if (source.family !== ip.family) {
      throw invalidArgValue('localAddress', localAddress,
        `must be an IPv${ip.family} address to send to ${address}`);
    }
  }
  return {
    port,
    address,
    ip,
    scope: ip.family === 6 ? scopeOf(ip, address, 'address') : 0,
    localAddress,
    source,
    interfaceIndex: interfaceIndex ?? 0,
  };
}

/**
 * A localAddress, parsed. A zone name is judged as a destination's is (a name no interface has
 * is ERR_INVALID_ARG_VALUE); the zone does not choose the link, interfaceIndex does.
 */
export function sourceArgument(localAddress: string): ParsedIp {
  const source = ipArgument(localAddress, 'localAddress');
  if (source.zoneName !== undefined) scopeOf(source, localAddress, 'localAddress');
  return source;
}

/** A parsed bind address: the same record, with no source or interface. */
export function makeBindAddress(socketFamily: 4 | 6, port: number, address: string): Destination {
  return makeDestination(socketFamily, port, address, undefined, undefined);
}

/** An address as a record holds it: the family word at records[at], then four words of bytes. */
export function writeIp(records: Int32Array, at: number, ip: ParsedIp): void {
  records[at] = ip.family;
  records[at + 1] = ip.w0;
  records[at + 2] = ip.w1;
  records[at + 3] = ip.w2;
  records[at + 4] = ip.w3;
}

/** Writes destination as record index of records, every field, for the addon to read. */
export function writeRecord(records: Int32Array, index: number, destination: Destination): void {
  const at = index * binding.sendRecordStride;
  records[at + SendRecord.Port] = destination.port;
  writeIp(records, at + SendRecord.Family, destination.ip);
  if (destination.connected) records[at + SendRecord.Family] = 0;
  records[at + SendRecord.Scope] = destination.scope;
  if (destination.source === undefined) records[at + SendRecord.SourceFamily] = 0;
  else writeIp(records, at + SendRecord.SourceFamily, destination.source);
  records[at + SendRecord.InterfaceIndex] = destination.interfaceIndex;
}

/**
 * The exact control bytes a send with these options hands to the OS, for tests that cannot
 * see the wire (Wine ignores them there).
 */
export function sourceControlBytes(
  socketFamily: 4 | 6,
  address: string,
  localAddress: string | null,
  interfaceIndex: number,
): Buffer {
  const records = new Int32Array(binding.sendRecordStride);
  writeRecord(records, 0, makeDestination(socketFamily, 9, address, localAddress ?? undefined, interfaceIndex));
  return binding.sourceControlBytes(socketFamily, records);
}
