// The dgram-like socket. It owns a native UdpHandle (a non-blocking socket polled on Node's
// loop), validates every argument, hands sends to its SendQueue, and turns the addon's
// per-batch records into 'message' events.
import { EventEmitter } from 'events';
import { markAsUntransferable } from 'worker_threads';

import { AddressFormatter, ipArgument, isIPv6LinkLocal, isUnspecified } from './address';
import {
  Chunks,
  sliceChunks,
  toChunks,
  validateBufferSize,
  validateCallback,
  validateCount,
  validateInterfaceIndex,
  validatePort,
} from './arguments';
import {
  NativeErrorInfo,
  SystemError,
  alreadyBound,
  badSocketType,
  closedBeforeSent,
  invalidArgType,
  invalidArgValue,
  notRunning,
  outOfRange,
  systemError,
} from './errors';
import { FLAG_CONTROL_TRUNCATED, FLAG_TRUNCATED, Meta, UdpHandle, binding } from './native';
import { DEFAULT_SEND_QUEUE_LIMIT, PendingSend, SendCallback, SendQueue } from './send-queue';
import { Destination, makeBindAddress, makeDestination, writeRecord } from './send-record';

export type { SendCallback } from './send-queue';

export type SocketType = 'udp4' | 'udp6';

export interface SocketOptions {
  type: SocketType;
  /** udp6 only: refuse IPv4 (IPV6_V6ONLY). Default false: a dual-stack socket. */
  ipv6Only?: boolean;
  /** Let several sockets bind the same address and port (SO_REUSEADDR / SO_REUSEPORT). */
  reuseAddr?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
  /**
   * The largest datagram received whole, in bytes. A longer one arrives cut to this size with
   * `rinfo.truncated` set. Default 65535: every UDP datagram arrives whole.
   */
  maxMessageSize?: number;
  /**
   * The most sends that may wait for the kernel to take them. A send past it fails with
   * ENOBUFS, as the kernel's own queue does when full. Default 16384.
   */
  sendQueueLimit?: number;
}

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

export interface SendOptions {
  port: number;
  /** The destination. Default: the loopback address of the socket's family. */
  address?: string;
  /** The source address. It must be local: otherwise the send fails (EADDRNOTAVAIL or EINVAL). */
  localAddress?: string;
  /** The outgoing interface. On IPv4 it overrides localAddress on Linux: use it only if meant. */
  interfaceIndex?: number;
}

export type Message = string | ArrayBufferView | ReadonlyArray<string | ArrayBufferView>;

/** One datagram of sendBatch(): the message and send()'s options. */
export interface BatchMessage extends SendOptions {
  msg: Message;
}
export type BatchCallback = (error: Error | null, results: Array<number | Error>) => void;

export interface BindOptions {
  port?: number;
  address?: string;
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

function isErrorInfo(value: unknown): value is NativeErrorInfo {
  return typeof value === 'object' && value !== null;
}

export class Socket extends EventEmitter {
  readonly type: SocketType;
  private readonly family: 4 | 6;
  private handle: UdpHandle | undefined;
  private bound = false;
  private readonly meta: Int32Array;
  private readonly formatter: AddressFormatter;
  private readonly sends: SendQueue;
  // The sends made by 'message' listeners while a received batch is delivered; undefined
  // outside one.
  private coalescing: PendingSend[] | undefined;
  private lastArena: ArrayBuffer | undefined;

