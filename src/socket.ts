// The dgram-like socket. It owns a native UdpHandle (a non-blocking socket polled on Node's
// loop), validates every argument, queues sends the kernel cannot take yet, and turns the
// addon's per-batch records into 'message' events.
import { EventEmitter } from 'events';

import { AddressFormatter, ipFamily, isIPv6LinkLocal } from './address';
import {
  NativeErrorInfo,
  SystemError,
  alreadyBound,
  badPort,
  badSocketType,
  closedBeforeSent,
  invalidArgType,
  invalidArgValue,
  invalidIpAddress,
  notRunning,
  outOfRange,
  systemError,
} from './errors';
import { FLAG_CONTROL_TRUNCATED, FLAG_TRUNCATED, Meta, UdpHandle, binding } from './native';

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
export type SendCallback = (error: SystemError | Error | null, bytes?: number) => void;

/** One datagram of sendBatch(): the message and send()'s options. */
export interface BatchMessage extends SendOptions {
  msg: Message;
}
export type BatchCallback = (error: Error | null, results: Array<number | Error>) => void;

export interface BindOptions {
  port?: number;
  address?: string;
}

interface QueuedSend {
  chunks: Uint8Array | Uint8Array[];
  address: string;
  port: number;
  localAddress: string | undefined;
  interfaceIndex: number | undefined;
  callback: SendCallback | undefined;
}

interface ParsedSend {
  chunks: Uint8Array | Uint8Array[];
  destination: Destination;
}

interface CoalescedSend extends ParsedSend {
  callback: SendCallback | undefined;
}

interface Destination {
  port: number;
  address: string;
  localAddress: string | undefined;
  interfaceIndex: number | undefined;
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

function toBytes(value: unknown, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw invalidArgType(
    name,
    'of type string or an instance of Buffer, TypedArray, or DataView, or an array of them',
    value,
  );
}

/** A Uint8Array, or a gather list of them sent as one datagram. */
function toChunks(msg: unknown): Uint8Array | Uint8Array[] {
  if (!Array.isArray(msg)) return toBytes(msg, 'msg');
  if (msg.length > binding.maxGatherBuffers) {
    throw outOfRange('msg.length', `<= ${binding.maxGatherBuffers} buffers in a gather list`, msg.length);
  }
  return msg.map((item) => toBytes(item, 'msg'));
}

function validatePort(value: unknown, name: string, allowZero: boolean): number {
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw invalidArgType(name, 'of type number', value);
  }
  const port = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw badPort(name === 'port' ? 'Port' : name, value, allowZero);
  }
  return port;
}

function validateInterfaceIndex(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw invalidArgType('interfaceIndex', 'of type number', value);
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw outOfRange('interfaceIndex', 'an integer >= 0 and <= 2147483647', value);
  }
  return value;
}

function validateCallback(value: unknown): SendCallback | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'function') throw invalidArgType('callback', 'of type function', value);
  return value as SendCallback;
}

function validateBufferSize(value: unknown, name: string): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value <= 0 || value > 0x7fffffff) {
    throw outOfRange(name, 'an integer > 0 and <= 2147483647', value);
  }
  return value;
}

export class Socket extends EventEmitter {
  readonly type: SocketType;
  private readonly family: 4 | 6;
  private handle: UdpHandle | undefined;
  private bound = false;
  private readonly meta: Int32Array;
  private readonly formatter: AddressFormatter;
  private queue: QueuedSend[] = [];
  private batchBytes: Float64Array | undefined;
  private coalescing: CoalescedSend[] | undefined;
  private queueHead = 0;

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

