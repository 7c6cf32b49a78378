// Loads the addon: a prebuilt binary from prebuilds/ when one matches this platform, otherwise
// the local source build in build/Release.
import * as path from 'path';
import type { NativeErrorInfo } from './errors';

export interface UdpHandle {
  /** count records are in meta; each datagram's bytes are in one of the arenas. */
  onmessage?: (count: number, ...arenas: ArrayBuffer[]) => void;
  onwritable?: () => void;
  onerror?: (info: NativeErrorInfo, syscall: string) => void;
  /** Binds to the address in record 0 of the send records. */
  bind(): NativeErrorInfo | undefined;
  /** Sends msg to record 0 of the send records: bytes sent, or why not. */
  send(msg: Uint8Array | Uint8Array[]): number | NativeErrorInfo;
  /**
   * Sends msgs[i] to record i (at most sendBatchSize). Returns how many were sent (bytes[i]
   * holds each one's size), or why msgs[sent] was not.
   */
  sendBatch(bytes: Float64Array, ...msgs: Array<Uint8Array | Uint8Array[]>): number | (NativeErrorInfo & { sent: number });
  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } | NativeErrorInfo;
  setOption(name: string, value: number): NativeErrorInfo | undefined;
  getOption(name: string): number | NativeErrorInfo;
  watchWritable(watch: boolean): void;
  setReferenced(referenced: boolean): void;
  close(): void;
  /** Joins (join) or leaves the group of send record 0 (source and interface index there too; record 1: the interface's IPv4 address, or family 0). */
  setMembership(join: boolean): NativeErrorInfo | undefined;
  /** The multicast interface of record 0: its index, and for IPv4 an address (or family 0). */
  setMulticastInterface(family: 4 | 6): NativeErrorInfo | undefined;
  /** Connects to the address in record 0. */
  connect(): NativeErrorInfo | undefined;
  disconnect(): NativeErrorInfo | undefined;
  remoteAddress(): { address: string; family: 'IPv4' | 'IPv6'; port: number } | NativeErrorInfo;
}

export interface Binding {
  UdpHandle: new (
    family: 4 | 6,
    ipv6Only: boolean,
    reuseAddress: boolean,
    maxMessageSize: number,
    meta: Int32Array,
    sendRecords: Int32Array,
    reusePort: boolean,
  ) => UdpHandle;
  /** The control bytes a send with record 0 of records hands to the OS (for tests). */
  sourceControlBytes(socketFamily: 4 | 6, records: Int32Array): Buffer;
  decodeReceiveControl(control: Uint8Array): {
    localAddress?: string;
    destinationAddress?: string;
    interfaceIndex?: number;
  };
  describeError(osErrno: number): NativeErrorInfo;
  interfaceName(interfaceIndex: number): string | undefined;
  /** The index of the interface named name, or 0 when there is none. */
  interfaceIndex(name: string): number;
  /** Reports error as uncaught (process 'uncaughtException'), as a throw from a callback is. */
  reportUncaught(error: unknown): void;
  openSocketCount(): number;
  backend: string;
  receiveBatch: number;
  metaStride: number;
  maxGatherBuffers: number;
  sendBatchSize: number;
  sendRecordStride: number;
}

/** One send's record that src/ writes and the addon reads (native-common/arguments.h, SendRecord). */
export const enum SendRecord {
  Port = 0,
  Family = 1,
  Address = 2,
  Scope = 6,
  SourceFamily = 7,
  SourceAddress = 8,
  InterfaceIndex = 12,
}

/** The per-datagram record the addon writes (native-common/udp_handle.h, enum Meta). */
export const enum Meta {
  Length = 0,
  Flags = 1,
  PeerFamily = 2,
  PeerPort = 3,
  PeerAddress = 4,
  PeerScope = 8,
  LocalFamily = 9,
  LocalAddress = 10,
  DestinationFamily = 14,
  DestinationAddress = 15,
  InterfaceIndex = 19,
  Arena = 20,
  ArenaOffset = 21,
}
export const FLAG_TRUNCATED = 1;
export const FLAG_CONTROL_TRUNCATED = 2;

export const packageRoot = path.join(__dirname, '..');

function libc(): string {
  if (process.platform !== 'linux') return '';
  const report = (process as unknown as { report?: { getReport(): unknown } }).report;
  const header = (report?.getReport() as { header?: { glibcVersionRuntime?: string } })?.header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** Loads the addon of the package at root; exported for the test of its error message. */
export function load(root: string = packageRoot): Binding {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => Binding;
    return nodeGypBuild(root);
  } catch (cause) {
    const flavor = libc();
    const target = `${process.platform}-${process.arch}${flavor ? ` (${flavor})` : ''}`;
    const error = new Error(
      `sendmsg: no native addon could be loaded for ${target}, Node ${process.version} ` +
        `(N-API ${process.versions.napi}).\n` +
        `Looked for a prebuilt binary in ${path.join(root, 'prebuilds', `${process.platform}-${process.arch}`)} ` +
        `and for a source build in ${path.join(root, 'build', 'Release')}.\n` +
        `To build from source, install python3, make and a C++17 compiler (on Windows: Visual ` +
        `Studio Build Tools), then run: npm rebuild sendmsg\n` +
        `Cause: ${cause instanceof Error ? cause.message : String(cause)}`,
    ) as Error & { code: string; cause: unknown };
    error.code = 'ERR_SENDMSG_ADDON_NOT_FOUND';
    error.cause = cause;
    throw error;
  }
}

export const binding: Binding = load();
