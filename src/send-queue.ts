// The send path. The sends of one turn of the event loop leave together when it ends, in
// batches (one sendmmsg on Linux), which costs a fraction of a system call and a native call
// each; what the kernel cannot take yet waits here in order, bounded, and is drained a budget
// at a time when the socket turns writable, so a backlog never holds the event loop. Every
// send's callback is called exactly once, from process.nextTick, in the caller's async context.
import { AsyncResource } from 'async_hooks';

import { Chunks } from './arguments';
import { NativeErrorInfo, SystemError, closedBeforeSent, queueFull, systemError } from './errors';
import { UdpHandle, binding } from './native';
import { Destination, writeRecord } from './send-record';

export type SendCallback = (error: SystemError | Error | null, bytes?: number) => void;

/** One datagram on its way: made by send(), sendBatch() or reply(). */
export interface PendingSend {
  readonly chunks: Chunks;
  readonly destination: Destination;
  callback: SendCallback | undefined;
  /** Set once: the bytes sent, or why the datagram was not. */
  outcome: number | Error | undefined;
  /** The caller's turn is over without an outcome: the outcome calls back when it comes. */
  late: boolean;
  /** The outcome came while an earlier send's callback was still to come: wait for it. */
  behindLate: boolean;
}

export function pendingSend(chunks: Chunks, destination: Destination, callback: SendCallback | undefined): PendingSend {
  return { chunks, destination, callback, outcome: undefined, late: false, behindLate: false };
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
// after timers and other sockets had theirs. Also the most sends of one turn that wait for its
// end: a longer loop of sends goes out as it runs, so what waits stays bounded.
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

function report(callback: SendCallback, outcome: number | Error): void {
  if (typeof outcome === 'number') callback(null, outcome);
  else callback(outcome);
}

// The caller's turn of the callback of one send, queued by send() after the turn's flush, so it
// runs after it, in the caller's async context, where dgram calls back too. Most sends are done
// by then; one that waits for the socket calls back when it is sent, still in that context.
function settle(send: PendingSend): void {
  const { callback, outcome } = send;
  if (callback === undefined) return;
  // Behind a late callback (close() failing a whole queue): a turn after it, still in this context.
  if (outcome !== undefined && send.behindLate) return process.nextTick(report, callback, outcome);
  if (outcome !== undefined) return report(callback, outcome);
  send.callback = AsyncResource.bind(callback);
  send.late = true;
}

// The same for the datagrams of one sendBatch(): one turn for them all. A callback that throws
// leaves the rest to a turn of their own, so every one is still called.
function settleAll(sends: readonly PendingSend[], from = 0): void {
  for (let i = from; i < sends.length; i++) {
    try {
      settle(sends[i]);
    } catch (error) {
      if (i + 1 < sends.length) process.nextTick(settleAll, sends, i + 1);
      throw error;
    }
  }
}

// The queues with sends that wait for the end of this turn. A program that calls process.exit()
// right after a send still sends it (dgram, which sends on the next tick, loses it).
const unflushed = new Set<SendQueue>();
let flushOnExit = false;
function flushAllOnExit(): void {
  for (const queue of unflushed) queue.flush();
}

export class SendQueue {
  /** The send records the addon reads: one per datagram of a native call. */
  readonly records = new Int32Array(binding.sendBatchSize * binding.sendRecordStride);
  private readonly sentBytes = new Float64Array(binding.sendBatchSize);
  private readonly batch: Chunks[] = [];
  // The sends of this turn, sent when it ends (or earlier: before an option changes).
  private outbox: PendingSend[] = [];
  private flushQueued = false;
  private waiting: PendingSend[] = [];
  private head = 0;
  private waitingBytes = 0;
  private watchingWritable = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = 0;
  private noBuffersSince = 0;
  private referenced = true;
  // Callbacks of late sends queued and not yet run. A send that completes meanwhile, with its
  // own turn's callback still to come, would run ahead of them (ticks run in order).
  private lateReports = 0;
  private readonly reportLate = (callback: SendCallback, outcome: number | Error) => {
    this.lateReports--;
    report(callback, outcome);
  };
  private readonly flushTurn = () => {
    this.flushQueued = false;
    this.flush();
  };

  private readonly outboxLimit: number;

  constructor(private readonly owner: SendQueueOwner, private readonly limit: number) {
    this.outboxLimit = Math.min(DRAIN_BUDGET, limit);
  }

  /**
   * Sends waiting for the kernel to take them. This turn's are not counted, as dgram does not
   * count its own that wait for the next tick (their lookup's answer).
   */
  get length(): number {
    return this.waiting.length - this.head;
  }

  /** The bytes of those waiting for the kernel. */
  get bytes(): number {
    return this.waitingBytes;
  }

  /** Sends one datagram when this turn ends; its callback comes after, in this context. */
  send(send: PendingSend): void {
    this.post(send);
    if (send.callback) process.nextTick(settle, send);
  }

  /** Sends several, in order, with as few system calls as the platform allows. */
  sendMany(sends: readonly PendingSend[]): void {
    let callbacks = false;
    for (const send of sends) {
      this.post(send);
      if (send.callback) callbacks = true;
    }
    if (callbacks) process.nextTick(settleAll, sends);
  }

  /** Sends this turn's datagrams now: before an option that must not apply to them changes. */
  flush(): void {
    const outbox = this.outbox;
    if (outbox.length === 0) return;
    this.outbox = [];
    unflushed.delete(this);
    if (this.length > 0) {
      for (const send of outbox) this.enqueue(send);
      return;
    }
    const stopped = this.transmit(outbox, 0, outbox.length);
    for (let i = stopped; i < outbox.length; i++) this.enqueue(outbox[i]);
  }

  /** The socket is closed: each unsent datagram with a callback gets error; the rest are dropped. */
  close(error: Error): void {
    const unsent = [...this.outbox, ...this.waiting.slice(this.head)];
    this.outbox = [];
    unflushed.delete(this);
    this.waiting = [];
    this.head = 0;
    this.waitingBytes = 0;
    this.stopWaiting();
    for (const send of unsent) if (send.callback) this.complete(send, error);
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

  private post(send: PendingSend): void {
    // Behind those waiting, in order: the queue's bound applies at once, as the program can
    // see it (getSendQueueCount()).
    if (this.length > 0) return this.enqueue(send);
    this.outbox.push(send);
    // At most a queue's worth waits for the turn's end, so none of it can meet a full queue.
    if (this.outbox.length >= this.outboxLimit) return this.flush();
    if (this.outbox.length > 1) return;
    unflushed.add(this);
    if (!flushOnExit) {
      flushOnExit = true;
      process.on('exit', flushAllOnExit);
    }
    // Queued before the callbacks of this turn's sends, so they find their outcomes.
    if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(this.flushTurn);
    }
  }

  // The outcome of a send: its callback gets it in the caller's turn, or now if that is over.
  // A failed send without a callback is emitted as 'error'.
  private complete(send: PendingSend, outcome: number | Error): void {
    const { callback } = send;
    if (callback === undefined) {
      if (typeof outcome !== 'number') this.owner.fail(undefined, outcome);
      return;
    }
    send.outcome = outcome;
    if (send.late) {
      this.lateReports++;
      process.nextTick(this.reportLate, callback, outcome);
    } else if (this.lateReports > 0) {
      send.behindLate = true;
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
      if (handle === undefined) {
        // The socket closed under a callback: what is left was never sent.
        for (let i = next; i < end; i++) if (sends[i].callback) this.complete(sends[i], closedBeforeSent());
        return end;
      }
      const count = Math.min(end - next, size);
      let result: number | (NativeErrorInfo & { sent: number });
      try {
        if (count === 1) {
          // One datagram: the plain call, without the batch's array.
          writeRecord(this.records, 0, sends[next].destination);
          const single = handle.send(sends[next].chunks);
          if (typeof single === 'number') bytes[0] = single;
          result = typeof single === 'number' ? 1 : { ...single, sent: 0 };
        } else {
          const batch = this.batch;
          batch.length = count;
          for (let i = 0; i < count; i++) {
            const send = sends[next + i];
            batch[i] = send.chunks;
            writeRecord(this.records, i, send.destination);
          }
          try {
            result = handle.sendBatch(bytes, ...batch);
          } finally {
            batch.length = 0; // keep no message alive
          }
        }
      } catch (error) {
        // The addon refused what src/ had judged good: a bug, but no callback may be lost.
        for (let i = 0; i < count; i++) this.complete(sends[next + i], error as Error);
        next += count;
        continue;
      }
      const sent = typeof result === 'number' ? result : result.sent;
      if (sent > 0) this.noBuffersSince = 0;
      for (let i = 0; i < sent; i++) this.complete(sends[next + i], bytes[i]);
      next += sent;
      if (typeof result === 'number') continue;
      if (this.mustWait(result)) {
        this.waitFor(result);
        return next;
      }
      this.complete(sends[next], sendError(result, sends[next].destination));
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
    if (this.length >= this.limit) return this.complete(send, queueFull(this.limit));
    this.waiting.push(send);
    this.waitingBytes += byteLength(send.chunks);
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