    this.type = settings.type;
    this.family = settings.type === 'udp6' ? 6 : 4;
    const ipv6Only = this.family === 6 && Boolean(settings.ipv6Only);
    this.meta = new Int32Array(binding.receiveBatch * binding.metaStride);
    this.formatter = new AddressFormatter(this.meta);
    try {
      this.handle = new binding.UdpHandle(
        this.family, ipv6Only, Boolean(settings.reuseAddr), maxMessageSize, this.meta);
    } catch (error) {
      const info = (error as { info?: NativeErrorInfo }).info;
      throw info ? systemError(info, 'socket') : error;
    }
    this.handle.onmessage = (count, ...arenas) => this.deliver(count, arenas);
    this.handle.onwritable = () => this.flushQueue();
    this.handle.onerror = (info, syscall) => this.emit('error', systemError(info, syscall));
    if (recvBufferSize !== undefined) this.setOption('recvBufferSize', recvBufferSize);
    if (sendBufferSize !== undefined) this.setOption('sendBufferSize', sendBufferSize);
    if (listener) this.on('message', listener);
  }

  bind(port?: number | BindOptions | (() => void), address?: string | (() => void), callback?: () => void): this {
    const handle = this.openHandle();
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
    const bindPort = options.port === undefined || options.port === null ? 0 : validatePort(options.port, 'port', true);
    const bindAddress = options.address ?? (this.family === 6 ? '::' : '0.0.0.0');
    this.validateAddress(bindAddress, 'address');
    if (callback) this.once('listening', callback);
    const failure = handle.bind(bindAddress, bindPort);
    if (failure) {
      process.nextTick(() => this.emit('error', systemError(failure, 'bind', bindAddress, bindPort)));
      return this;
    }
    this.bound = true;
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  /**
   * Sends one datagram; `msg` may be a gather list. Forms: `send(msg, options, cb?)`,
   * `send(msg, port, address?, cb?)`, and dgram's `send(msg, offset, length, port, address?, cb?)`.
   */
  send(msg: Message, ...args: unknown[]): void {
    const { destination, callback, chunks } = this.parseSendArguments(msg, args);
    this.ensureBound();
    if (this.coalescing !== undefined) {
      // Inside a 'message' batch: sent together with the others when the batch ends.
      this.coalescing.push({ chunks, destination, callback });
      return;
    }
    this.sendParsed(chunks, destination, callback);
  }

  private sendParsed(chunks: Uint8Array | Uint8Array[], destination: Destination, callback: SendCallback | undefined): void {
    const handle = this.openHandle();
    if (this.queueHead < this.queue.length) {
      this.enqueue(chunks, destination, callback);
      return;
    }
    const result = handle.send(chunks, destination.address, destination.port,
      destination.localAddress, destination.interfaceIndex);
    if (typeof result === 'number') {
      if (callback) process.nextTick(callback, null, result);
    } else if (result.retry) {
      this.enqueue(chunks, destination, callback);
      handle.watchWritable(true);
    } else {
      this.fail(callback, systemError(result, 'sendmsg', destination.address, destination.port));
    }
  }

  /**
   * Answers a datagram from the address it arrived on. The interface index is passed only
   * where it is needed, for IPv6 link-local: on IPv4 Linux would let it override the source.
   */
  reply(rinfo: RemoteInfo, msg: Message, callback?: SendCallback): void {
    if (typeof rinfo !== 'object' || rinfo === null) throw invalidArgType('rinfo', 'of type object', rinfo);
    const options: SendOptions = { port: rinfo.port, address: rinfo.address };
    if (rinfo.localAddress !== undefined) options.localAddress = rinfo.localAddress;
    const linkLocal = rinfo.family === 'IPv6' &&
      (isIPv6LinkLocal(rinfo.address) || (rinfo.localAddress !== undefined && isIPv6LinkLocal(rinfo.localAddress)));
    if (linkLocal && rinfo.interfaceIndex) options.interfaceIndex = rinfo.interfaceIndex;
    this.send(msg, options, callback);
  }

  /**
   * Sends many datagrams with as few system calls as the platform allows (sendmmsg on Linux),
   * in order, each with its own destination and source. The callback gets the first error (or
   * null) and, for each datagram, its byte count or its Error. What the socket cannot take
   * yet waits in the send queue, as with send().
   */
  sendBatch(messages: ReadonlyArray<BatchMessage>, callback?: BatchCallback): void {
    if (!Array.isArray(messages)) throw invalidArgType('messages', 'an array', messages);
    const done = validateCallback(callback) as BatchCallback | undefined;
    const parsed = messages.map((entry, i) => {
      if (typeof entry !== 'object' || entry === null) throw invalidArgType(`messages[${i}]`, 'of type object', entry);
      return this.parseSendArguments(entry.msg, [entry]);
    });
    this.ensureBound();
    const count = parsed.length;
    const results: Array<number | Error> = new Array(count);
    let firstError: Error | null = null;
    let pending = count;
    if (count === 0) {
      if (done) process.nextTick(done, null, results);
      return;
    }
    const settle = (i: number, result: number | Error) => {
      results[i] = result;
      if (result instanceof Error && firstError === null) firstError = result;
      if (--pending === 0 && done) process.nextTick(done, firstError, results);
    };
    if (this.coalescing !== undefined) {
      // Inside a 'message' batch: after the sends made before it in that batch.
      parsed.forEach((entry, i) => this.coalescing?.push({
        ...entry, callback: (error, bytes) => settle(i, error ?? (bytes as number)) }));
      return;
    }
    this.transmit(parsed, settle);
  }

  // Sends parsed datagrams in order with as few system calls as the platform allows, or
  // queues what the socket cannot take yet; settle(i, bytes | error) once for each.
  private transmit(parsed: ParsedSend[], settle: (i: number, result: number | Error) => void): void {
    const handle = this.openHandle();
    const count = parsed.length;
    let next = 0;
    if (this.queueHead < this.queue.length) {
      // Behind sends already waiting: keep the order.
      for (; next < count; next++) this.enqueueSettled(parsed[next], next, settle);
      return;
    }
    const size = binding.sendBatchSize;
    const bytes = (this.batchBytes ??= new Float64Array(size));
    while (next < count) {
      const end = Math.min(count, next + size);
      const msgs = [], addresses = [], ports = [], locals = [], interfaces = [];
      for (let i = next; i < end; i++) {
        const { chunks, destination } = parsed[i];
        msgs.push(chunks);
        addresses.push(destination.address);
        ports.push(destination.port);
        locals.push(destination.localAddress);
        interfaces.push(destination.interfaceIndex);
      }
      const result = handle.sendBatch(msgs, addresses, ports, locals, interfaces, bytes);
      const sent = typeof result === 'number' ? result : result.sent ?? 0;
      for (let k = 0; k < sent; k++) settle(next + k, bytes[k]);
      next += sent;
      if (typeof result === 'number') continue;
      if (result.retry) {
        for (; next < count; next++) this.enqueueSettled(parsed[next], next, settle);
        handle.watchWritable(true);
        return;
      }
      const { destination } = parsed[next];
      settle(next, systemError(result, 'sendmsg', destination.address, destination.port));
      next++;
    }
  }

  // The sends made by 'message' listeners of one received batch go out together, in one
  // sendmmsg on Linux: a server that answers each query sends its answers that way.
  private flushCoalesced(sends: CoalescedSend[]): void {
    if (sends.length === 0) return;
    if (this.handle === undefined) {
      for (const { callback } of sends) this.fail(callback, closedBeforeSent());
      return;
    }
    if (sends.length === 1) {
      const [{ chunks, destination, callback }] = sends;
      this.sendParsed(chunks, destination, callback);
      return;
    }
    this.transmit(sends, (i, result) => {
      const { callback } = sends[i];
      if (result instanceof Error) this.fail(callback, result);
      else if (callback) process.nextTick(callback, null, result);
    });
  }

  /** Sends now or throws: EAGAIN when the socket is full. It does not wait behind queued sends. */
  sendNow(msg: Message, options: SendOptions): number {
    const { destination, chunks } = this.parseSendArguments(msg, [options]);
    const handle = this.ensureBound();
    const result = handle.send(chunks, destination.address, destination.port,
      destination.localAddress, destination.interfaceIndex);
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
    if (this.coalescing !== undefined) this.flushCoalesced(this.coalescing.splice(0));
    if (callback) this.once('close', callback);
    this.handle = undefined;
    handle.close();
    const unsent = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    process.nextTick(() => {
      for (const entry of unsent) this.fail(entry.callback, closedBeforeSent());
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
    return this.queue.length - this.queueHead;
  }

  ref(): this {
    this.handle?.setReferenced(true);
    return this;
  }

  unref(): this {
    this.handle?.setReferenced(false);
    return this;
  }

  private openHandle(): UdpHandle {
    if (this.handle === undefined) throw notRunning();
    return this.handle;
  }

  // dgram binds an unbound socket to the wildcard address on its first send; so does this.
  private ensureBound(): UdpHandle {
    if (!this.bound) this.bind(0);
    return this.openHandle();
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

  /** The address's family (a v4-mapped one counts as 4), or a throw. */
  private validateAddress(address: unknown, name: string): 4 | 6 {
    if (typeof address !== 'string') throw invalidArgType(name, 'of type string', address);
    const family = ipFamily(address);
    if (family === 0) throw invalidIpAddress(name, address);
    if (family === 6 && this.family === 4) {
      throw invalidArgValue(name, address, 'must be an IPv4 address on a udp4 socket');
    }
    return family;
  }

  private parseSendArguments(msg: unknown, args: unknown[]) {
    this.openHandle();
    let chunks = toChunks(msg);
    let options: SendOptions;
    let callback: unknown;
    const [first] = args;
    if (typeof first === 'object' && first !== null) {
      options = first as SendOptions;
      callback = args[1];
    } else if (args.length >= 3 && typeof args[2] === 'number') {
      // send(msg, offset, length, port, address?, callback?)
      chunks = this.slice(chunks, args[0], args[1]);
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
    const destination: Destination = {
      port: validatePort(options.port, 'port', false),
      address: options.address ?? (this.family === 6 ? '::1' : '127.0.0.1'),
      localAddress: options.localAddress ?? undefined,
      interfaceIndex: validateInterfaceIndex(options.interfaceIndex),
    };
    const packetFamily = this.validateAddress(destination.address, 'address');
    if (destination.localAddress !== undefined &&
        this.validateAddress(destination.localAddress, 'localAddress') !== packetFamily) {
      throw invalidArgValue('localAddress', destination.localAddress,
        `must be an IPv${packetFamily} address to send to ${destination.address}`);
    }
    return { destination, callback: validateCallback(callback), chunks };
  }

  private slice(chunks: Uint8Array | Uint8Array[], offset: unknown, length: unknown): Uint8Array {
    if (Array.isArray(chunks)) throw invalidArgValue('msg', chunks, 'must be a single buffer when offset and length are given');
    if (typeof offset !== 'number') throw invalidArgType('offset', 'of type number', offset);
    if (typeof length !== 'number') throw invalidArgType('length', 'of type number', length);
    if (!Number.isInteger(offset) || offset < 0 || offset > chunks.length) {
      throw outOfRange('offset', `an integer >= 0 and <= ${chunks.length}`, offset);
    }
    if (!Number.isInteger(length) || length < 0 || offset + length > chunks.length) {
      throw outOfRange('length', `an integer >= 0 and <= ${chunks.length - offset}`, length);
    }
    return chunks.subarray(offset, offset + length);
  }

  private enqueueSettled(
    { chunks, destination }: ParsedSend,
    index: number,
    settle: (i: number, result: number | Error) => void,
  ) {
    this.enqueue(chunks, destination, (error, bytes) => settle(index, error ?? (bytes as number)));
  }

  private enqueue(chunks: Uint8Array | Uint8Array[], destination: Destination, callback: SendCallback | undefined) {
    this.queue.push({ chunks, ...destination, callback });
  }

  // Called when the socket can take more: sends in order until it is full again.
  private flushQueue(): void {
    const handle = this.handle;
    if (handle === undefined) return;
    while (this.queueHead < this.queue.length) {
      const entry = this.queue[this.queueHead];
      const result = handle.send(entry.chunks, entry.address, entry.port, entry.localAddress, entry.interfaceIndex);
      if (!(typeof result === 'number') && result.retry) return;
      this.queueHead++;
      if (typeof result === 'number') {
        if (entry.callback) entry.callback(null, result);
      } else {
        this.fail(entry.callback, systemError(result, 'sendmsg', entry.address, entry.port));
      }
      if (this.handle === undefined) return; // a callback closed the socket
    }
    this.queue = [];
    this.queueHead = 0;
    handle.watchWritable(false);
  }

  private fail(callback: SendCallback | undefined, error: Error): void {
    if (callback) process.nextTick(callback, error);
    else process.nextTick(() => this.emit('error', error));
  }

  private deliver(count: number, arenas: ArrayBuffer[]): void {
    const sends: CoalescedSend[] = [];
    this.coalescing = sends;
    try {
      this.emitMessages(count, arenas);
    } finally {
      this.coalescing = undefined;
      this.flushCoalesced(sends);
    }
  }

  private emitMessages(count: number, arenas: ArrayBuffer[]): void {
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
      if (scope !== 0 && peerFamily === 6 && isIPv6LinkLocal(address)) address += `%${scope}`;
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
      this.emit('message', msg, rinfo);
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
