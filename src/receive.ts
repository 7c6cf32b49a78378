// The receive side: the addon's per-batch records and arenas become 'message' events, each
// with its RemoteInfo. src/socket.ts owns the socket; this reads what one batch brought.
import { markAsUntransferable } from 'worker_threads';

import { AddressFormatter, isIPv6LinkLocal } from './address';
import { FLAG_CONTROL_TRUNCATED, FLAG_TRUNCATED, Meta, binding } from './native';

export interface RemoteInfo {
  /** The sender. IPv4 senders are always plain IPv4 ('192.0.2.1'), on dual-stack sockets too. */
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  /** Bytes received (less than sent when `truncated`). */
  size: number;
  /** The local address to reply from. `undefined` where the platform cannot say. */
  localAddress: string | undefined;
  /** The IP header's destination: a local unicast, broadcast or multicast address. */
  destinationAddress: string | undefined;
  /** The interface the datagram arrived on. */
  interfaceIndex: number | undefined;
  interfaceName: string | undefined;
  /** The datagram was longer than `maxMessageSize`; the rest is lost. */
  truncated: boolean;
}

const INTERFACE_NAME_TTL_MS = 1000;

// Interface index -> name, looked up once per index and second: interfaces come and go rarely,
// and a name per datagram would cost a system call. Read once per received batch.
class InterfaceNames {
  private names = new Map<number, string | undefined>();
  private since = 0;

  get(index: number): string | undefined {
    let name = this.names.get(index);
    if (name === undefined && !this.names.has(index)) {
      name = binding.interfaceName(index);
      this.names.set(index, name);
    }
    return name;
  }

  fresh(now: number): this {
    if (now - this.since > INTERFACE_NAME_TTL_MS) {
      this.names.clear();
      this.since = now;
    }
    return this;
  }
}
const interfaceNameCache = new InterfaceNames();
const interfaceNames = () => interfaceNameCache.fresh(Date.now());

// Unicast datagrams arrive with the reply-from address equal to the destination: one string.
function sameAddress(meta: Int32Array, a: number, b: number, familyA: number, familyB: number): boolean {
  return familyA === familyB && meta[a] === meta[b] &&
    (familyA === 4 || (meta[a + 1] === meta[b + 1] && meta[a + 2] === meta[b + 2] && meta[a + 3] === meta[b + 3]));
}

// A Buffer over part of an ArrayBuffer. Node's own Buffer class, which Buffer[Symbol.species]
// returns, makes one without Buffer.from's argument checks, which cost 9% of the receive
// rate in bench/. The fallback is for a runtime that does not expose that class.
type BufferViewClass = new (buffer: ArrayBuffer, byteOffset: number, length: number) => Buffer;
const BufferView: BufferViewClass = (() => {
  const species = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species];
  if (typeof species === 'function' && species !== Buffer) {
    try {
      const view = new (species as BufferViewClass)(new ArrayBuffer(2), 1, 1);
      if (Object.getPrototypeOf(view) === Buffer.prototype && view.byteOffset === 1 && view.length === 1) {
        return species as BufferViewClass;
      }
    } catch {
      // not a constructor of views: use the fallback
    }
  }
  return function viewOf(buffer: ArrayBuffer, byteOffset: number, length: number) {
    return Buffer.from(buffer, byteOffset, length);
  } as unknown as BufferViewClass;
})();

/** Turns the records of one received batch into messages for emit. */
export class Receiver {
  /** The records the addon writes, one per datagram of a batch. */
  readonly meta = new Int32Array(binding.receiveBatch * binding.metaStride);
  private readonly formatter = new AddressFormatter(this.meta);
  private lastArena: ArrayBuffer | undefined;

  /**
   * Calls emit for each datagram of the batch, while isOpen(). A throwing emit is reported as
   * uncaught, as a throw from a dgram listener is, and the batch goes on.
   */
  deliver(count: number, arenas: ArrayBuffer[], isOpen: () => boolean, emit: (msg: Buffer, rinfo: RemoteInfo) => void): void {
    // The addon keeps writing into an arena after this batch: it must never change owner.
    // (Node's own Buffer pool is marked the same way.)
    for (const arena of arenas) {
      if (arena !== this.lastArena) markAsUntransferable(arena);
    }
    this.lastArena = arenas[arenas.length - 1];
    const meta = this.meta;
    const stride = binding.metaStride;
    const formatter = this.formatter;
    const names = interfaceNames();
    for (let i = 0; i < count && isOpen(); i++) {
      const at = i * stride;
      const size = meta[at + Meta.Length];
      // The addon copied the bytes into an arena of at most 8 KiB, or of the message's own
      // size, so a kept message pins no more than Buffer.allocUnsafe's pool would.
      const msg = new BufferView(arenas[meta[at + Meta.Arena]], meta[at + Meta.ArenaOffset], size);
      const peerFamily = meta[at + Meta.PeerFamily];
      let address = formatter.format(peerFamily, at + Meta.PeerAddress);
      const scope = meta[at + Meta.PeerScope];
      // The zone as dgram writes it: the interface's name where it has one.
      if (scope !== 0 && peerFamily === 6 && isIPv6LinkLocal(address)) address += `%${names.get(scope) ?? scope}`;
      const localFamily = meta[at + Meta.LocalFamily];
      const destinationFamily = meta[at + Meta.DestinationFamily];
      const interfaceIndex = meta[at + Meta.InterfaceIndex];
      const flags = meta[at + Meta.Flags];
      const localAddress = localFamily === 0 ? undefined : formatter.format(localFamily, at + Meta.LocalAddress);
      const rinfo: RemoteInfo = {
        address,
        family: peerFamily === 6 ? 'IPv6' : 'IPv4',
        port: meta[at + Meta.PeerPort],
        size,
        localAddress,
        destinationAddress: destinationFamily === 0 ? undefined
          : sameAddress(meta, at + Meta.LocalAddress, at + Meta.DestinationAddress, localFamily, destinationFamily)
            ? localAddress : formatter.format(destinationFamily, at + Meta.DestinationAddress),
        interfaceIndex: interfaceIndex === 0 ? undefined : interfaceIndex,
        interfaceName: interfaceIndex === 0 ? undefined : names.get(interfaceIndex),
        truncated: (flags & FLAG_TRUNCATED) !== 0,
      };
      if ((flags & FLAG_CONTROL_TRUNCATED) !== 0) {
        // The kernel cut the control data: nothing in it can be trusted.
        rinfo.localAddress = rinfo.destinationAddress = undefined;
        rinfo.interfaceIndex = undefined;
        rinfo.interfaceName = undefined;
      }
      try {
        emit(msg, rinfo);
      } catch (error) {
        // As a throw from a dgram listener: uncaught, now. Then, if the process goes on (an
        // 'uncaughtException' handler), so does the batch: every datagram is delivered.
        binding.reportUncaught(error);
      }
    }
  }
}
