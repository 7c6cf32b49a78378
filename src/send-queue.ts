// The send path: sends go to the kernel at once, in batches where there are several (one
// sendmmsg on Linux); what the kernel cannot take yet waits here in order, bounded, and is
// drained a budget at a time when the socket turns writable, so a backlog never holds the
// event loop. Every send's callback is called exactly once, from process.nextTick.
import { AsyncResource } from 'async_hooks';

import { Chunks } from './arguments';
import { NativeErrorInfo, SystemError, closedBeforeSent, queueFull, systemError } from './errors';
import { UdpHandle, binding } from './native';
import { Destination, writeRecord } from './send-record';

export type SendCallback = (error: SystemError | Error | null, bytes?: number) => void;

export interface PendingSend {
  readonly chunks: Chunks;
  readonly destination: Destination;
  readonly callback: SendCallback | undefined;
}

/** What the queue needs of its socket. */
export interface SendQueueOwner {
  /** The open handle, or undefined once the socket is closed. */
  readonly handle: UdpHandle | undefined;
  /** Calls callback with error, or emits 'error' when there is none. */
  fail(callback: SendCallback | undefined, error: Error): void;
}

// Datagrams sent per writable event while draining a backlog: as the receive side reads at
// most 256 per wake-up. uv_poll is level-triggered, so the rest goes on the next loop turn,
// after timers and other sockets had theirs.
const DRAIN_BUDGET = 256;

// ENOBUFS: the kernel (or Windows) is out of buffers, and the socket still polls writable, so
// waiting for writability would retry at once, without end. Retry after a delay that doubles,
// and once the kernel has said ENOBUFS for this long without a send getting through, fail each
// datagram that meets it instead of waiting.
const NO_BUFFERS_FIRST_DELAY_MS = 1;
const NO_BUFFERS_MAX_DELAY_MS = 100;
const NO_BUFFERS_GIVE_UP_MS = 1000;

/** The default bound of the send queue, in datagrams (the sendQueueLimit option). */
export const DEFAULT_SEND_QUEUE_LIMIT = 16384;

function byteLength(chunks: Chunks): number {
  if (!Array.isArray(chunks)) return chunks.byteLength;
  let total = 0;
  for (const chunk of chunks) total += chunk.byteLength;
  return total;
}

export class SendQueue {
  /** The send records the addon reads: one per datagram of a native call. */
  readonly records = new Int32Array(binding.sendBatchSize * binding.sendRecordStride);
  private readonly sentBytes = new Float64Array(binding.sendBatchSize);
  private readonly batch: Chunks[] = [];
  private waiting: PendingSend[] = [];
  private head = 0;
  private waitingBytes = 0;
  private watchingWritable = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = 0;
  private noBuffersSince = 0;
  private referenced = true;

  constructor(private readonly owner: SendQueueOwner, private readonly limit: number) {}

  /** Sends waiting for the kernel to take them. */
  get length(): number {
    return this.waiting.length - this.head;
  }

  /** Their bytes. */
  get bytes(): number {
    return this.waitingBytes;
  }

  /** Sends one datagram now, or queues it behind those already waiting. */
  send(send: PendingSend): void {
    if (this.length > 0) {
      this.enqueue(send);
      return;
    }
    const handle = this.owner.handle;
    if (handle === undefined) return this.owner.fail(send.callback, closedBeforeSent());
    writeRecord(this.records, 0, send.destination);
    const result = handle.send(send.chunks);
    if (typeof result === 'number') {
      this.noBuffersSince = 0;
      if (send.callback) process.nextTick(send.callback, null, result);
      return;
    }
    if (!this.mustWait(result)) return this.failSend(send, result);
    this.enqueue(send);
    this.waitFor(result);
  }

  /** Sends several in order with as few system calls as the platform allows. */
  sendMany(sends: readonly PendingSend[]): void {
    if (sends.length === 1) return this.send(sends[0]);
    if (this.length > 0) {
      for (const send of sends) this.enqueue(send);
      return;
    }
    const stopped = this.transmit(sends, 0, sends.length);
    for (let i = stopped; i < sends.length; i++) this.enqueue(sends[i]);
  }

  /** The socket is closing: clears the queue and returns what was never sent. */
  takeUnsent(): PendingSend[] {
    const unsent = this.waiting.slice(this.head);
    this.waiting = [];
    this.head = 0;
    this.waitingBytes = 0;
    this.stopWaiting();
    return unsent;
  }

  setReferenced(referenced: boolean): void {
    this.referenced = referenced;
    if (referenced) this.retryTimer?.ref();
    else this.retryTimer?.unref();
  }