  constructor(options: SocketOptions | SocketType, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    const settings: SocketOptions =
      typeof options === 'string' ? { type: options } : (options as SocketOptions);
    if (typeof settings !== 'object' || settings === null) {
      throw invalidArgType('options', 'of type object or string', options);
    }
    if (settings.type !== 'udp4' && settings.type !== 'udp6') throw badSocketType(settings.type);
    if (listener !== undefined && typeof listener !== 'function') {
      throw invalidArgType('listener', 'of type function', listener);
    }
    const maxMessageSize = settings.maxMessageSize ?? 65535;
    if (typeof maxMessageSize !== 'number') {
      throw invalidArgType('options.maxMessageSize', 'of type number', maxMessageSize);
    }
    if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1 || maxMessageSize > 65535) {
      throw outOfRange('options.maxMessageSize', 'an integer >= 1 and <= 65535', maxMessageSize);
    }
    const recvBufferSize = settings.recvBufferSize === undefined ? undefined
      : validateBufferSize(settings.recvBufferSize, 'options.recvBufferSize');
    const sendBufferSize = settings.sendBufferSize === undefined ? undefined
      : validateBufferSize(settings.sendBufferSize, 'options.sendBufferSize');
    const sendQueueLimit = settings.sendQueueLimit === undefined ? DEFAULT_SEND_QUEUE_LIMIT
      : validateCount(settings.sendQueueLimit, 'options.sendQueueLimit');

    this.type = settings.type;
    this.family = settings.type === 'udp6' ? 6 : 4;
    const ipv6Only = this.family === 6 && Boolean(settings.ipv6Only);
    this.meta = new Int32Array(binding.receiveBatch * binding.metaStride);
    this.formatter = new AddressFormatter(this.meta);
    const socket = this; // eslint-disable-line @typescript-eslint/no-this-alias
    this.sends = new SendQueue({
      get handle() { return socket.handle; },
      fail: (callback, error) => this.fail(callback, error),
    }, sendQueueLimit);
    try {
      this.handle = new binding.UdpHandle(
        this.family, ipv6Only, Boolean(settings.reuseAddr), maxMessageSize, this.meta, this.sends.records);
    } catch (error) {
      const info = (error as { info?: NativeErrorInfo }).info;
      throw info ? systemError(info, 'socket') : error;
    }
    this.handle.onmessage = (count, ...arenas) => this.deliver(count, arenas);
    this.handle.onwritable = () => this.sends.drain();
    this.handle.onerror = (info, syscall) => this.nativeError(info, syscall);
    if (recvBufferSize !== undefined) this.setOption('recvBufferSize', recvBufferSize);
    if (sendBufferSize !== undefined) this.setOption('sendBufferSize', sendBufferSize);
    if (listener) this.on('message', listener);
  }

  bind(port?: number | BindOptions | (() => void), address?: string | (() => void), callback?: () => void): this {
    this.openHandle();
    let options: BindOptions;
    if (typeof port === 'function') {
      callback = port;
      options = {};
    } else if (typeof port === 'object' && port !== null) {
      options = port;
      if (typeof address === 'function') callback = address;
    } else {
      if (typeof address === 'function') {
        callback = address;
        address = undefined;
      }
      options = { port: port as number | undefined, address: address as string | undefined };
    }
    if (callback !== undefined && typeof callback !== 'function') {
      throw invalidArgType('callback', 'of type function', callback);
    }
    if (this.bound) throw alreadyBound();
    const failure = this.bindNow(options);
    if (failure) {
      process.nextTick(() => this.emitUnlessClosed('error', failure));
      return this;
    }
    // Called once, on this bind's success only: a failed bind leaves no listener behind.
    if (callback) this.once('listening', callback);
    return this;
  }

  // Binds now, or returns why not. 'listening' follows on the next tick.
  private bindNow(options: BindOptions): SystemError | undefined {
    const handle = this.openHandle();
    const port = options.port === undefined || options.port === null ? 0 : validatePort(options.port, 'port', true);
    const address = options.address ?? (this.family === 6 ? '::' : '0.0.0.0');
    writeRecord(this.sends.records, 0, makeBindAddress(this.family, port, address));
    const failure = handle.bind();
    if (failure) return systemError(failure, 'bind', address, port);
    this.bound = true;
    process.nextTick(() => this.emitUnlessClosed('listening'));
    return undefined;
  }

