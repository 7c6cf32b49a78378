'use strict';
// Runs one fuzz program (generator.js writes them) against the package, and checks the
// oracle while it runs and at the end:
//  1. no crash: the parent checks the exit status; here, no uncaught exception that the
//     fuzzer did not throw itself;
//  2. every error thrown, passed to a callback or emitted as 'error' has Node's shape:
//     argument errors are TypeError/RangeError (Error for ERR_SOCKET_*) with an ERR_* code,
//     and are thrown, never reported later; system errors have code, negative errno, syscall;
//  3. every callback of a call that returned is called exactly once, never synchronously, and
//     never for a call that threw;
//  4. no event after 'close', and no 'message' after close() returned;
//  5. datagrams: a tagged payload arrives intact, at most once, only if its send did not fail,
//     at the address it was sent to and from the source it was sent from; bytes reported
//     match; invalid addresses are refused and valid ones accepted; reply() refuses a forged
//     rinfo.
// The program calls the API only through R.call(), which records each call and its outcome.
const os = require('os');
const path = require('path');
const { Random } = require('./random');
const addresses = require('./addresses');

const api = require(process.env.FUZZ_API_PACKAGE || path.join(__dirname, '..', '..'));

// Tagged payloads: magic (2 bytes), sender slot, 0, id (4 bytes), length (4 bytes), then bytes
// that depend on id and position, so a shifted, cut or overwritten datagram is seen.
const MAGIC0 = 0xf5; // never the first byte of UTF-8 text
const MAGIC1 = 0x2a;
const HEADER = 12;
const fill = (id, i) => (id * 13 + i + (i >>> 8) * 7) & 0xff;

// Message listeners answer at most this often per socket: replies to replies must end.
const REACTION_BUDGET = 120;
const CLOSE_WAIT_MS = 3000;
const SETTLE_MS = 60;

const CALLBACK_KIND = { send: 'send', reply: 'send', sendBatch: 'batch', close: 'close', bind: 'bind' };
const SEND_METHODS = new Set(['send', 'reply', 'sendBatch', 'sendNow', 'sendmsg']);

/** What the fuzzer throws on purpose (from listeners, callbacks and getters). */
class FuzzThrow extends Error {
  constructor(origin) {
    super(`the fuzzer's own throw (${origin})`);
    this.name = 'FuzzThrow';
    this.origin = origin;
  }
}

const CB = Symbol('tracked callback');
const CB_THROW = Symbol('tracked callback that throws');
const CB_CLOSE = Symbol('tracked callback that closes its socket');

function describe(value) {
  if (value === null) return 'null';
  if (typeof value === 'object' || typeof value === 'function') {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return 'an object';
    }
  }
  const text = typeof value === 'symbol' ? value.toString() : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function errorText(error) {
  if (!(error instanceof Error)) return describe(error);
  const message = String(error.message).replace(/\s+/g, ' ');
  return `${error.name} ${error.code ?? ''}: ${message.length > 160 ? `${message.slice(0, 157)}...` : message}`;
}

/** Why error does not have Node's shape, or null when it does. */
function errorShapeProblem(error) {
  if (!(error instanceof Error)) return `not an Error: ${describe(error)}`;
  const { code } = error;
  if (typeof code !== 'string') return `${error.name} without a string code: ${errorText(error)}`;
  if (code.startsWith('ERR_')) {
    if (code.startsWith('ERR_SOCKET_')) return null;
    if (!(error instanceof TypeError) && !(error instanceof RangeError)) {
      return `${code} is a ${error.name}, not a TypeError or RangeError`;
    }
    return null;
  }
  if (!/^E[A-Z0-9]+$/.test(code)) return `code ${code} is neither ERR_* nor a system error code`;
  if (typeof error.errno !== 'number' || !(error.errno < 0)) return `system error ${code} with errno ${error.errno}`;
  if (typeof error.syscall !== 'string' || error.syscall === '') return `system error ${code} without a syscall`;
  const number = os.constants.errno[code];
  if (number !== undefined && error.errno !== -number) return `errno ${error.errno} is not -${number}, ${code}'s`;
  return null;
}

const isArgumentError = (error) =>
  error instanceof Error && typeof error.code === 'string' && error.code.startsWith('ERR_') &&
  error.code !== 'ERR_SOCKET_CLOSED';

class Runtime {
  constructor({ isolated, onProgress = () => {} }) {
    this.isolated = isolated;
    this.onProgress = onProgress;
    this.slots = [];
    this.values = [];
    this.tags = new Map();
    this.tagged = new WeakMap();
    this.opaque = new WeakSet(); // proxies and getters: the runtime must not read them
    this.forgedKinds = new WeakMap();
    this.records = [];
    this.foreign = [];
    this.mapped = {};
    this.findings = [];
    this.findingCounts = new Map();
    this.internal = [];
    this.step = -1;
    this.inListener = null;
    this.ownThrown = 0;
    this.ownCaught = 0;
    this.stats = { calls: 0, threw: 0, skipped: 0, guarded: 0, callbacks: 0, messages: 0, arrivals: 0, errors: 0, codes: {}, maxQueued: 0 };
    this.CB = CB;
    this.CB_THROW = CB_THROW;
    this.CB_CLOSE = CB_CLOSE;
    this.api = api;
  }

  // ---- findings ----

