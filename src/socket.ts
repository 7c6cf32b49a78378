// The dgram-like socket: lifecycle, bind and connect, socket options and multicast. It owns a
// native UdpHandle (a non-blocking socket polled on Node's loop), judges every argument (a
// send's in its SendJudge, src/send-arguments.ts; a membership's in src/multicast.ts), hands
// sends to its SendQueue (src/send-queue.ts) and received batches to its Receiver
// (src/receive.ts).
import { lookup as dnsLookup } from 'dns';
import { EventEmitter } from 'events';

import { ipArgument, isHostName, isIPv6LinkLocal, isUnspecified, parseIp } from './address';
import { isArray, validateBufferSize, validateCallback, validateCount, validatePort } from './arguments';
import {
  NativeErrorInfo,
  SystemError,
  alreadyBound,
  badBufferSize,
  badSocketType,
  bufferSizeError,
  closedBeforeSent,
  errnoError,
  invalidArgType,
  invalidArgValue,
  isConnected,
  notConnected,
  notRunning,
  systemError,
} from './errors';
import { InterfaceSelector, interfaceChoice } from './interfaces';
import { judgeMembership, writeInterface, writeMembership } from './multicast';
import { UdpHandle, binding } from './native';
import { Receiver, RemoteInfo } from './receive';
import { NamedSend, SendJudge } from './send-arguments';
import { DEFAULT_SEND_QUEUE_LIMIT, PendingSend, SendCallback, SendQueue, pendingSend, sendError } from './send-queue';
import { Destination, makeBindAddress, makeDestination, writeRecord } from './send-record';

export type { SendCallback } from './send-queue';
export type { RemoteInfo } from './receive';

export type SocketType = 'udp4' | 'udp6';

/** dgram's lookup option: dns.lookup's shape, called as lookup(hostname, family, callback). */
export type LookupFunction = (
  hostname: string,
  family: number,
  callback: (error: Error | null, address: string, family?: number) => void,
) => void;