  /**
   * Sends one datagram; `msg` may be a gather list. Forms: `send(msg, options, cb?)`,
   * `send(msg, port, address?, cb?)`, and dgram's `send(msg, offset, length, port, address?, cb?)`.
   */
  send(msg: Message, ...args: unknown[]): void {
    const send = this.parseSendArguments(msg, args);
    if (!this.bindForSend(send.callback)) return;
    if (this.coalescing !== undefined) {
      // Inside a 'message' batch: sent together with the others when the batch ends.
      this.coalescing.push(send);
      return;
    }
    this.sends.send(send);
  }

  /**
   * Answers a datagram from the address it arrived on. The interface index is passed only
   * where it is needed, for IPv6 link-local: on IPv4 Linux would let it override the source.
   * A peer that cannot be answered (no address yet, as a DHCP client's 0.0.0.0, or port 0) is
   * refused: a reply there would reach this host, not the peer.
   */
  reply(rinfo: RemoteInfo, msg: Message, callback?: SendCallback): void {
    if (typeof rinfo !== 'object' || rinfo === null) throw invalidArgType('rinfo', 'of type object', rinfo);
    const { address, port, localAddress, interfaceIndex } = rinfo;
    if (typeof address !== 'string') throw invalidArgType('rinfo.address', 'of type string', address);
    if (isUnspecified(ipArgument(address, 'rinfo.address'))) {
      throw invalidArgValue('rinfo.address', address,
        'names no peer to answer (a sender with no address yet, such as a DHCP client, is answered by broadcast)');
    }
    if (port === 0) throw invalidArgValue('rinfo.port', port, 'names no peer to answer (port 0)');
    const options: SendOptions = { port, address };
    if (localAddress !== undefined) options.localAddress = localAddress;
    const linkLocal = rinfo.family === 'IPv6' &&
      (isIPv6LinkLocal(address) || (typeof localAddress === 'string' && isIPv6LinkLocal(localAddress)));
    if (linkLocal && interfaceIndex) options.interfaceIndex = interfaceIndex;
    this.send(msg, options, callback);
  }

  /**
   * Sends many datagrams with as few system calls as the platform allows (sendmmsg on Linux),
   * in order, each with its own destination and source. The callback gets the first error (or
   * null) and, for each datagram, its byte count or its Error; without a callback, each error
   * is emitted as 'error'. What the socket cannot take
   * yet waits in the send queue, as with send(). Every entry is checked before any is sent.
   */
  sendBatch(messages: ReadonlyArray<BatchMessage>, callback?: BatchCallback): void {
    if (!Array.isArray(messages)) throw invalidArgType('messages', 'an array', messages);
    const done = validateCallback<BatchCallback>(callback);
    const count = messages.length;
    const results: Array<number | Error> = new Array(count);
    let firstError: Error | null = null;
    let pending = count;
    const settle = (i: number, error: Error | null, bytes?: number) => {
      results[i] = error ?? (bytes as number);
      if (error !== null && firstError === null) firstError = error;
      if (--pending === 0 && done) done(firstError, results);
    };
    const sends = new Array<PendingSend>(count);
    for (let i = 0; i < count; i++) {
      const entry = messages[i];
      if (typeof entry !== 'object' || entry === null) throw invalidArgType(`messages[${i}]`, 'of type object', entry);
      const { chunks, destination } = this.parseSendArguments(entry.msg, [entry]);
      // Each callback is called from process.nextTick, so settle runs done from there too.
      // Without one, each failed datagram is emitted as 'error', as a send() without one is.
      sends[i] = { chunks, destination, callback: done && ((error, bytes) => settle(i, error, bytes)) };
    }
    if (!this.bindForSend(done === undefined ? undefined : (error) => done(error, results.fill(error as Error)))) return;
    if (count === 0) {
      if (done) process.nextTick(done, null, results);
      return;
    }
    if (this.coalescing !== undefined) {
      // Inside a 'message' batch: after the sends made before it in that batch.
      this.coalescing.push(...sends);
      return;
    }
    this.sends.sendMany(sends);
  }