  finding(kind, detail, extra = {}) {
    const key = `${kind}: ${detail}`;
    const seen = this.findingCounts.get(key) || 0;
    this.findingCounts.set(key, seen + 1);
    if (seen === 0) this.findings.push({ kind, detail, step: this.step, ...extra });
  }

  checkShape(error, where) {
    const problem = errorShapeProblem(error);
    if (problem) this.finding('error-shape', problem, { where });
  }

  countCode(error) {
    const code = error instanceof Error ? String(error.code ?? error.name) : typeof error;
    this.stats.codes[code] = (this.stats.codes[code] || 0) + 1;
  }

  // ---- values the programs use ----

  /** A Uint8Array (or another view of the same bytes) whose arrival the receiver checks. */
  payload(length, sender, style = 'u8') {
    if (length < HEADER) return this.bytes(length);
    const id = this.tags.size + 1;
    const bytes = new Uint8Array(length);
    bytes[0] = MAGIC0;
    bytes[1] = MAGIC1;
    bytes[2] = typeof sender === 'number' ? sender : 255;
    new DataView(bytes.buffer).setUint32(4, id, true);
    new DataView(bytes.buffer).setUint32(8, length, true);
    for (let i = HEADER; i < length; i++) bytes[i] = fill(id, i);
    let value;
    if (style === 'buffer') value = Buffer.from(bytes.buffer, 0, length);
    else if (style === 'embedded') {
      const wider = new Uint8Array(length + 64).fill(0xee);
      wider.set(bytes, 32);
      value = wider.subarray(32, 32 + length);
    } else if (style === 'dataview') value = new DataView(bytes.buffer);
    else if (style === 'u16' && length % 2 === 0) value = new Uint16Array(bytes.buffer);
    else if (style === 'shared') {
      value = new Uint8Array(new SharedArrayBuffer(length));
      value.set(bytes);
    } else if (style === 'resizable') {
      value = new Uint8Array(new ArrayBuffer(length, { maxByteLength: length * 2 }));
      value.set(bytes);
    } else value = bytes;
    return this.tag(value, { id, length, sender, bytes });
  }

  /** A gather list of `pieces` parts that together are one tagged payload. */
  gather(length, sender, pieces, style = 'copies') {
    const whole = this.payload(Math.max(length, HEADER), sender);
    const tag = this.tagged.get(whole);
    const cutter = new Random(tag.id);
    const cuts = [0];
    for (let i = 1; i < pieces; i++) cuts.push(cutter.int(0, tag.length));
    cuts.push(tag.length);
    cuts.sort((a, b) => a - b);
    const list = [];
    for (let i = 0; i < pieces; i++) {
      const part = whole.subarray(cuts[i], cuts[i + 1]);
      if (style === 'subarrays') list.push(part);
      else if (style === 'mixed') {
        const copy = Uint8Array.from(part);
        const kind = i % 3;
        list.push(kind === 0 ? Buffer.from(copy) : kind === 1 ? new DataView(copy.buffer) : copy);
      } else if (style === 'empties') {
        list.push(new Uint8Array(0), Uint8Array.from(part));
      } else list.push(Uint8Array.from(part));
    }
    this.tags.get(tag.id).gather = true;
    this.tagged.delete(whole);
    return this.tag(list, tag);
  }

  tag(value, { id, length, sender }) {
    const tag = this.tags.get(id) || { id, length, sender, status: 'created', arrivals: [], unchecked: false };
    this.tags.set(id, tag);
    this.tagged.set(value, tag);
    return value;
  }

  /** Bytes no receiver checks. */
  bytes(length) {
    return new Uint8Array(length).fill(0x11);
  }

  /** A gather list of count buffers of size bytes each (past 64, one buffer repeated). */
  many(count, size) {
    const list = new Array(count);
    if (count > 64) return list.fill(new Uint8Array(size).fill(0x11));
    for (let i = 0; i < count; i++) list[i] = new Uint8Array(size).fill(0x11);
    return list;
  }

  /** count sendBatch entries of tagged payloads from sender to the socket in slot target. */
  manyEntries(count, sender, target, length) {
    const entries = [];
    for (let i = 0; i < count; i++) entries.push({ msg: this.payload(length, sender), port: this.port(target) });
    return entries;
  }

  detached(kind, size) {
    const buffer = new ArrayBuffer(size);
    const view = kind === 'dv' ? new DataView(buffer) : kind === 'u16' ? new Uint16Array(buffer) : new Uint8Array(buffer);
    structuredClone(buffer, { transfer: [buffer] });
    return view;
  }

  resizable(size) {
    return new Uint8Array(new ArrayBuffer(size, { maxByteLength: size * 2 })).fill(0x11);
  }

  /** A fixed-length view whose resizable buffer shrank below it: out of bounds. */
  outOfBounds() {
    const buffer = new ArrayBuffer(16, { maxByteLength: 32 });
    const view = new Uint8Array(buffer, 4, 8);
    buffer.resize(2);
    return view;
  }

  /** A string of length characters: head, then its last character repeated. */
  longString(head, length) {
    return head.padEnd(length, head[head.length - 1]);
  }

  /** A socket of Node's dgram, which sendmsg() must refuse. Closed at the end. */
  dgramSocket() {
    const socket = require('dgram').createSocket('udp4');
    this.foreign.push(socket);
    return socket;
  }

  revoked() {
    const { proxy, revoke } = Proxy.revocable(new Uint8Array(4), {});
    revoke();
    return proxy;
  }