export interface SocketOptions {
  type: SocketType;
  /** udp6 only: refuse IPv4 (IPV6_V6ONLY). Default false: a dual-stack socket. */
  ipv6Only?: boolean;
  /** Let several sockets bind the same address and port (SO_REUSEADDR / SO_REUSEPORT). */
  reuseAddr?: boolean;
  /**
   * Let several sockets bind the same port and share its datagrams, balanced by the kernel:
   * SO_REUSEPORT on Linux, SO_REUSEPORT_LB on FreeBSD. Elsewhere createSocket throws EOPNOTSUPP.
   */
  reusePort?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Resolves host names, as dgram's option. Default: dns.lookup. */
  lookup?: LookupFunction;
  /** Aborting it closes the socket. */
  signal?: AbortSignal;
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

/** Where and how one datagram goes. Every field but port is optional. */
export interface SendOptions {
  /** The destination's port. Not on a connected socket. */
  port?: number;
  /** The destination: an IP literal or a host name. Default: loopback. Not on a connected socket. */
  address?: string;
  /** The source address. It must be local: otherwise the send fails with EADDRNOTAVAIL. */
  localAddress?: string;
  /**
   * The outgoing link, also for multicast. On IPv4, Linux sends from localAddress by this link
   * when both are given.
   */
  interfaceIndex?: number;
  /** The outgoing link by name: the same as its interfaceIndex, looked up at the send. */
  interfaceName?: string;
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
  /** Accepted for dgram's sake; a socket here is never shared with a cluster's primary. */
  exclusive?: boolean;
}

/** An interface as addMembership and setMulticastInterface take it: dgram's string, or ours. */
export type MulticastInterface = string | InterfaceSelector;

const asyncDispose: symbol =
  (Symbol as unknown as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for('nodejs.asyncDispose');

function isErrorInfo(value: unknown): value is NativeErrorInfo {
  return typeof value === 'object' && value !== null;
}

// An operation held while a host name is looked up: run it later, in order, or fail it.
interface Held {
  run(): void;
  cancel(error: Error): void;
}

export class Socket extends EventEmitter {
  readonly type: SocketType;
  private readonly family: 4 | 6;
  private handle: UdpHandle | undefined;
  private bound = false;
  private connectedTo: Destination | undefined;
  // A connect() is under way, until its callback (or 'connect' / 'error') is delivered: another
  // connect() is refused, and disconnect() and remoteAddress() say it is not connected yet, as
  // in dgram.
  private connecting = false;
  private readonly receiver = new Receiver();
  private readonly sends: SendQueue;
  private readonly lookup: LookupFunction;
  // Judges every send's arguments, and keeps the destination of the last one (send-arguments.ts).
  private readonly judge: SendJudge;
  // reply()'s options for judgeSend, one object per socket rather than one per answer.
  private readonly replyOptions: SendOptions = {
    port: 0, address: undefined, localAddress: undefined, interfaceIndex: undefined, interfaceName: undefined,
  };
  // While a host name is looked up (for bind, connect or a send), what comes after it waits
  // here, in order, as in dgram; undefined when nothing is looked up.
  private held: Held[] | undefined;
  // How to fail the operation whose name is being looked up (close() cancels it, as the held
  // ones); undefined when no lookup is under way.
  private lookingUp: ((error: Error) => void) | undefined;

  constructor(options: SocketOptions | SocketType, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    const settings: SocketOptions =
      typeof options === 'object' && options !== null ? options : { type: options };
    if (settings.type !== 'udp4' && settings.type !== 'udp6') throw badSocketType(settings.type);
    if (listener !== undefined && typeof listener !== 'function') {
      throw invalidArgType('listener', 'of type function', listener);
    }
    const maxMessageSize = settings.maxMessageSize === undefined ? 65535
      : validateCount(settings.maxMessageSize, 'options.maxMessageSize', 65535);
    const sendQueueLimit = settings.sendQueueLimit === undefined ? DEFAULT_SEND_QUEUE_LIMIT
      : validateCount(settings.sendQueueLimit, 'options.sendQueueLimit');
    if (settings.lookup !== undefined && typeof settings.lookup !== 'function') {
      throw invalidArgType('options.lookup', 'of type function', settings.lookup);
    }
    for (const name of ['receiveBlockList', 'sendBlockList'] as const) {
      // A filter silently ignored would let through what it was meant to stop: refuse it.
      if ((settings as unknown as Record<string, unknown>)[name] !== undefined) {
        throw invalidArgValue(`options.${name}`, (settings as unknown as Record<string, unknown>)[name], 'is not supported by sendmsg');
      }
    }
    const { signal } = settings;
    if (signal !== undefined && (typeof signal !== 'object' || signal === null || !('aborted' in signal))) {
      throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
    }
    this.lookup = settings.lookup ?? (dnsLookup as unknown as LookupFunction);

    this.type = settings.type;
    this.family = settings.type === 'udp6' ? 6 : 4;
    const ipv6Only = this.family === 6 && Boolean(settings.ipv6Only);
    const socket = this; // eslint-disable-line @typescript-eslint/no-this-alias
    this.sends = new SendQueue({
      get handle() { return socket.handle; },
      fail: (callback, error) => this.fail(callback, error),
    }, sendQueueLimit);
    this.judge = new SendJudge(this.family, {
      openHandle: () => { this.openHandle(); },
      get connectedTo() { return socket.connectedTo; },
    });
    try {
      this.handle = new binding.UdpHandle(this.family, ipv6Only, Boolean(settings.reuseAddr),
        maxMessageSize, this.receiver.meta, this.sends.records, Boolean(settings.reusePort));
    } catch (error) {
      const info = (error as { info?: NativeErrorInfo }).info;
      throw info ? systemError(info, 'socket') : error;
    }
    this.handle.onmessage = (count, ...arenas) => this.deliver(count, arenas);
    this.handle.onwritable = () => this.sends.drain();
    this.handle.onerror = (info, syscall) => this.nativeError(info, syscall);
    if (settings.recvBufferSize !== undefined) this.setRecvBufferSize(settings.recvBufferSize);
    if (settings.sendBufferSize !== undefined) this.setSendBufferSize(settings.sendBufferSize);
    if (listener) this.on('message', listener);
    if (signal !== undefined) {
      const onAbort = () => { if (this.handle !== undefined) this.close(); };
      if (signal.aborted) process.nextTick(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
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
    if (callback !== undefined && callback !== null && typeof callback !== 'function') {
      throw invalidArgType('callback', 'of type function', callback);
    }
    if ((options as { fd?: unknown }).fd !== undefined) {
      throw invalidArgValue('options.fd', (options as { fd?: unknown }).fd, 'is not supported: sendmsg opens its own sockets');
    }
    if (this.bound || this.held !== undefined) throw alreadyBound();
    const bindPort = options.port === undefined || options.port === null ? 0 : validatePort(options.port, 'port', true);
    const bindAddress = options.address || (this.family === 6 ? '::' : '0.0.0.0');
    if (typeof bindAddress !== 'string') throw invalidArgType('address', 'of type string', bindAddress);
    const listening = callback ?? undefined;
    const finish = (ip: string) => {
      const failure = this.bindNow(bindPort, ip);
      if (failure) {
        process.nextTick(() => this.emitUnlessClosed('error', failure));
        return;
      }
      // Called once, on this bind's success only: a failed bind leaves no listener behind.
      if (listening) this.once('listening', listening);
    };
    if (parseIp(bindAddress) === null && isHostName(bindAddress)) {
      const failed = (error: Error) => process.nextTick(() => this.emitUnlessClosed('error', error));
      this.resolve(bindAddress, this.family, (ip) => {
        // The lookup may answer with no address this socket can bind: 'error', as in dgram.
        try {
          finish(ip);
        } catch (error) {
          failed(error as Error);
        }
      }, failed);
    } else {
      finish(bindAddress);
    }
    return this;
  }

  /**
   * dgram's synchronous bind (Node 24): binds now to an IP literal (no lookup) and returns the
   * bound address; a failure throws. 'listening' follows on the next tick.
   */
  bindSync(options: { port?: number; address?: string } = {}): { address: string; family: 'IPv4' | 'IPv6'; port: number } {
    this.openHandle();
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    if (this.bound || this.held !== undefined) throw alreadyBound();
    const port = options.port === undefined ? 0 : validatePort(options.port, 'port', true);
    const address = options.address ?? (this.family === 6 ? '::' : '0.0.0.0');
    if (typeof address !== 'string') throw invalidArgType('address', 'of type string', address);
    ipArgument(address, 'address');
    const failure = this.bindNow(port, address);
    if (failure) throw failure;
    return this.address();
  }

  /**
   * dgram's synchronous connect (Node 24): connects now to an IP literal (no lookup), binding
   * first if the socket is not bound; a failure throws. 'connect' follows on the next tick.
   */
  connectSync(port: number, address?: string): void {
    const peerPort = validatePort(port, 'Port', false);
    const peer = address || (this.family === 6 ? '::1' : '127.0.0.1');
    if (typeof peer !== 'string') throw invalidArgType('address', 'of type string', peer);
    this.openHandle();
    if (this.connectedTo !== undefined) throw isConnected();
    if (this.held !== undefined) throw alreadyBound();
    const destination = makeDestination(this.family, peerPort, peer, undefined, undefined);
    const failure = this.bindImplicitly();
    if (failure) throw failure;
    this.sends.flush(); // this turn's sends go where they were sent, not to the peer
    writeRecord(this.sends.records, 0, destination);
    const result = this.openHandle().connect();
    if (result) throw systemError(result, 'connect', peer, peerPort);
    this.connectedTo = destination;
    process.nextTick(() => this.emitUnlessClosed('connect'));
  }

  // Binds now, or returns why not. 'listening' follows on the next tick.
  private bindNow(port: number, address: string): SystemError | undefined {
    const handle = this.openHandle();
    writeRecord(this.sends.records, 0, makeBindAddress(this.family, port, address));
    const failure = handle.bind();
    if (failure) return systemError(failure, 'bind', address, port);
    this.bound = true;
    process.nextTick(() => this.emitUnlessClosed('listening'));
    return undefined;
  }

  /**
   * Associates the socket with one peer, as dgram's connect(): only its datagrams arrive (with
   * their packet info, as ever), and send() without a destination goes to it. 'connect' (and
   * callback) follow, or 'error' (or callback(error)).
   */
  connect(port: number, address?: string | ((error?: Error) => void), callback?: (error?: Error) => void): void {
    const peerPort = validatePort(port, 'Port', false);
    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    }
    // As dgram: no address, or '', is loopback; any other value that is no string is refused.
    const peer = address === undefined || address === '' ? (this.family === 6 ? '::1' : '127.0.0.1') : address;
    if (typeof peer !== 'string') throw invalidArgType('address', 'of type string', peer);
    if (callback !== undefined && typeof callback !== 'function') {
      throw invalidArgType('callback', 'of type function', callback);
    }
    this.openHandle();
    if (this.connectedTo !== undefined || this.connecting) throw isConnected();
    // An IP literal is judged now, as send() judges it: a bad one throws here, not later.
    const named = parseIp(peer) === null && isHostName(peer);
    const literal = named ? undefined : makeDestination(this.family, peerPort, peer, undefined, undefined);
    this.connecting = true;
    const done = (error?: Error) => {
      process.nextTick(() => {
        this.connecting = false;
        if (this.handle === undefined) return;
        if (callback) callback(error);
        else if (error) this.emit('error', error);
        // The callback may have closed the socket: then no event follows.
        if (!error && this.handle !== undefined) this.emit('connect');
      });
    };
    const connectTo = (destination: Destination) => {
      if (this.handle === undefined) return;
      const failure = this.bindImplicitly();
      if (failure) return done(failure);
      this.sends.flush(); // this turn's sends go where they were sent, not to the peer
      writeRecord(this.sends.records, 0, destination);
      const result = this.openHandle().connect();
      if (result) return done(systemError(result, 'connect', peer, peerPort));
      this.connectedTo = destination;
      return done();
    };
    if (literal === undefined) {
      this.resolve(peer, this.family, (ip) => {
        let destination: Destination;
        try {
          destination = makeDestination(this.family, peerPort, ip, undefined, undefined);
        } catch (error) {
          return done(error as Error); // the lookup answered with no address for this socket
        }
        return connectTo(destination);
      }, done);
    } else if (!this.holdIfLookingUp({ run: () => connectTo(literal), cancel: done })) connectTo(literal);
  }


  /** Dissolves connect()'s association. */
  disconnect(): void {
    const handle = this.openHandle();
    if (this.connectedTo === undefined || this.connecting) throw notConnected();
    this.sends.flush(); // this turn's sends to the peer leave while it is still connected
    const failure = handle.disconnect();
    if (failure) throw systemError(failure, 'connect');
    this.connectedTo = undefined;
  }

  /** The connected peer. */
  remoteAddress(): { address: string; family: 'IPv4' | 'IPv6'; port: number } {
    const handle = this.openHandle();
    if (this.connectedTo === undefined || this.connecting) throw notConnected();
    const result = handle.remoteAddress();
    if ('code' in result) throw systemError(result as NativeErrorInfo, 'getpeername');
    return result;
  }

  /**
   * Sends one datagram; `msg` may be a gather list. dgram's forms, and an options object:
   * `send(msg, options, cb?)`, `send(msg, port, address?, cb?)`,
   * `send(msg, offset, length, port, address?, cb?)`; on a connected socket `send(msg, cb?)`,
   * `send(msg, offset, length, cb?)` and `send(msg, { localAddress, interfaceIndex }, cb?)`.
   */
  send(msg: Message, options: SendOptions, callback?: SendCallback): void;
  send(msg: Message, port: number, address?: string, callback?: SendCallback): void;
  send(msg: Message, port: number, callback?: SendCallback): void;
  send(msg: ArrayBufferView | string, offset: number, length: number, port: number, address?: string, callback?: SendCallback): void;
  send(msg: ArrayBufferView | string, offset: number, length: number, port: number, callback?: SendCallback): void;
  send(msg: ArrayBufferView | string, offset: number, length: number, callback?: SendCallback): void;
  send(msg: Message, callback?: SendCallback): void;
  send(msg: Message, ...args: unknown[]): void {
    const send = this.judge.parseSendArguments(msg, args);
    this.submit(send);
  }

  // Sends a judged datagram: now, in this batch's replies, or behind a lookup.
  private submit(send: PendingSend | NamedSend): void {
    if (this.holdIfLookingUp({ run: () => this.submit(send), cancel: (error) => this.fail(send.callback, error) })) return;
    if ('hostname' in send) {
      this.resolve(send.hostname, send.family, (ip) => {
        let destination: Destination;
        try {
          destination = makeDestination(this.family, send.port, ip, send.localAddress, send.interfaceIndex);
        } catch (error) {
          return this.fail(send.callback, error as Error);
        }
        return this.submit(pendingSend(send.chunks, destination, send.callback));
      }, (error) => this.fail(send.callback, error));
      return;
    }
    if (!this.bindForSend(send.callback)) return;
    this.sends.send(send);
  }

  /**
   * Answers a datagram from the address it arrived on. The interface index is passed only
   * where it is needed, for IPv6 link-local; elsewhere the kernel routes the answer as it
   * routes any datagram from that address.
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
    const linkLocal = rinfo.family === 'IPv6' &&
      (isIPv6LinkLocal(address) || (typeof localAddress === 'string' && isIPv6LinkLocal(localAddress)));
    if (this.connectedTo !== undefined) throw isConnected();
    // Every field written for this reply: judgeSend only reads them, and keeps nothing of it.
    const options = this.replyOptions;
    options.port = port;
    options.address = address;
    options.localAddress = localAddress;
    options.interfaceIndex = linkLocal && interfaceIndex ? interfaceIndex : undefined;
    this.submit(this.judge.judgeSend(msg, options, callback));
  }

  /**
   * Sends many datagrams with as few system calls as the platform allows (sendmmsg on Linux),
   * in order, each with its own destination and source. The callback gets the first error (or
   * null) and, for each datagram, its byte count or its Error; without a callback, each error
   * is emitted as 'error'. What the socket cannot take yet waits in the send queue, as with
   * send(). Every entry is checked before any is sent. Destinations are IP literals.
   */
  sendBatch(messages: ReadonlyArray<BatchMessage>, callback?: BatchCallback): void {
    this.openHandle(); // also for an empty batch, which sends nothing
    if (!isArray(messages)) throw invalidArgType('messages', 'an array', messages);
    const done = validateCallback<BatchCallback>(callback);
    const count = messages.length;
    const results: Array<number | Error> = new Array(count);
    // The error of the first datagram that failed, in the batch's order: one refused for a full
    // queue fails at once, before those ahead of it are settled.
    let firstError: Error | null = null;
    let firstErrorAt = count;
    let pending = count;
    const settle = (i: number, error: Error | null, bytes?: number) => {
      results[i] = error ?? (bytes as number);
      if (error !== null && i < firstErrorAt) {
        firstError = error;
        firstErrorAt = i;
      }
      if (--pending === 0 && done) done(firstError, results);
    };
    const sends = new Array<PendingSend>(count);
    for (let i = 0; i < count; i++) {
      const entry = messages[i];
      if (typeof entry !== 'object' || entry === null) throw invalidArgType(`messages[${i}]`, 'of type object', entry);
      const send = this.judge.judgeSend(entry.msg, entry, undefined);
      if ('hostname' in send) {
        throw invalidArgValue(`messages[${i}].address`, send.hostname, 'must be an IP literal: sendBatch does not look up host names');
      }
      // Each callback is called from process.nextTick, so settle runs done from there too.
      // Without one, each failed datagram is emitted as 'error', as a send() without one is.
      if (done) send.callback = (error, bytes) => settle(i, error, bytes);
      sends[i] = send;
    }
    const run = () => {
      if (!this.bindForSend(done === undefined ? undefined : (error) => done(error, results.fill(error as Error)))) return;
      if (count === 0) {
        if (done) process.nextTick(done, null, results);
        return;
      }
      this.sends.sendMany(sends);
    };
    const cancel = (error: Error) => {
      // An empty batch has no datagram to fail: none failed, and its callback still comes.
      if (count === 0 && done) process.nextTick(done, null, results);
      sends.forEach((s) => this.fail(s.callback, error));
    };
    if (!this.holdIfLookingUp({ run, cancel })) run();
  }

  /** Sends now or throws: EAGAIN when the socket is full. It does not wait behind queued sends. */
  sendNow(msg: Message, options: SendOptions): number {
    const send = this.judge.parseSendArguments(msg, [options]);
    if ('hostname' in send) throw invalidArgValue('address', send.hostname, 'must be an IP literal for sendmsg()');
    const failure = this.bindImplicitly();
    if (failure) throw failure;
    const handle = this.openHandle();
    writeRecord(this.sends.records, 0, send.destination);
    const result = handle.send(send.chunks);
    if (typeof result === 'number') return result;
    throw sendError(result, send.destination);
  }

  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } {
    const handle = this.openHandle();
    // dgram's socket has no descriptor before bind, and says EBADF; this one has, unbound.
    if (!this.bound) throw errnoError('EBADF', 'getsockname');
    const result = handle.address();
    if ('code' in result) throw systemError(result as NativeErrorInfo, 'getsockname');
    return result;
  }

  close(callback?: () => void): this {
    const handle = this.openHandle();
    // The sends of this turn leave before the socket closes.
    this.sends.flush();
    if (typeof callback === 'function') this.once('close', callback);
    const held = this.held ?? [];
    const lookingUp = this.lookingUp;
    this.held = undefined;
    this.lookingUp = undefined;
    this.handle = undefined;
    this.connectedTo = undefined;
    this.connecting = false;
    handle.close();
    // Each unsent datagram's callback (queued, waiting for its name's lookup, or held behind
    // one) gets its error before 'close', in the order of the sends, each from a tick of its
    // own, so that one that throws cannot keep the rest, or 'close', from coming. One without a
    // callback is dropped quietly, as dgram drops its queue: an 'error' for it would follow
    // nothing the program can still act on, and no event may follow 'close'.
    const error = closedBeforeSent();
    this.sends.close(error);
    if (lookingUp) lookingUp(error);
    for (const operation of held) operation.cancel(error);
    // Two ticks on: a send of this turn whose callback had to wait behind an earlier send's
    // (send-queue.ts, behindLate) comes one tick after that one, and still before 'close'.
    process.nextTick(() => process.nextTick(() => this.emit('close')));
    return this;
  }

  /** As dgram's: closes the socket, and resolves once it is closed. */
  async [asyncDispose](): Promise<void> {
    if (this.handle === undefined) return;
    await new Promise<void>((resolve) => this.close(resolve));
  }

  setBroadcast(flag: boolean): void {
    this.setOption('broadcast', flag ? 1 : 0, 'setBroadcast');
  }

  /** The unicast hop limit, 1 to 255; anything else fails with EINVAL, as in dgram. */
  setTTL(ttl: number): number {
    this.setOption('ttl', this.hopLimit(ttl, 1, 'setTTL'), 'setTTL');
    return ttl;
  }

  /** The multicast hop limit, 0 to 255; anything else fails with EINVAL, as in dgram. */
  setMulticastTTL(ttl: number): number {
    this.setOption('multicastTtl', this.hopLimit(ttl, 0, 'setMulticastTTL'), 'setMulticastTTL');
    return ttl;
  }

  setMulticastLoopback(flag: boolean): boolean {
    this.setOption('multicastLoopback', flag ? 1 : 0, 'setMulticastLoopback');
    return flag;
  }

  /**
   * The interface multicast datagrams leave by when a send does not choose one: dgram's forms
   * (udp4: an address of the interface, '0.0.0.0' for the default; udp6: '::%eth0') or
   * { interfaceIndex } / { interfaceName }.
   */
  setMulticastInterface(multicastInterface: MulticastInterface): void {
    this.openHandle();
    if (typeof multicastInterface !== 'string' && (typeof multicastInterface !== 'object' || multicastInterface === null)) {
      throw invalidArgType('interfaceAddress', 'of type string', multicastInterface);
    }
    const choice = interfaceChoice(multicastInterface, this.family, 'interfaceAddress');
    this.sends.flush();
    writeInterface(this.sends.records, choice);
    const failure = this.openHandle().setMulticastInterface(this.family);
    if (failure) throw systemError(failure, 'setMulticastInterface');
  }

  /** Joins a multicast group, on one interface (dgram's forms, or by index or name) or the kernel's choice. */
  addMembership(multicastAddress: string, multicastInterface?: MulticastInterface): void {
    this.membership(true, undefined, multicastAddress, multicastInterface, 'addMembership');
  }

  dropMembership(multicastAddress: string, multicastInterface?: MulticastInterface): void {
    this.membership(false, undefined, multicastAddress, multicastInterface, 'dropMembership');
  }

  /** Joins a group for the datagrams of one source only (SSM, IGMPv3 / MLDv2). */
  addSourceSpecificMembership(sourceAddress: string, groupAddress: string, multicastInterface?: MulticastInterface): void {
    this.membership(true, sourceAddress, groupAddress, multicastInterface, 'addSourceSpecificMembership');
  }

  dropSourceSpecificMembership(sourceAddress: string, groupAddress: string, multicastInterface?: MulticastInterface): void {
    this.membership(false, sourceAddress, groupAddress, multicastInterface, 'dropSourceSpecificMembership');
  }

  private membership(join: boolean, sourceAddress: string | undefined, groupAddress: string,
    multicastInterface: MulticastInterface | undefined, syscall: string): void {
    this.openHandle();
    const membership = judgeMembership(this.family, sourceAddress, groupAddress, multicastInterface, syscall);
    // dgram binds a socket that joins before it is bound; so does this.
    const failure = this.bindImplicitly();
    if (failure) throw failure;
    writeMembership(this.sends.records, membership);
    const error = this.openHandle().setMembership(join);
    if (error) throw systemError(error, syscall);
  }

  setRecvBufferSize(size: number): void {
    this.bufferSize('recvBufferSize', size);
  }

  setSendBufferSize(size: number): void {
    this.bufferSize('sendBufferSize', size);
  }

  getRecvBufferSize(): number {
    return this.bufferSize('recvBufferSize');
  }

  getSendBufferSize(): number {
    return this.bufferSize('sendBufferSize');
  }

  /** Sends that wait for the kernel to take them. */
  get queuedSends(): number {
    return this.sends.length;
  }

  /** dgram's: the number of datagrams waiting to be sent. */
  getSendQueueCount(): number {
    return this.sends.length;
  }

  /** dgram's: the bytes waiting to be sent. */
  getSendQueueSize(): number {
    return this.sends.bytes;
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
    return this.bound ? undefined : this.bindNow(0, this.family === 6 ? '::' : '0.0.0.0');
  }

  // The implicit bind for a send, or that send's failure: its callback gets the bind's error
  // (or 'error' is emitted for it), and nothing waits for a poll that will never come.
  private bindForSend(callback: SendCallback | undefined): boolean {
    const failure = this.bindImplicitly();
    if (failure === undefined) return true;
    this.fail(callback, failure);
    return false;
  }

  // Looks hostname up with the lookup option; what comes after waits until it answers.
  private resolve(hostname: string, family: 4 | 6, done: (ip: string) => void, failed: (error: Error) => void): void {
    if (this.holdIfLookingUp({ run: () => this.resolve(hostname, family, done, failed), cancel: failed })) return;
    this.held = [];
    this.lookingUp = failed;
    let answered = false;
    const answer = (error: Error | null, address?: string) => {
      if (answered) return;
      answered = true;
      this.lookingUp = undefined;
      const held = this.held ?? [];
      this.held = undefined;
      if (this.handle === undefined) return; // closed meanwhile: close() cancelled the rest
      if (error) failed(error);
      else if (typeof address !== 'string') failed(invalidArgValue('lookup', address, 'must call back with an address string'));
      else done(address);
      // In order; one of them may start another lookup, and the rest wait behind it again.
      for (let i = 0; i < held.length; i++) {
        // A run may start another lookup (this.held again): the rest wait behind it.
        const again = this.held as Held[] | undefined;
        if (again !== undefined) {
          again.push(...held.slice(i));
          break;
        }
        held[i].run();
      }
    };
    try {
      this.lookup(hostname, family, (error, address) => answer(error, address));
    } catch (error) {
      answer(error as Error);
    }
  }

  private holdIfLookingUp(operation: Held): boolean {
    if (this.held === undefined) return false;
    this.held.push(operation);
    return true;
  }

  private emitUnlessClosed(event: string, ...args: unknown[]): void {
    if (this.handle !== undefined) this.emit(event, ...args);
  }

  private nativeError(info: NativeErrorInfo, syscall: string): void {
    const error = systemError(info, syscall);
    // libuv stops a poll after an error that the addon could not clear: this socket would
    // never receive again. Say so, and close, rather than go on sending from a deaf socket.
    if (syscall === 'poll') this.close();
    this.emit('error', error);
  }

  private setOption(name: string, value: number, syscall: string): void {
    const handle = this.openHandle();
    // A datagram takes the options the socket had when it was sent: the sends of this turn
    // leave before the option changes (dgram's take the options of the next tick; README).
    this.sends.flush();
    const failure = handle.setOption(name, value);
    if (failure) throw systemError(failure, syscall);
  }

  private hopLimit(ttl: unknown, minimum: number, syscall: string): number {
    if (typeof ttl !== 'number') throw invalidArgType('ttl', 'of type number', ttl);
    if (!Number.isInteger(ttl) || ttl < minimum || ttl > 255) throw errnoError('EINVAL', syscall);
    return ttl;
  }

  // dgram's buffer size rules: a size must be a positive 32-bit integer
  // (ERR_SOCKET_BAD_BUFFER_SIZE), and a failed call is ERR_SOCKET_BUFFER_SIZE.
  private bufferSize(name: 'recvBufferSize' | 'sendBufferSize', size?: number): number {
    const handle = this.openHandle();
    if (size !== undefined) {
      validateBufferSize(size, badBufferSize);
      const failure = handle.setOption(name, size);
      if (failure) throw bufferSizeError(systemError(failure, 'setsockopt'));
      return size;
    }
    const result = handle.getOption(name);
    if (isErrorInfo(result)) throw bufferSizeError(systemError(result, 'getsockopt'));
    return result;
  }

  // The replies that listeners make leave together when the batch's turn ends.
  private deliver(count: number, arenas: ArrayBuffer[]): void {
    this.receiver.deliver(count, arenas, () => this.handle !== undefined,
      (msg, rinfo) => this.emit('message', msg, rinfo));
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