  /** Sends now or throws: EAGAIN when the socket is full. It does not wait behind queued sends. */
  sendNow(msg: Message, options: SendOptions): number {
    const { destination, chunks } = this.parseSendArguments(msg, [options]);
    const failure = this.bindImplicitly();
    if (failure) throw failure;
    const handle = this.openHandle();
    writeRecord(this.sends.records, 0, destination);
    const result = handle.send(chunks);
    if (typeof result === 'number') return result;
    throw systemError(result, 'sendmsg', destination.address, destination.port);
  }

  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } {
    const handle = this.openHandle();
    if (!this.bound) throw notRunning();
    const result = handle.address();
    if ('code' in result) throw systemError(result as NativeErrorInfo, 'getsockname');
    return result;
  }

  close(callback?: () => void): this {
    if (callback !== undefined && typeof callback !== 'function') {
      throw invalidArgType('callback', 'of type function', callback);
    }
    const handle = this.openHandle();
    // Replies already made in this 'message' batch leave before the socket closes, as they
    // would have without coalescing.
    if (this.coalescing !== undefined) this.sends.sendMany(this.coalescing.splice(0));
    if (callback) this.once('close', callback);
    const unsent = this.sends.takeUnsent();
    this.handle = undefined;
    handle.close();
    process.nextTick(() => {
      // Each unsent datagram's callback gets its error before 'close'. One without a callback
      // is dropped quietly, as dgram drops its queue: an 'error' for it would follow nothing
      // the program can still act on, and no event may follow 'close'.
      const error = closedBeforeSent();
      for (const { callback: sent } of unsent) if (sent) sent(error);
      this.emit('close');
    });
    return this;
  }

  setBroadcast(flag: boolean): void {
    this.setOption('broadcast', flag ? 1 : 0);
  }

  setTTL(ttl: number): number {
    if (typeof ttl !== 'number') throw invalidArgType('ttl', 'of type number', ttl);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw outOfRange('ttl', 'an integer >= 1 and <= 255', ttl);
    this.setOption('ttl', ttl);
    return ttl;
  }

  setMulticastTTL(ttl: number): number {
    if (typeof ttl !== 'number') throw invalidArgType('ttl', 'of type number', ttl);
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw outOfRange('ttl', 'an integer >= 0 and <= 255', ttl);
    this.setOption('multicastTtl', ttl);
    return ttl;
  }

  setMulticastLoopback(flag: boolean): boolean {
    this.setOption('multicastLoopback', flag ? 1 : 0);
    return flag;
  }

  setRecvBufferSize(size: number): void {
    this.setOption('recvBufferSize', validateBufferSize(size, 'size'));
  }

  setSendBufferSize(size: number): void {
    this.setOption('sendBufferSize', validateBufferSize(size, 'size'));
  }

  getRecvBufferSize(): number {
    return this.getOption('recvBufferSize');
  }

  getSendBufferSize(): number {
    return this.getOption('sendBufferSize');
  }

  /** Sends that wait for the kernel to take them. */
  get queuedSends(): number {
    return this.sends.length;
  }

  ref(): this {
    this.handle?.setReferenced(true);
    this.sends.setReferenced(true);
    return this;
  }

  unref(): this {
    this.handle?.setReferenced(false);
    this.sends.setReferenced(false);
    return this;
  }

  // Calls callback with error, or emits it as 'error'.
  private fail(callback: SendCallback | undefined, error: Error): void {
    if (callback) process.nextTick(callback, error);
    else process.nextTick(() => this.emitUnlessClosed('error', error));
  }

  private openHandle(): UdpHandle {
    if (this.handle === undefined) throw notRunning();
    return this.handle;
  }

  // dgram binds an unbound socket to the wildcard address on its first send; so does this.
  // Returns why it could not.
  private bindImplicitly(): SystemError | undefined {
    return this.bound ? undefined : this.bindNow({});
  }

  // The implicit bind for a send, or that send's failure: its callback gets the bind's error
  // (or 'error' is emitted for it), and nothing waits for a poll that will never come.
  private bindForSend(callback: SendCallback | undefined): boolean {
    const failure = this.bindImplicitly();
    if (failure === undefined) return true;
    this.fail(callback, failure);
    return false;
  }

  private emitUnlessClosed(event: string, ...args: unknown[]): void {
    if (this.handle !== undefined) this.emit(event, ...args);
  }

  private nativeError(info: NativeErrorInfo, syscall: string): void {
    const error = systemError(info, syscall);
    // libuv stops a poll after an error: this socket would never receive again. Say so, and
    // close, rather than go on sending from a socket that is deaf.
    if (syscall === 'poll') this.close();
    this.emit('error', error);
  }

  private setOption(name: string, value: number): void {
    const failure = this.openHandle().setOption(name, value);
    if (failure) throw systemError(failure, 'setsockopt');
  }

  private getOption(name: string): number {
    const result = this.openHandle().getOption(name);
    if (isErrorInfo(result)) throw systemError(result, 'getsockopt');
    return result;
  }

  // Every check of a send, before anything is sent: the message, the port, both addresses
  // (parsed once, here), the interface and the callback.
  private parseSendArguments(msg: unknown, args: unknown[]): PendingSend {
    this.openHandle();
    let chunks: Chunks = toChunks(msg);
    let options: SendOptions;
    let callback: unknown;
    const [first] = args;
    if (typeof first === 'object' && first !== null) {
      options = first as SendOptions;
      callback = args[1];
    } else if (args.length >= 3 && typeof args[2] === 'number') {
      // send(msg, offset, length, port, address?, callback?)
      chunks = sliceChunks(chunks, args[0], args[1]);
      options = { port: args[2] as number };
      if (typeof args[3] === 'function') callback = args[3];
      else {
        options.address = args[3] as string | undefined;
        callback = args[4];
      }
    } else {
      options = { port: first as number };
      if (typeof args[1] === 'function') callback = args[1];
      else {
        options.address = args[1] as string | undefined;
        callback = args[2];
      }
    }
    const port = validatePort(options.port, 'port', false);
    const address = options.address ?? (this.family === 6 ? '::1' : '127.0.0.1');
    const localAddress = options.localAddress ?? undefined;
    const destination: Destination = makeDestination(
      this.family, port, address, localAddress, validateInterfaceIndex(options.interfaceIndex));
    return { chunks, destination, callback: validateCallback<SendCallback>(callback) };
  }

  private deliver(count: number, arenas: ArrayBuffer[]): void {
    const sends: PendingSend[] = [];
    this.coalescing = sends;
    try {
      this.emitMessages(count, arenas);
    } finally {
      this.coalescing = undefined;
      if (sends.length > 0 && this.handle !== undefined) this.sends.sendMany(sends);
    }
  }

  private emitMessages(count: number, arenas: ArrayBuffer[]): void {
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
    for (let i = 0; i < count && this.handle !== undefined; i++) {
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
        this.emit('message', msg, rinfo);
      } catch (error) {
        // As a throw from a dgram listener: uncaught, now. Then, if the process goes on (an
        // 'uncaughtException' handler), so does the batch: every datagram is delivered.
        binding.reportUncaught(error);
      }
    }
  }
}

export function createSocket(
  options: SocketOptions | SocketType,
  listener?: (msg: Buffer, rinfo: RemoteInfo) => void,
): Socket {
  return new Socket(options, listener);
}

/** Sends one datagram now, without queueing: returns the bytes sent or throws (EAGAIN too). */
export function sendmsg(socket: Socket, msg: Message, options: SendOptions): number {
  if (!(socket instanceof Socket)) throw invalidArgType('socket', 'an instance of Socket', socket);
  return socket.sendNow(msg, options);
}