  /** A gather list whose second element is a getter that throws. */
  throwingArray() {
    const list = [new Uint8Array(2), new Uint8Array(2)];
    Object.defineProperty(list, 1, { get: () => { throw new FuzzThrow('getter'); }, enumerable: true });
    return this.hide(list);
  }

  /** Options whose fields are getters answering differently on each read. */
  getterOptions(port, ...addressesInTurn) {
    let reads = 0;
    const options = {
      get port() { return port; },
      get address() { return addressesInTurn[reads++ % addressesInTurn.length]; },
    };
    return this.hide(options);
  }

  throwingOptions(field) {
    return this.hide(Object.defineProperty({ port: this.sinkPort() }, field, {
      get: () => { throw new FuzzThrow('getter'); }, enumerable: true,
    }));
  }

  proxy(target) {
    return this.hide(new Proxy(target, {}));
  }

  hide(value) {
    this.opaque.add(value);
    return value;
  }

  /** A rinfo the program made up; reply() must refuse the kinds that cannot be answered. */
  forged(kind, rinfo) {
    this.forgedKinds.set(rinfo, kind);
    return rinfo;
  }

  /** The last rinfo the socket in slot (or the sink) received, or a plausible one. */
  rinfo(slot) {
    const state = slot === 'sink' ? this.sink : this.slots[slot];
    return (state && state.lastRinfo) || { address: '127.0.0.1', family: 'IPv4', port: this.sinkPort(), size: 0 };
  }

  detach(value) {
    const views = Array.isArray(value) ? value : [value];
    for (const view of views) {
      const tag = view && this.tagged.get(view);
      if (tag) tag.unchecked = true;
      try {
        if (ArrayBuffer.isView(view) && view.buffer instanceof ArrayBuffer && view.buffer.byteLength > 0) {
          structuredClone(view.buffer, { transfer: [view.buffer] });
        }
      } catch {
        // a buffer that cannot be transferred stays as it is
      }
    }
    const tag = this.tagged.get(value);
    if (tag) tag.unchecked = true;
  }

  shrink(value) {
    const tag = value && this.tagged.get(value);
    if (tag) tag.unchecked = true;
    // A detached buffer cannot be resized: then it stays as it is.
    if (ArrayBuffer.isView(value) && value.buffer.resizable && value.buffer.byteLength > 0) value.buffer.resize(1);
  }

  gc() {
    if (typeof global.gc === 'function') global.gc();
  }

  throwOwn(origin) {
    this.ownThrown++;
    throw new FuzzThrow(origin);
  }

  // ---- sockets ----

  sinkPort() {
    return this.sink.port;
  }

  /** The port of the socket in slot, or the sink's when it has none: only our own ports. */
  port(slot) {
    const state = this.slots[slot];
    if (state && !state.closeCalled) {
      try {
        state.port = state.socket.address().port;
      } catch {
        // not bound yet
      }
    }
    return (state && state.port) || this.sinkPort();
  }

  socket(slot) {
    return this.slots[slot] ? this.slots[slot].socket : undefined;
  }