  /** The socket can take more (or the ENOBUFS delay is over): drain, a budget at a time. */
  drain(): void {
    this.stopWaiting();
    const end = Math.min(this.waiting.length, this.head + DRAIN_BUDGET);
    const start = this.head;
    this.head = this.transmit(this.waiting, start, end);
    for (let i = start; i < this.head; i++) this.waitingBytes -= byteLength(this.waiting[i].chunks);
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
      this.waitingBytes = 0;
    } else if (!this.watchingWritable && this.retryTimer === undefined && this.owner.handle !== undefined) {
      // The budget ran out, not the socket's room: go on at the next loop turn.
      this.watchWritable(true);
    }
  }

  // Sends sends[from..end) in batches; settles each sent or failed one. Returns the index of
  // the first one the socket could not take yet (end when all went), after arranging to wait.
  private transmit(sends: readonly PendingSend[], from: number, end: number): number {
    const size = binding.sendBatchSize;
    const bytes = this.sentBytes;
    let next = from;
    while (next < end) {
      const handle = this.owner.handle;
      if (handle === undefined) return next; // a callback closed the socket: takeUnsent has them
      const count = Math.min(end - next, size);
      const batch = this.batch;
      batch.length = count;
      for (let i = 0; i < count; i++) {
        const send = sends[next + i];
        batch[i] = send.chunks;
        writeRecord(this.records, i, send.destination);
      }
      let result: number | (NativeErrorInfo & { sent: number });
      try {
        result = handle.sendBatch(batch, count, bytes);
      } catch (error) {
        // The addon refused what src/ had judged good: a bug, but no callback may be lost.
        for (let i = 0; i < count; i++) this.owner.fail(sends[next + i].callback, error as Error);
        next += count;
        continue;
      } finally {
        batch.length = 0; // keep no message alive
      }
      const sent = typeof result === 'number' ? result : result.sent;
      if (sent > 0) this.noBuffersSince = 0;
      for (let i = 0; i < sent; i++) {
        const { callback } = sends[next + i];
        if (callback) process.nextTick(callback, null, bytes[i]);
      }
      next += sent;
      if (typeof result === 'number') continue;
      if (this.mustWait(result)) {
        this.waitFor(result);
        return next;
      }
      this.failSend(sends[next], result);
      next++;
    }
    return next;
  }

  // Whether the send that met error should wait and be tried again, rather than fail.
  private mustWait(error: NativeErrorInfo): boolean {
    if (!error.retry) return false;
    if (error.code !== 'ENOBUFS') return true;
    const now = Date.now();
    if (this.noBuffersSince === 0) this.noBuffersSince = now;
    return now - this.noBuffersSince < NO_BUFFERS_GIVE_UP_MS;
  }

  private waitFor(error: NativeErrorInfo): void {
    if (error.code === 'ENOBUFS') {
      // Writability would not help: the socket polls writable all along. Wait, longer each time.
      this.retryDelay = Math.min(Math.max(NO_BUFFERS_FIRST_DELAY_MS, this.retryDelay * 2), NO_BUFFERS_MAX_DELAY_MS);
      this.watchWritable(false);
      if (this.retryTimer === undefined) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.drain();
        }, this.retryDelay);
        if (!this.referenced) this.retryTimer.unref();
      }
      return;
    }
    this.retryDelay = 0;
    this.watchWritable(true);
  }

  private stopWaiting(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.watchWritable(false);
  }

  private watchWritable(watch: boolean): void {
    if (this.watchingWritable === watch) return;
    const handle = this.owner.handle;
    if (handle === undefined) return;
    this.watchingWritable = watch;
    handle.watchWritable(watch);
  }

  private enqueue(send: PendingSend): void {
    if (this.length >= this.limit) return this.owner.fail(send.callback, queueFull(this.limit));
    // The callback runs when the queue drains, from the socket's own async context: bind it to
    // the caller's, where dgram would call it, so AsyncLocalStorage still sees the caller's store.
    const { callback } = send;
    this.waiting.push(callback ? { ...send, callback: AsyncResource.bind(callback) } : send);
    this.waitingBytes += byteLength(send.chunks);
  }

  private failSend(send: PendingSend, error: NativeErrorInfo): void {
    this.owner.fail(send.callback, sendError(error, send.destination));
  }
}

/**
 * The error of a failed send, naming what is wrong: for EADDRNOTAVAIL with a localAddress,
 * that source (address; the destination is in the message), else the destination.
 */
export function sendError(error: NativeErrorInfo, destination: Destination): SystemError {
  const { address, port, localAddress } = destination;
  if (error.code === 'EADDRNOTAVAIL' && localAddress !== undefined) {
    return systemError(error, 'sendmsg', localAddress, undefined, `not a local address (sending to ${address}:${port})`);
  }
  return systemError(error, 'sendmsg', address, port);
}