  async startSink() {
    const socket = api.createSocket('udp6');
    this.sink = { k: 'sink', socket, type: 'udp6', maxMessageSize: 65535, closeCalled: false, closeEvents: 0, listening: 0, lastRinfo: undefined };
    this.watch(this.sink);
    socket.on('message', (msg, rinfo) => { this.sink.lastRinfo = rinfo; });
    await new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '::', resolve);
    });
    this.sink.port = socket.address().port;
  }

  /**
   * createSocket(options) into slot, with the step's reactions as its 'message' listener.
   * how.listener: 'constructor' (passed to createSocket), 'on', or 'bad' (not a function).
   */
  create(slot, options, how = {}) {
    const reactions = (this.currentReactions || []).map((code) => this.compile(code, ['R', 'V', 'k', 's', 'msg', 'rinfo']));
    const state = {
      k: slot, socket: undefined, type: undefined, maxMessageSize: 65535, closeCalled: false,
      closeEvents: 0, listening: 0, reacted: 0, lastRinfo: undefined, port: undefined, how,
    };
    const listener = (msg, rinfo) => this.react(state, reactions, msg, rinfo);
    const record = this.begin(slot, 'createSocket');
    let socket;
    try {
      if (how.listener === 'constructor') socket = api.createSocket(options, listener);
      else if (how.listener === 'bad') socket = api.createSocket(options, 'not a listener');
      else socket = api.createSocket(options);
    } catch (error) {
      record.threw = error;
    }
    this.end(record);
    if (record.threw) return;
    if (how.listener === 'bad') this.finding('accepted-bad-argument', 'createSocket accepted a listener that is not a function');
    state.socket = socket;
    state.type = socket.type;
    if (typeof options === 'object' && options !== null && Number.isInteger(options.maxMessageSize)) {
      state.maxMessageSize = options.maxMessageSize;
    }
    this.slots[slot] = state;
    this.watch(state);
    if (how.listener !== 'constructor') socket.on('message', listener);
  }

  // The runtime's own listeners: the first 'message' listener, and the only 'error' one.
  watch(state) {
    const { socket } = state;
    const name = state.k === 'sink' ? 'sink' : `socket ${state.k}`;
    socket.prependListener('message', this.safely((msg, rinfo) => this.onMessage(state, msg, rinfo)));
    socket.on('listening', this.safely(() => {
      state.listening++;
      if (state.closeEvents > 0) this.finding('event-after-close', `'listening' on a ${state.type} socket after 'close'`);
      // As dgram: a socket closed before its bind completed never says it is listening.
      else if (state.closeCalled) this.finding('listening-after-close-call', `'listening' on a ${state.type} socket after close() returned`);
      if (state.listening > 1) this.finding('event-twice', `'listening' emitted twice on a ${state.type} socket`);
      if (state.how && state.how.onListening) this.reactOnce(state, state.how.onListening);
    }));
    socket.on('error', this.safely((error) => {
      this.stats.errors++;
      this.countCode(error);
      if (state.closeEvents > 0) this.finding('event-after-close', `'error' after 'close': ${errorText(error)}`);
      this.checkShape(error, `'error' event of ${name}`);
      if (isArgumentError(error)) this.finding('argument-error-asynchronous', `'error' event: ${errorText(error)}`);
      if (state.how && state.how.onError) this.reactOnce(state, state.how.onError);
    }));
    socket.on('close', this.safely(() => {
      state.closeEvents++;
      if (state.closeEvents > 1) this.finding('event-twice', `'close' emitted twice on a ${state.type} socket`);
      if (!state.closeCalled) this.finding('close-without-close', `'close' on a ${state.type} socket whose close() did not return`);
    }));
  }

  /** listener, with a mistake of the fuzzer's own recorded as such, not as the package's. */
  safely(listener) {
    return (...args) => {
      try {
        listener(...args);
      } catch (error) {
        if (error instanceof FuzzThrow) throw error;
        this.internal.push(`runtime listener: ${error && error.stack}`);
      }
    };
  }

  reactOnce(state, what) {
    if (what === 'throw') this.throwOwn('listener');
    if (what === 'close' && !state.closeCalled) this.call(state.k, 'close', []);
    if (what === 'send') this.call(state.k, 'send', [this.payload(32, state.k), this.sinkPort(), this.CB]);
  }

  react(state, reactions, msg, rinfo) {
    if (reactions.length === 0 || state.reacted >= REACTION_BUDGET) return;
    const reaction = reactions[state.reacted++ % reactions.length];
    const outer = this.inListener;
    this.inListener = state.k;
    try {
      reaction(this, this.values, state.k, state.socket, msg, rinfo);
    } catch (error) {
      if (error instanceof FuzzThrow) throw error;
      this.internal.push(`reaction of socket ${state.k}: ${error && error.stack}`);
    } finally {
      this.inListener = outer;
    }
  }

  onMessage(state, msg, rinfo) {
    this.stats.messages++;
    const where = `'message' on a ${state.type} socket`;
    if (state.closeEvents > 0) this.finding('event-after-close', `${where} after 'close'`);
    else if (state.closeCalled) this.finding('message-after-close-call', `${where} after close() returned`);
    state.lastRinfo = rinfo;
    if (!Buffer.isBuffer(msg)) this.finding('message-shape', `${where}: msg is ${describe(msg)}, not a Buffer`);
    const problem = this.rinfoProblem(rinfo, msg);
    if (problem) this.finding('rinfo-shape', `${where}: ${problem}`);
    if (Buffer.isBuffer(msg)) this.verify(state, msg, rinfo);
  }

  rinfoProblem(rinfo, msg) {
    if (typeof rinfo !== 'object' || rinfo === null) return `rinfo is ${describe(rinfo)}`;
    const { address, family, port, size } = rinfo;
    if (typeof address !== 'string') return `address is ${describe(address)}`;
    if (family !== (address.includes(':') ? 'IPv6' : 'IPv4')) return `family ${family} for ${address}`;
    if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${port}`;
    if (size !== msg.length) return `size ${size} but ${msg.length} bytes`;
    if (typeof rinfo.truncated !== 'boolean') return `truncated is ${describe(rinfo.truncated)}`;
    if (this.isolated && !addresses.isLoopback(address)) return `a datagram from ${address}, which is no address of this namespace`;
    for (const field of ['localAddress', 'destinationAddress', 'interfaceName']) {
      if (rinfo[field] !== undefined && typeof rinfo[field] !== 'string') return `${field} is ${describe(rinfo[field])}`;
    }
    if (rinfo.interfaceIndex !== undefined && !(Number.isInteger(rinfo.interfaceIndex) && rinfo.interfaceIndex > 0)) {
      return `interfaceIndex is ${describe(rinfo.interfaceIndex)}`;
    }
    return null;
  }

  verify(state, msg, rinfo) {
    if (msg.length < 2 || msg[0] !== MAGIC0 || msg[1] !== MAGIC1) return;
    const where = `a datagram received by a ${state.type} socket`;
    if (msg.length < HEADER) {
      if (!rinfo.truncated) this.finding('corrupted-datagram', `${where}: ${msg.length} bytes, shorter than its header`);
      return;
    }
    const view = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const id = view.getUint32(4, true);
    const length = view.getUint32(8, true);
    const tag = this.tags.get(id);
    if (!tag || tag.length !== length) {
      this.finding('corrupted-datagram', `${where}: a header that no payload of this program has (id ${id}, length ${length})`);
      return;
    }
    this.stats.arrivals++;
    tag.arrivals.push({
      receiver: state.k,
      destination: rinfo.destinationAddress,
      source: rinfo.address,
    });
    if (tag.unchecked) return;
    const expected = Math.min(length, state.maxMessageSize);
    if (msg.length !== expected || rinfo.truncated !== (length > state.maxMessageSize)) {
      this.finding('corrupted-datagram', `${where}: ${msg.length} bytes (truncated: ${rinfo.truncated}) of a ${length}-byte payload, maxMessageSize ${state.maxMessageSize}`);
      return;
    }
    for (let i = HEADER; i < msg.length; i++) {
      if (msg[i] !== fill(id, i)) {
        this.finding('corrupted-datagram', `${where}: byte ${i} of a ${length}-byte ${tag.gather ? 'gathered ' : ''}payload differs`);
        return;
      }
    }
  }

  // ---- calls ----

  begin(slot, method) {
    const record = {
      id: this.records.length, step: this.step, slot, method, inListener: this.inListener !== null,
      threw: null, returned: undefined, callbacks: [], inProgress: true, sends: [],
    };
    this.records.push(record);
    this.stats.calls++;
    return record;
  }

  end(record) {
    record.inProgress = false;
    if (record.threw === null) return;
    this.stats.threw++;
    this.countCode(record.threw);
    const error = record.threw;
    if (error instanceof FuzzThrow) {
      if (error.origin !== 'getter') {
        this.ownCaught++;
        this.finding('listener-throw-in-call', `${record.method}() threw a listener's or callback's exception`);
      }
      return;
    }
    this.checkShape(error, `${record.method}() threw`);
  }

  /** socket[method](...args), or sendmsg(socket, ...args); records and judges the outcome. */
  call(slot, method, args) {
    const state = this.slots[slot];
    if (!state) {
      this.stats.skipped++;
      return undefined;
    }
    const record = this.begin(slot, method);
    const kind = CALLBACK_KIND[method];
    const actual = args.map((arg) => (arg === CB || arg === CB_THROW || arg === CB_CLOSE ? this.callback(record, kind, arg) : arg));
    const sends = SEND_METHODS.has(method) ? this.describeSends(state, method, actual) : [];
    record.sends = sends || [];
    if (!this.guard(sends)) {
      record.inProgress = false;
      record.guarded = true;
      this.stats.guarded++;
      return undefined;
    }
    for (const send of record.sends) {
      if (send.tag) {
        send.tag.record = record;
        send.tag.status = 'pending';
      }
    }
    if (method === 'sendBatch' && Array.isArray(actual[0]) && !this.opaque.has(actual[0])) record.batchSize = actual[0].length;
    try {
      record.returned = method === 'sendmsg' ? api.sendmsg(state.socket, ...actual) : state.socket[method](...actual);
    } catch (error) {
      record.threw = error;
    }
    this.end(record);
    this.judge(state, record, actual);
    return record.returned;
  }

  /** sendmsg(value, ...args) with something that is not a socket of this program. */
  callModule(value, args) {
    const record = this.begin(undefined, 'sendmsg');
    try {
      record.returned = api.sendmsg(value, ...args);
    } catch (error) {
      record.threw = error;
    }
    this.end(record);
    if (!record.threw) this.finding('accepted-bad-argument', `sendmsg() accepted ${describe(value)} as its socket`);
  }

  get(slot, property) {
    const state = this.slots[slot];
    if (!state) return undefined;
    const value = state.socket[property];
    if (property === 'queuedSends' && !(Number.isInteger(value) && value >= 0)) {
      this.finding('return-value', `queuedSends is ${describe(value)}`);
    }
    return value;
  }

  queued(state) {
    try {
      const queued = state.socket.queuedSends;
      if (queued > this.stats.maxQueued) this.stats.maxQueued = queued;
      return queued;
    } catch {
      return undefined;
    }
  }

  /** A callback that records its calls; then, as variant says, throws or closes its socket. */
  callback(record, kind, variant) {
    const entry = { kind, count: 0, args: undefined };
    record.callbacks.push(entry);
    return (...args) => {
      entry.count++;
      this.stats.callbacks++;
      if (entry.count === 1) entry.args = args;
      this.onCallback(record, entry, args);
      if (variant === CB_THROW) this.throwOwn('callback');
      const state = this.slots[record.slot];
      if (variant === CB_CLOSE && state && !state.closeCalled) this.call(record.slot, 'close', []);
    };
  }

  onCallback(record, entry, args) {
    const what = `the callback of ${record.method}()${record.inListener ? ' called in a listener' : ''}`;
    if (record.inProgress) this.finding('callback-synchronous', `${what} ran before the call returned`);
    if (entry.count === 2) this.finding('callback-twice', `${what} ran more than once`);
    if (record.threw) this.finding('callback-after-throw', `${what} ran though the call threw ${errorText(record.threw)}`);
    if (entry.count > 1) return;
    if (entry.kind === 'send') {
      const [error, bytes] = args;
      const tag = record.sends[0] && record.sends[0].tag;
      if (error === null || error === undefined) {
        if (!Number.isInteger(bytes) || bytes < 0) this.finding('callback-arguments', `${what} got no error and ${describe(bytes)} bytes`);
        if (tag) this.settleTag(tag, bytes, what);
      } else {
        this.asyncError(error, what);
        if (tag) tag.status = 'failed';
      }
    } else if (entry.kind === 'batch') {
      this.batchCallback(record, args, what);
    }
  }

  batchCallback(record, [error, results], what) {
    if (error !== null && error !== undefined) this.asyncError(error, what);
    if (!Array.isArray(results)) {
      this.finding('callback-arguments', `${what} got results ${describe(results)}`);
      return;
    }
    if (record.batchSize !== undefined && results.length !== record.batchSize) {
      this.finding('callback-arguments', `${what} got ${results.length} results for ${record.batchSize} messages`);
    }
    let first = null;
    for (let i = 0; i < results.length; i++) {
      const result = results[i];
      const tag = record.sends[i] && record.sends[i].tag;
      if (result instanceof Error) {
        if (first === null) first = result;
        if (result !== error) this.asyncError(result, `${what} (result ${i})`);
        if (tag) tag.status = 'failed';
      } else if (Number.isInteger(result) && result >= 0) {
        if (tag) this.settleTag(tag, result, what);
      } else {
        this.finding('callback-arguments', `${what}: result ${i} is ${describe(result)}`);
      }
    }
    if ((error ?? null) !== first) this.finding('callback-arguments', `${what}: the error passed is not the first failed result`);
  }

  settleTag(tag, bytes, what) {
    tag.status = 'sent';
    if (!tag.unchecked && bytes !== tag.length) {
      this.finding('wrong-byte-count', `${what} reported ${bytes} bytes for a ${tag.length}-byte ${tag.gather ? 'gather list' : 'payload'}`);
    }
  }

  asyncError(error, what) {
    this.countCode(error);
    this.checkShape(error, what);
    if (isArgumentError(error)) this.finding('argument-error-asynchronous', `${what} got ${errorText(error)}`);
  }

  /**
   * The datagrams a send-like call means, read the way README.md documents the forms:
   * [{ tag, address, localAddress, interfaceIndex }] (address undefined: unknown), or null
   * for a sendBatch list the runtime must not read (a proxy).
   */
  describeSends(state, method, args) {
    const fallback = state.type === 'udp6' ? '::1' : '127.0.0.1';
    const options = (value, msg) => {
      if (typeof value !== 'object' || value === null || this.opaque.has(value)) return { msg, opaque: true };
      return {
        msg,
        address: value.address ?? fallback,
        localAddress: value.localAddress ?? undefined,
        interfaceIndex: value.interfaceIndex,
      };
    };
    let sends;
    if (method === 'sendNow' || method === 'sendmsg') sends = [options(args[1], args[0])];
    else if (method === 'reply') {
      const rinfo = args[0];
      sends = [options(rinfo, args[1])];
      if (typeof rinfo === 'object' && rinfo !== null && !this.opaque.has(rinfo)) {
        sends[0].address = rinfo.address;
        sends[0].rinfo = rinfo;
      }
    } else if (method === 'sendBatch') {
      const list = args[0];
      if (this.opaque.has(list)) return null;
      if (!Array.isArray(list)) return [];
      sends = [];
      for (let i = 0; i < list.length; i++) sends.push(options(list[i], list[i] && !this.opaque.has(list[i]) ? list[i].msg : undefined));
    } else if (typeof args[1] === 'object' && args[1] !== null) sends = [options(args[1], args[0])];
    else if (args.length >= 4 && typeof args[3] === 'number') {
      // send(msg, offset, length, port, address?, callback?)
      const address = typeof args[4] === 'function' ? undefined : args[4];
      sends = [{ msg: args[0], address: address ?? fallback, offset: [args[1], args[2]] }];
    } else {
      const address = typeof args[2] === 'function' ? undefined : args[2];
      sends = [{ msg: args[0], address: address ?? fallback }];
    }
    for (const send of sends) {
      send.tag = (send.msg !== null && typeof send.msg === 'object' && this.tagged.get(send.msg)) || undefined;
      if (send.tag && send.offset && !(send.offset[0] === 0 && send.offset[1] === send.tag.length)) send.tag.unchecked = true;
      if (send.tag && !send.opaque) {
        send.tag.to = addresses.expectedArrival(send.address);
        send.tag.from = send.interfaceIndex ? null : addresses.expectedSource(send.localAddress);
      }
    }
    return sends;
  }

  /**
   * False when a send might leave lo: only possible outside the namespace. sends is null when
   * the runtime cannot read the destinations (a proxy of a list).
   */
  guard(sends) {
    if (this.isolated) return true;
    if (sends === null) return false;
    return sends.every((send) => {
      if (send.opaque) return true;
      const index = send.interfaceIndex;
      const indexSafe = index === undefined || index === null || index === 0 || index === 1 || !Number.isInteger(index);
      return indexSafe && addresses.destinationAllowed(send.address, false);
    });
  }

  judge(state, record, args) {
    const { method, threw } = record;
    const name = `${method}() on a ${state.type} socket`;
    if (state.closeCalled && method !== 'ref' && method !== 'unref' && !threw) {
      this.finding('closed-socket-call', `${name} returned on a closed socket`);
    }
    if (threw) {
      for (const send of record.sends) if (send.tag) send.tag.status = 'threw';
      if (record.sends.length === 1) this.judgeRefusal(state, record);
      return;
    }
    if (record.sends.length === 1) this.judgeAcceptance(state, record);
    const { returned } = record;
    if (method === 'close') state.closeCalled = true;
    if (method === 'sendNow' || method === 'sendmsg') {
      const tag = record.sends[0] && record.sends[0].tag;
      if (!Number.isInteger(returned) || returned < 0) this.finding('return-value', `${name} returned ${describe(returned)}`);
      else if (tag) this.settleTag(tag, returned, name);
    }
    if (['bind', 'close', 'ref', 'unref'].includes(method) && returned !== state.socket) {
      this.finding('return-value', `${name} returned ${describe(returned)}, not the socket`);
    }
    if (method === 'address') {
      const ok = returned && typeof returned.address === 'string' && Number.isInteger(returned.port) &&
        (returned.family === 'IPv4' || returned.family === 'IPv6');
      if (!ok) this.finding('return-value', `${name} returned ${describe(returned)}`);
    }
    if ((method === 'getRecvBufferSize' || method === 'getSendBufferSize') && !(Number.isInteger(returned) && returned > 0)) {
      this.finding('return-value', `${name} returned ${describe(returned)}`);
    }
    if ((method === 'setTTL' || method === 'setMulticastTTL') && returned !== args[0]) {
      this.finding('return-value', `${name}(${describe(args[0])}) returned ${describe(returned)}`);
    }
    this.queued(state);
  }

  // An address the tables call valid, refused as an invalid IP address (or, on udp4, a
  // spelling of an IPv4 address refused for its family).
  judgeRefusal(state, record) {
    const [send] = record.sends;
    const error = record.threw;
    if (send.opaque || typeof send.address !== 'string' || !(error instanceof Error)) return;
    const verdict = this.destinationVerdict(state, send.address);
    const aboutAddress = /["']address["']/.test(String(error.message)) &&
      (error.code === 'ERR_INVALID_IP_ADDRESS' || error.code === 'ERR_INVALID_ARG_VALUE');
    if (aboutAddress) this.noteMapped(state, send.address, 'refused');
    if (verdict === 'accept' && aboutAddress) {
      this.finding('refused-valid-address', `a ${state.type} socket refused ${JSON.stringify(short(send.address))} with ${error.code}`, { where: `${record.method}()` });
    }
  }

  judgeAcceptance(state, record) {
    const [send] = record.sends;
    if (send.opaque) return;
    const where = { where: `${record.method}()${record.inListener ? ' in a listener' : ''}` };
    const name = `a ${state.type} socket`;
    this.noteMapped(state, send.address, 'accepted');
    if (typeof send.address === 'string' && this.destinationVerdict(state, send.address) === 'refuse') {
      this.finding('accepted-invalid-address', `${name} accepted the destination ${JSON.stringify(short(send.address))}`, where);
    }
    if (send.address !== undefined && typeof send.address !== 'string') {
      this.finding('accepted-invalid-address', `${name} accepted a destination of type ${describe(send.address)}`, where);
    }
    if (typeof send.localAddress === 'string') {
      const entry = addresses.SOURCES.find((source) => source.text === send.localAddress);
      if (entry && entry.valid === false) {
        this.finding('accepted-invalid-address', `${name} accepted the localAddress ${JSON.stringify(send.localAddress)}`, where);
      }
    }
    if (record.method === 'reply' && send.rinfo) {
      const kind = this.forgedKinds.get(send.rinfo);
      if (kind === 'port-only' || kind === 'unspecified' || kind === 'wrong-family') {
        this.finding('reply-forged-rinfo', `reply() on ${name} accepted a forged rinfo (${kind}): ${describeRinfo(send.rinfo)}`, where);
      }
    }
  }

  /**
   * 'accept', 'refuse' or 'either', for a destination string on this socket. Whether a udp4
   * socket takes IPv4-mapped IPv6 spellings is left open; that it treats them all alike is
   * checked at the end (noteMapped).
   */
  destinationVerdict(state, text) {
    const entry = addresses.DESTINATIONS.find((candidate) => candidate.text === text);
    if (!entry) return addresses.parsesAsNothing(text) ? 'refuse' : 'either';
    if (entry.valid === false) return 'refuse';
    if (entry.valid === undefined) return 'either';
    const v4 = entry.to ? !entry.to.includes(':') : /^[\d.]+$|^::ffff:[\d.]+$/i.test(entry.text);
    if (state.type === 'udp4' && !v4) return 'refuse';
    if (state.type === 'udp4' && entry.text.includes(':')) return 'either';
    return 'accept';
  }

  /** Records whether a socket took a valid IPv4-mapped spelling, to compare spellings. */
  noteMapped(state, text, outcome) {
    const entry = addresses.DESTINATIONS.find((candidate) => candidate.text === text);
    if (!entry || entry.valid !== true || !entry.text.includes(':') || !/^[\d.]+$/.test(entry.to || ':')) return;
    this.mapped[state.type] = this.mapped[state.type] || { accepted: new Set(), refused: new Set() };
    this.mapped[state.type][outcome].add(text);
  }

  checkMapped() {
    for (const [type, { accepted, refused }] of Object.entries(this.mapped)) {
      if (accepted.size === 0 || refused.size === 0) continue;
      this.finding('inconsistent-mapped-address', `a ${type} socket accepts ${[...accepted].sort().join(', ')} but refuses ${[...refused].sort().join(', ')}`);
    }
  }

  // ---- running a program ----

  compile(code, params) {
    try {
      return new Function(...params, `'use strict';\n${code}`); // eslint-disable-line no-new-func
    } catch (error) {
      this.internal.push(`cannot compile ${JSON.stringify(code)}: ${error.message}`);
      return () => {};
    }
  }

  async run(program) {
    process.on('uncaughtException', (error) => this.uncaught(error));
    await this.startSink();
    const { steps } = program;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const waiting = pause(step.gap);
      if (waiting) await waiting;
      this.step = i;
      this.onProgress({ step: i, phase: `running step ${i}` });
      this.currentReactions = step.reactions;
      const run = this.compile(step.code, ['R', 'V']);
      try {
        run(this, this.values);
      } catch (error) {
        this.internal.push(`step ${i} threw outside R.call: ${error && error.stack}`);
      }
      this.currentReactions = undefined;
      for (const state of this.slots) if (state) this.queued(state);
    }
    this.step = steps.length;
    return program.ending === 'close' ? this.finish() : this.abandon();
  }

  uncaught(error) {
    if (error instanceof FuzzThrow) {
      if (error.origin === 'getter') this.finding('getter-read-later', 'an argument was read after the call returned: its getter threw later');
      else this.ownCaught++;
      return;
    }
    const stack = String(error && error.stack).split('\n').slice(1, 4).map((line) => line.trim()).join(' | ');
    this.finding('uncaught-exception', errorText(error), { stack });
  }

  /** Closes everything, waits for the callbacks, and checks what only the end can show. */
  async finish() {
    await delay(SETTLE_MS);
    this.step = 'end';
    for (const state of this.slots) {
      if (state && !state.closeCalled) this.call(state.k, 'close', [CB]);
    }
    const waitUntil = Date.now() + CLOSE_WAIT_MS;
    const open = () => this.slots.filter((state) => state && state.closeCalled && state.closeEvents === 0);
    while (open().length > 0 && Date.now() < waitUntil) await delay(10);
    for (const state of open()) this.finding('close-event-missing', `a ${state.type} socket whose close() returned never emitted 'close'`);
    await delay(SETTLE_MS);
    for (const socket of this.foreign) socket.close();
    this.sink.closeCalled = true;
    await new Promise((resolve) => this.sink.socket.close(resolve));
    await delay(SETTLE_MS);
    this.checkCallbacks();
    this.checkTags();
    this.checkMapped();
    if (this.ownThrown !== this.ownCaught) {
      this.finding('listener-throw-lost', `${this.ownThrown} listener/callback throws, ${this.ownCaught} reached 'uncaughtException'`);
    }
    return this.result('closed');
  }

  /** Leaves sockets open and sends queued: the process or worker then ends around them. */
  async abandon() {
    await delay(5);
    this.checkMapped();
    return this.result('abandoned');
  }

  checkCallbacks() {
    for (const record of this.records) {
      if (record.threw || record.guarded) continue;
      for (const entry of record.callbacks) {
        if (entry.kind === 'bind' || entry.count === 1) continue;
        if (entry.count === 0) {
          const where = record.inListener ? ' called in a listener' : '';
          this.finding('callback-never-called', `the callback of ${record.method}()${where} was never called`, { call: record.id });
        }
      }
    }
  }

  checkTags() {
    for (const tag of this.tags.values()) {
      const [first] = tag.arrivals;
      if (!first) continue;
      const method = tag.record ? tag.record.method : 'an unknown call';
      if (tag.arrivals.length > 1) this.finding('datagram-duplicated', `a datagram of ${method}() arrived ${tag.arrivals.length} times`);
      if (tag.status === 'threw') this.finding('datagram-of-failed-call', `a datagram of ${method}() arrived though the call threw`);
      if (tag.status === 'failed') this.finding('datagram-of-failed-call', `a datagram of ${method}() arrived though its callback got an error`);
      if (tag.to && first.destination !== undefined && addresses.canonical(first.destination) !== tag.to) {
        this.finding('wrong-destination', `${method}() to ${tag.to} arrived at ${first.destination}`);
      }
      if (tag.from && addresses.canonical(first.source) !== tag.from) {
        this.finding('wrong-source', `${method}() from localAddress ${tag.from} arrived from ${first.source}`);
      }
    }
  }

  result(ending) {
    return {
      ending,
      findings: this.findings,
      internal: this.internal,
      stats: this.stats,
      calls: this.records.slice(0, 400).map((record) => ({
        id: record.id,
        step: record.step,
        method: record.method,
        inListener: record.inListener || undefined,
        threw: record.threw ? String(record.threw.code || record.threw.name) : null,
        guarded: record.guarded || undefined,
        callbacks: record.callbacks.map((entry) => ({
          count: entry.count,
          error: entry.args && entry.args[0] ? String(entry.args[0].code || entry.args[0].name) : null,
          value: entry.args && typeof entry.args[1] === 'number' ? entry.args[1] : undefined,
        })),
      })),
    };
  }
}

function describeRinfo(rinfo) {
  const fields = ['address', 'family', 'port', 'localAddress'].filter((field) => field in rinfo);
  return `{ ${fields.map((field) => `${field}: ${field === 'port' ? 'P' : JSON.stringify(rinfo[field])}`).join(', ')} }`;
}

function short(text) {
  return text.length > 60 ? `${text.slice(0, 40)}...(${text.length} chars)` : text;
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The pause before a step: 'sync' none, 'tick' a microtask, 'immediate', or milliseconds. */
function pause(gap) {
  if (gap === 'sync' || gap === undefined) return undefined;
  if (gap === 'tick') return new Promise((resolve) => process.nextTick(resolve));
  if (gap === 'immediate') return new Promise((resolve) => setImmediate(resolve));
  return delay(gap);
}

module.exports = { Runtime, FuzzThrow, errorShapeProblem };
