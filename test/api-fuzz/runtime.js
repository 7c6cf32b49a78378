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
//  5. datagrams: a tagged payload arrives intact, at most once (a multicast one at most once
//     per socket), only if its send did not fail, at the address it was sent to and from the
//     source it was sent from; bytes reported match; invalid addresses are refused at once and
//     valid ones accepted (addresses.js); host names are looked up with the socket's lookup
//     option, in order, in the family of the source; reply() refuses a forged rinfo;
//  6. dgram's semantics where the package is its drop-in: dgram's error codes (EINVAL for a
//     hop limit, ERR_SOCKET_BAD_BUFFER_SIZE, EBADF for address() before bind,
//     ERR_SOCKET_BAD_TYPE, ERR_MISSING_ARGS), connect()/disconnect()/remoteAddress() with
//     ERR_SOCKET_DGRAM_IS_CONNECTED / _NOT_CONNECTED, a connected socket gets only its peer's
//     datagrams, send callbacks of one socket run in the order of the sends, none after
//     'close', the send queue stays within sendQueueLimit, and the signal option closes.
// The program calls the API only through R.call(), which records each call and its outcome.
// No name is ever resolved by DNS: every socket gets the fuzzer's own lookup (lookupFor), and
// dns.lookup itself is replaced by a tripwire that reports a finding.
const dns = require('dns');
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

const CALLBACK_KIND = { send: 'send', reply: 'send', sendBatch: 'batch', close: 'close', bind: 'bind', connect: 'connect' };
const SEND_METHODS = new Set(['send', 'reply', 'sendBatch', 'sendNow', 'sendmsg']);
// Calls that may return on a closed socket: dgram's queue getters answer 0 there.
const ALLOWED_WHEN_CLOSED = new Set(['ref', 'unref', 'getSendQueueSize', 'getSendQueueCount']);
// Lookup behaviours that answer with something no socket can use: the socket's failure then
// comes asynchronously even when it is an argument error (the lookup's fault, not the caller's).
const MISBEHAVING_LOOKUPS = new Set(['bad-address']);
const DEFAULT_SEND_QUEUE_LIMIT = 16384;
const loopbackOf = (family) => (family === 6 ? '::1' : '127.0.0.1');

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

// A send that failed because the send queue was full (sendQueueLimit): README says ENOBUFS,
// syscall 'send'. It fails at once, ahead of the sends queued before it.
const isQueueFull = (error) => error instanceof Error && error.code === 'ENOBUFS' && error.syscall === 'send';

// An argument error names the argument in its message: "address", 'localAddress', ...
const ADDRESS_ARGUMENT = /["'](messages\[\d+\]\.)?(address|localAddress|rinfo\.address)["']/;
const ADDRESS_CODES = new Set(['ERR_INVALID_IP_ADDRESS', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE']);
const isAboutAddress = (error) =>
  error instanceof Error && ADDRESS_CODES.has(error.code) && ADDRESS_ARGUMENT.test(String(error.message));

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
    this.seq = 0; // orders calls, callbacks and events
    this.cutSends = 0;
    this.lookupErrors = new WeakSet(); // the errors the fuzzer's lookup gave
    this.controllers = [];
    this.disposals = [];
    this.stats = {
      calls: 0, threw: 0, skipped: 0, guarded: 0, callbacks: 0, messages: 0, arrivals: 0, errors: 0,
      codes: {}, maxQueued: 0, lookups: 0, connected: 0, joined: 0,
    };
    this.installDnsTripwire();
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

  // ---- names: the fuzzer's lookup, never DNS ----

  /** dns.lookup, replaced: a socket that calls it ignored its lookup option. */
  installDnsTripwire() {
    dns.lookup = (hostname, ...rest) => {
      this.finding('real-dns-lookup', `dns.lookup(${describe(hostname)}) was called: a socket did not use its lookup option`);
      const callback = rest[rest.length - 1];
      if (typeof callback === 'function') process.nextTick(callback, this.lookupError(String(hostname)));
    };
  }

  /** An ENOTFOUND in dns.lookup's shape; the socket must pass this very object on. */
  lookupError(hostname) {
    const error = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
    Object.assign(error, { errno: -3008, code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname });
    this.lookupErrors.add(error);
    return error;
  }

  /**
   * The lookup option of the socket in state: HOST_NAMES answer with the family's address,
   * every other name fails with ENOTFOUND. How it answers is the socket's how.lookup:
   * 'sync' (before it returns), 'async' (next tick), 'delay' (a timer of 1 to 15 ms), 'mixed'
   * (one of those three each time), or misbehaving: 'throw' (throws the error), 'twice' (calls
   * back three times), 'bad-address' (an address no socket can use), 'never'.
   */
  lookupFor(state) {
    const mode = state.how.lookup || 'async';
    const random = new Random(0x5eed + state.k);
    return (hostname, family, callback) => {
      this.stats.lookups++;
      state.lookups.push({ hostname, family, seq: ++this.seq });
      if (typeof hostname !== 'string' || (family !== 4 && family !== 6) || typeof callback !== 'function') {
        this.finding('lookup-arguments', `lookup(${describe(hostname)}, ${describe(family)}, ${typeof callback}): not dgram's (hostname, family, callback)`);
        if (typeof callback !== 'function') return;
      }
      const address = addresses.lookupAnswer(hostname, family);
      state.lookupsInFlight++;
      let answers = 0;
      const answer = (error, ...rest) => {
        if (answers++ === 0) state.lookupsInFlight--;
        callback(error, ...rest);
      };
      const good = () => (address ? answer(null, address, family) : answer(this.lookupError(hostname)));
      const how = mode === 'mixed' ? random.pick(['sync', 'async', 'delay']) : mode;
      if (how === 'sync') good();
      else if (how === 'async') process.nextTick(good);
      else if (how === 'delay') setTimeout(good, random.int(1, 15));
      else if (how === 'twice') {
        process.nextTick(() => {
          good();
          answer(this.lookupError(hostname));
          answer(null, loopbackOf(family), family);
        });
      } else if (how === 'bad-address') {
        const bad = random.pick([42, undefined, 'not an address', family === 4 ? '::1' : '127.0.0.1', '127.0.0.1%lo', '']);
        process.nextTick(() => answer(null, bad, family));
      } else if (how === 'throw') {
        state.lookupsInFlight--;
        throw this.lookupError(hostname);
      }
      // 'never': the socket must still call back each send that waits, with ERR_SOCKET_CLOSED.
    };
  }

  /**
   * The lookups a socket made against the names its calls gave, in order (a call's name is
   * added once it returned; a lookup may have come before that, synchronously). At the end,
   * a lookup beyond them is one that no call asked for.
   */
  checkLookups(state, final = false) {
    const { lookups, expectedLookups } = state;
    const upTo = Math.min(lookups.length, expectedLookups.length);
    for (let i = state.lookupsChecked || 0; i < upTo; i++) {
      const made = lookups[i];
      const expected = expectedLookups[i];
      if (expected.hostname !== made.hostname || expected.family !== made.family) {
        this.finding('lookup-order', `a ${state.type} socket looked up ${describe(made.hostname)} in family ${made.family} where ${describe(expected.hostname)} in family ${expected.family} (${expected.method}()) was next`);
      }
    }
    state.lookupsChecked = upTo;
    if (final && lookups.length > expectedLookups.length) {
      const made = lookups[expectedLookups.length];
      this.finding('lookup-unexpected', `a ${state.type} socket looked up ${describe(made.hostname)} (family ${made.family}), which no call of it named`);
    }
  }

  /** Aborts the signal of the socket in slot, which must close it. */
  abort(slot) {
    const state = this.slots[slot];
    if (!state || !state.controller) return;
    this.seq++;
    state.controller.abort();
  }

  /** socket[Symbol.asyncDispose](): resolves once the socket is closed, and never rejects. */
  dispose(slot) {
    const state = this.slots[slot];
    if (!state) return;
    const method = Symbol.asyncDispose || Symbol.for('nodejs.asyncDispose');
    if (typeof state.socket[method] !== 'function') {
      this.finding('missing-method', 'the socket has no [Symbol.asyncDispose]');
      return;
    }
    const wasOpen = !state.closeCalled;
    const disposal = { state, settled: false, step: this.step };
    this.disposals.push(disposal);
    let promise;
    try {
      promise = state.socket[method]();
    } catch (error) {
      this.finding('dispose-threw', `[Symbol.asyncDispose]() threw ${errorText(error)}`);
      disposal.settled = true;
      return;
    }
    if (wasOpen) this.markClosed(state);
    Promise.resolve(promise).then(() => {
      disposal.settled = true;
      if (wasOpen && state.closeEvents === 0) this.finding('dispose-before-close', "[Symbol.asyncDispose]() resolved before 'close'");
    }, (error) => {
      disposal.settled = true;
      this.finding('dispose-rejected', `[Symbol.asyncDispose]() rejected with ${errorText(error)}`);
    });
  }

  /** listInterfaces(): the interfaces with their indexes; in the namespace, lo alone. */
  listInterfaces() {
    let list;
    try {
      list = api.listInterfaces();
    } catch (error) {
      this.finding('list-interfaces', `listInterfaces() threw ${errorText(error)}`);
      return;
    }
    const problem = listProblem(list, this.isolated);
    if (problem) this.finding('list-interfaces', problem);
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
    this.sink = this.newState('sink', {});
    const socket = api.createSocket(this.withOwnLookup(this.sink, 'udp6'));
    Object.assign(this.sink, { socket, type: 'udp6' });
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
  /** A socket's state as the runtime tracks it. */
  newState(k, how) {
    return {
      k, socket: undefined, type: undefined, maxMessageSize: 65535, closeCalled: false,
      closeEvents: 0, listening: 0, reacted: 0, lastRinfo: undefined, port: undefined, how,
      // host names: the lookups made, the ones the calls made so far must make, in order
      lookups: [], expectedLookups: [], lookupsInFlight: 0,
      // connect(): 'none', 'connecting' or 'connected', the peer, and when it was connected
      conn: 'none', connectRecord: undefined, pendingPeer: null, peer: null, connectedSeq: 0, connectsPending: [],
      lastCallbackSeq: -1, sendQueueLimit: DEFAULT_SEND_QUEUE_LIMIT, mayBeBound: false,
      controller: undefined, preAborted: false, ownLookup: false,
    };
  }

  /**
   * createSocket(options) into slot, with the step's reactions as its 'message' listener.
   * how.listener: 'constructor' (passed to createSocket), 'on', or 'bad' (not a function);
   * how.lookup: how the fuzzer's lookup answers (lookupFor); how.signal: 'later' (an
   * AbortSignal that R.abort() aborts) or 'aborted' (already aborted); how.expect: the code
   * createSocket must throw, for options that are wrong (null: any argument error).
   */
  create(slot, options, how = {}) {
    const reactions = (this.currentReactions || []).map((code) => this.compile(code, ['R', 'V', 'k', 's', 'msg', 'rinfo']));
    const state = this.newState(slot, how);
    const listener = (msg, rinfo) => this.react(state, reactions, msg, rinfo);
    const actual = this.withOwnLookup(state, options);
    if (how.signal && typeof actual === 'object' && actual !== null && !Array.isArray(actual) && !('signal' in actual)) {
      state.controller = new AbortController();
      this.controllers.push(state.controller);
      if (how.signal === 'aborted') {
        state.controller.abort();
        state.preAborted = true;
      }
      // Registered before the socket's own listener: the socket is closing from here on.
      state.controller.signal.addEventListener('abort', () => {
        if (!state.closeCalled && state.socket) this.markClosed(state);
      });
      actual.signal = state.controller.signal;
    }
    const record = this.begin(slot, 'createSocket');
    let socket;
    try {
      if (how.listener === 'constructor') socket = api.createSocket(actual, listener);
      else if (how.listener === 'bad') socket = api.createSocket(actual, 'not a listener');
      else socket = api.createSocket(actual);
    } catch (error) {
      record.threw = error;
    }
    this.end(record);
    if (how.expect !== undefined && !record.threw) {
      this.finding('accepted-bad-argument', `createSocket accepted ${describeOptions(options)}${how.expect ? `; dgram throws ${how.expect}` : ''}`);
    } else if (how.expect && record.threw && record.threw.code !== how.expect && how.listener !== 'bad') {
      this.finding('wrong-error-code', `createSocket(${describeOptions(options)}) threw ${record.threw.code}, not ${how.expect}`);
    }
    if (record.threw) return;
    if (how.listener === 'bad') this.finding('accepted-bad-argument', 'createSocket accepted a listener that is not a function');
    state.socket = socket;
    state.type = socket.type;
    if (typeof options === 'object' && options !== null && Number.isInteger(options.maxMessageSize)) {
      state.maxMessageSize = options.maxMessageSize;
    }
    if (typeof options === 'object' && options !== null && Number.isInteger(options.sendQueueLimit)) {
      state.sendQueueLimit = options.sendQueueLimit;
    }
    this.slots[slot] = state;
    this.watch(state);
    if (how.listener !== 'constructor') socket.on('message', listener);
    // An aborted signal closes the socket on the next tick: this tick runs right after that one.
    if (state.preAborted) process.nextTick(() => { if (!state.closeCalled) this.markClosed(state); });
  }

  /**
   * options with the fuzzer's lookup: a type string becomes { type, lookup }, an object gets
   * lookup unless it brings its own; anything else stays as it is (createSocket must refuse it).
   */
  withOwnLookup(state, options) {
    const lookup = this.lookupFor(state);
    if (options === 'udp4' || options === 'udp6') {
      state.ownLookup = true;
      return { type: options, lookup };
    }
    if (typeof options === 'object' && options !== null && !Array.isArray(options) && !('lookup' in options)) {
      state.ownLookup = true;
      return { ...options, lookup };
    }
    return options;
  }

  /** The socket is closing (close(), an abort, asyncDispose): no 'message' may follow. */
  markClosed(state) {
    // As dgram: a connect() still under way when its socket closes never calls back.
    for (const record of state.connectsPending) record.closedWhileConnecting = true;
    state.connectsPending = [];
    state.closeCalled = true;
    state.conn = 'none';
    state.connectRecord = undefined;
  }

  // The runtime's own listeners: the first 'message' listener, and the only 'error' one.
  watch(state) {
    const { socket } = state;
    const name = state.k === 'sink' ? 'sink' : `socket ${state.k}`;
    socket.prependListener('message', this.safely((msg, rinfo) => this.onMessage(state, msg, rinfo)));
    socket.on('listening', this.safely(() => {
      state.listening++;
      state.mayBeBound = true;
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
      if (!this.lookupErrors.has(error)) this.checkShape(error, `'error' event of ${name}`);
      if (isArgumentError(error) && !(state.how && MISBEHAVING_LOOKUPS.has(state.how.lookup))) {
        this.finding('argument-error-asynchronous', `'error' event: ${errorText(error)}`);
      }
      // A connect() without a callback fails by 'error'.
      const connecting = state.conn === 'connecting' && state.connectRecord && state.connectRecord.callbacks.length === 0;
      if (connecting && (error.syscall === 'connect' || this.lookupErrors.has(error) || MISBEHAVING_LOOKUPS.has(state.how.lookup))) {
        state.conn = 'none';
        state.connectRecord = undefined;
      }
      if (state.how && state.how.onError) this.reactOnce(state, state.how.onError);
    }));
    socket.on('close', this.safely(() => {
      this.seq++;
      state.closeEvents++;
      if (state.closeEvents > 1) this.finding('event-twice', `'close' emitted twice on a ${state.type} socket`);
      if (!state.closeCalled && !state.preAborted) this.finding('close-without-close', `'close' on a ${state.type} socket whose close() did not return`);
      state.closeCalled = true;
    }));
    socket.on('connect', this.safely(() => {
      if (state.closeEvents > 0) this.finding('event-after-close', `'connect' on a ${state.type} socket after 'close'`);
      else if (state.closeCalled) this.finding('connect-after-close-call', `'connect' on a ${state.type} socket after close() returned`);
      if (state.conn === 'none' && !state.connectRecord && !state.closeCalled) this.finding('connect-event-unasked', `'connect' on a ${state.type} socket that was not connecting`);
      this.connected(state, state.connectRecord);
    }));
  }

  /** connect() of record succeeded: the socket now gets only the peer's datagrams. */
  connected(state, record) {
    if (!record || state.connectRecord !== record || state.conn !== 'connecting') return;
    state.conn = 'connected';
    state.peer = state.pendingPeer;
    state.connectedSeq = ++this.seq;
    this.stats.connected++;
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
      if (!rinfo.truncated && this.cutSends === 0) this.finding('corrupted-datagram', `${where}: ${msg.length} bytes, shorter than its header`);
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
    // A connected socket gets only its peer's datagrams: one sent after connect() completed
    // from elsewhere must have been dropped by the kernel.
    const { peer } = state;
    if (state.conn === 'connected' && peer && tag.record && tag.record.seq > state.connectedSeq &&
        (addresses.canonical(rinfo.address) !== peer.address || rinfo.port !== peer.port)) {
      this.finding('connected-foreign-datagram', `a ${state.type} socket connected to ${peer.address} got a datagram from ${rinfo.address}`);
    }
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
      id: this.records.length, seq: ++this.seq, step: this.step, slot, method, inListener: this.inListener !== null,
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
    record.connAtCall = state.conn;
    record.closedAtCall = state.closeCalled;
    record.queuedBefore = this.queued(state);
    record.lookupsInFlight = state.lookupsInFlight;
    const kind = CALLBACK_KIND[method];
    const actual = args.map((arg) => (arg === CB || arg === CB_THROW || arg === CB_CLOSE ? this.callback(record, kind, arg) : arg));
    record.args = actual;
    if (method === 'connect') state.connectsPending.push(record);
    const sends = SEND_METHODS.has(method) ? this.describeSends(state, method, actual) : [];
    record.sends = sends || [];
    if (!this.guard(state, method, actual, sends)) {
      record.inProgress = false;
      record.guarded = true;
      this.stats.guarded++;
      return undefined;
    }
    record.expectations = record.sends.map((send) => this.expectSend(state, method, send));
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
    // The name this call must have the socket look up, once it returned.
    const named = this.namedAddress(method, actual);
    const expectation = record.expectations.length === 1 && record.expectations[0].lookup;
    const lookup = expectation || (named && { hostname: named, family: state.type === 'udp6' ? 6 : 4, method });
    if (lookup && !record.threw) state.expectedLookups.push(lookup);
    this.checkLookups(state);
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
      if (queued > state.sendQueueLimit) this.finding('queue-over-limit', `${queued} sends queued on a socket whose sendQueueLimit is ${state.sendQueueLimit}`);
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
    const state = this.slots[record.slot];
    if (record.inProgress) this.finding('callback-synchronous', `${what} ran before the call returned`);
    if (entry.count === 2) this.finding('callback-twice', `${what} ran more than once`);
    if (record.threw) this.finding('callback-after-throw', `${what} ran though the call threw ${errorText(record.threw)}`);
    if (entry.count > 1) return;
    if (entry.kind === 'send' || entry.kind === 'batch') this.checkSendCallback(state, record, args[0], what);
    if (entry.kind === 'send') {
      const [error, bytes] = args;
      const send = record.sends[0];
      const tag = send && send.tag;
      if (error === null || error === undefined) {
        if (!Number.isInteger(bytes) || bytes < 0) this.finding('callback-arguments', `${what} got no error and ${describe(bytes)} bytes`);
        if (tag) this.settleTag(tag, bytes, what);
        if (tag && tag.lookupFails) this.finding('lookup-ignored', `${what} succeeded though the lookup of ${describe(send.address)} failed`);
      } else {
        this.asyncError(error, what, state);
        if (tag) tag.status = 'failed';
        this.checkLookupError(state, record, error, what);
      }
    } else if (entry.kind === 'batch') {
      this.batchCallback(record, args, what, state);
    } else if (entry.kind === 'connect') {
      const [error] = args;
      if (state) state.connectsPending = state.connectsPending.filter((other) => other !== record);
      if (state && state.closeEvents > 0) this.finding('callback-after-close', `${what} ran after 'close'`);
      if (error === null || error === undefined) this.connected(state, record);
      else {
        this.asyncError(error, what, state);
        this.checkLookupError(state, record, error, what);
        if (state && state.connectRecord === record) {
          state.conn = 'none';
          state.connectRecord = undefined;
        }
      }
    }
  }

  /**
   * The callback of a send-like call: before 'close', and in the order of the sends of its
   * socket. Two failures come as soon as they are known, ahead of sends queued before them,
   * and are not counted: a full queue (ENOBUFS, syscall 'send'), and a failed lookup (as with
   * dgram, whose afterDns calls back at once).
   */
  checkSendCallback(state, record, error, what) {
    if (!state) return;
    if (state.closeEvents > 0) this.finding('callback-after-close', `${what} ran after 'close'${error ? ` with ${errorText(error)}` : ''}`);
    if (isQueueFull(error)) {
      if (record.queuedBefore !== undefined && record.queuedBefore < state.sendQueueLimit && record.lookupsInFlight === 0 &&
          !record.inListener && record.method !== 'sendBatch') {
        this.finding('queue-full-early', `${what} failed with ENOBUFS (queue full) with ${record.queuedBefore} of ${state.sendQueueLimit} queued`);
      }
      return;
    }
    if (record.method === 'sendBatch' && record.batchSize === 0) return;
    if (this.lookupErrors.has(error) || (MISBEHAVING_LOOKUPS.has(state.how.lookup) && isArgumentError(error))) return;
    if (record.seq < state.lastCallbackSeq) {
      const earlier = this.records.find((other) => other.seq === state.lastCallbackSeq);
      this.finding('callback-order', `${what} ran after the callback of a later ${earlier ? `${earlier.method}()` : 'call'} on the same socket`);
    }
    state.lastCallbackSeq = Math.max(state.lastCallbackSeq, record.seq);
  }

  /** An error of the fuzzer's lookup reaches only a call that named a host, unchanged. */
  checkLookupError(state, record, error, what) {
    if (!this.lookupErrors.has(error)) {
      if (error && error.code === 'ENOTFOUND') this.finding('lookup-error-changed', `${what} got an ENOTFOUND that is not the lookup's own error`);
      return;
    }
    const named = record.sends.some((send) => addresses.isHostName(send.address));
    if (!named && !this.namedAddress(record.method, record.args || [])) {
      this.finding('lookup-error-misrouted', `${what} got the error of a lookup though it named no host`);
    }
  }

  batchCallback(record, [error, results], what, state) {
    if (error !== null && error !== undefined) this.asyncError(error, what, state);
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
        if (result !== error) this.asyncError(result, `${what} (result ${i})`, state);
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

  asyncError(error, what, state) {
    this.countCode(error);
    if (!this.lookupErrors.has(error)) this.checkShape(error, what);
    const lookupsMisbehave = state && state.how && MISBEHAVING_LOOKUPS.has(state.how.lookup);
    if (isArgumentError(error) && !lookupsMisbehave) this.finding('argument-error-asynchronous', `${what} got ${errorText(error)}`);
  }


  /**
   * The datagrams a send-like call means, read as dgram reads its forms (README.md): for each,
   * { msg, tag, hasDestination, port, address, localAddress, interfaceIndex, interfaceName },
   * or { msg, opaque } where the runtime must not read the options (getters, proxies). null for
   * a sendBatch list it must not read. hasDestination undefined: the form is ambiguous.
   */
  describeSends(state, method, args) {
    const fields = (value, msg) => {
      if (typeof value !== 'object' || value === null || this.opaque.has(value)) return { msg, opaque: true };
      return {
        msg,
        hasDestination: value.port !== undefined || value.address !== undefined,
        port: value.port,
        address: value.address,
        localAddress: value.localAddress,
        interfaceIndex: value.interfaceIndex,
        interfaceName: value.interfaceName,
      };
    };
    const unlessCallback = (value) => (typeof value === 'function' ? undefined : value);
    let sends;
    if (method === 'sendNow' || method === 'sendmsg') sends = [fields(args[1], args[0])];
    else if (method === 'reply') {
      const rinfo = args[0];
      sends = [fields(rinfo, args[1])];
      if (!sends[0].opaque) Object.assign(sends[0], { hasDestination: true, rinfo, interfaceIndex: undefined, interfaceName: undefined });
    } else if (method === 'sendBatch') {
      const list = args[0];
      if (this.opaque.has(list)) return null;
      if (!Array.isArray(list)) return [];
      sends = [];
      for (let i = 0; i < list.length; i++) sends.push(fields(list[i], list[i] && !this.opaque.has(list[i]) ? list[i].msg : undefined));
    } else {
      const [msg, a1, a2, a3, a4] = args;
      if (typeof a1 === 'object' && a1 !== null) sends = [fields(a1, msg)];
      else if (state.conn === 'connected') {
        // dgram's connected forms: send(msg, cb?), send(msg, offset, length, cb?).
        if (typeof a2 === 'number') {
          // A null where the callback goes is no callback (as dgram and the package read it), not a port.
          sends = [{ msg, hasDestination: (a3 !== undefined && a3 !== null && typeof a3 !== 'function') || a4 !== undefined, offset: [a1, a2] }];
        } else if (a1 === undefined || typeof a1 === 'function') sends = [{ msg, hasDestination: false }];
        else sends = [{ msg, hasDestination: typeof a1 === 'number' && typeof a2 === 'string' ? true : undefined }];
      } else if (a4 || (a3 && typeof a3 !== 'function')) {
        // send(msg, offset, length, port, address?, cb?), as dgram tells the forms apart. With a
        // port that is no number, the package reads the port form (address: the length), dgram
        // this one: both throw, each for another argument; not judged.
        const hasDestination = typeof a3 === 'number' ? true : undefined;
        sends = [{ msg, hasDestination, port: a3, address: unlessCallback(a4), offset: [a1, a2] }];
      } else if (a1 === undefined || typeof a1 === 'function') sends = [{ msg, hasDestination: false }];
      else sends = [{ msg, hasDestination: true, port: a1, address: unlessCallback(a2) }];
    }
    // dgram's connected form send(msg, cb?) takes send(msg, null, ...) as a null callback and
    // ignores the rest, a callback too (also while a connect() is under way, when the socket may
    // be connected already).
    if (method === 'send' && state.conn !== 'none' && args[1] === null) sends[0].callbackIgnored = true;
    for (const send of sends) {
      send.tag = (send.msg !== null && typeof send.msg === 'object' && this.tagged.get(send.msg)) || undefined;
      if (send.tag && send.offset && !(send.offset[0] === 0 && send.offset[1] === send.tag.length)) {
        send.tag.unchecked = true;
        this.cutSends++; // a part of a tagged payload: it may arrive shorter than its header
      }
    }
    return sends;
  }

  /**
   * What one send must do, from the rules in addresses.js: { verdict, codes, why, to, from,
   * lookup, multicast }. verdict 'accept' (it must not be refused for its addresses),
   * 'refuse' (it must throw; an address error must have one of codes, when codes is given),
   * or 'either'. lookup: the name and family the socket must look up.
   */
  expectSend(state, method, send) {
    const either = { verdict: 'either' };
    if (send.opaque || send.hasDestination === undefined) return either;
    if (state.conn === 'connecting') {
      // Connected or not, for the socket, depends on whether its connect() has resolved: not
      // judged; a send to a name that returned was not taken as connected, and looks it up.
      if (method !== 'send' || typeof send.address !== 'string' || !addresses.isHostName(send.address)) return either;
      const source = typeof send.localAddress === 'string' ? addresses.classifySource(send.localAddress) : undefined;
      const family = (source && source.family) || (state.type === 'udp6' ? 6 : 4);
      return { verdict: 'either', lookup: { hostname: send.address, family, method } };
    }
    const socketFamily = state.type === 'udp6' ? 6 : 4;
    const problems = []; // [code, why]
    let uncertain = false;
    // The source.
    let sourceFamily;
    let from = null;
    const { localAddress } = send;
    if (localAddress !== undefined && localAddress !== null) {
      const source = typeof localAddress === 'string' ? addresses.classifySource(localAddress) : { code: 'ERR_INVALID_ARG_TYPE' };
      if (!source) uncertain = true;
      else if (source.code) problems.push([source.code, `the localAddress ${describe(localAddress)}`]);
      else {
        sourceFamily = source.family;
        from = source.local ? source.ip : null;
      }
    }
    // The link: interfaceIndex or interfaceName, not both.
    const { interfaceIndex, interfaceName } = send;
    if (interfaceIndex !== undefined && interfaceName !== undefined) problems.push(['ERR_INVALID_ARG_VALUE', 'both interfaceIndex and interfaceName']);
    if (interfaceName !== undefined) {
      if (typeof interfaceName !== 'string') problems.push(['ERR_INVALID_ARG_TYPE', 'an interfaceName that is no string']);
      else if (!(this.isolated ? interfaceName === 'lo' : this.interfaceNames().has(interfaceName))) {
        problems.push(['ERR_INVALID_ARG_VALUE', `the interfaceName ${describe(interfaceName)}, which no interface has`]);
      }
    }
    if (interfaceIndex !== undefined) {
      if (typeof interfaceIndex !== 'number') problems.push(['ERR_INVALID_ARG_TYPE', 'an interfaceIndex that is no number']);
      else if (!Number.isInteger(interfaceIndex) || interfaceIndex < 0 || interfaceIndex > 0x7fffffff) problems.push(['ERR_OUT_OF_RANGE', `the interfaceIndex ${interfaceIndex}`]);
    }
    const link = interfaceIndex !== undefined || interfaceName !== undefined;
    const result = (fields) => {
      if (problems.length > 0) return { verdict: 'refuse', codes: problems.map(([code]) => code), why: problems[0][1] };
      return uncertain ? either : { verdict: 'accept', ...fields, from: link ? null : from };
    };
    // A connected socket sends to its peer, and refuses a destination.
    if (state.conn === 'connected' && method !== 'reply') {
      if (send.hasDestination) problems.push(['ERR_SOCKET_DGRAM_IS_CONNECTED', 'a destination on a connected socket']);
      const { peer } = state;
      if (!peer) uncertain = true;
      else if (sourceFamily !== undefined && sourceFamily !== (peer.address.includes(':') ? 6 : 4)) {
        problems.push(['ERR_INVALID_ARG_VALUE', `a localAddress of the other family than the peer ${peer.address}`]);
      }
      return result({ to: peer && peer.address });
    }
    if (state.conn === 'connected') problems.push(['ERR_SOCKET_DGRAM_IS_CONNECTED', 'reply() on a connected socket']);
    if (method === 'reply') {
      // A peer that cannot be answered: no address yet, or port 0 (README).
      if (['0.0.0.0', '::', '::ffff:0.0.0.0'].includes(send.address)) problems.push(['ERR_INVALID_ARG_VALUE', 'reply() to the unspecified address']);
      if (send.port === 0) problems.push(['ERR_INVALID_ARG_VALUE', 'reply() to port 0']);
    }
    if (!send.hasDestination) {
      problems.push([null, 'no port on a socket that is not connected']);
      return result({});
    }
    // The destination: '' or none is loopback (not for reply(), which names its peer).
    const { address } = send;
    let destination;
    if ((address === undefined || address === null || address === '') && method !== 'reply') {
      destination = { kind: 'ip', to: loopbackOf(socketFamily), family: socketFamily };
    } else if (typeof address !== 'string') {
      problems.push(['ERR_INVALID_ARG_TYPE', `a destination of type ${describe(address)}`]);
      return result({});
    } else destination = addresses.classifyDestination(address);
    if (destination.kind === 'either') uncertain = true;
    else if (destination.kind === 'invalid') problems.push([destination.code, `the destination ${describe(address)}`]);
    else if (destination.kind === 'loopback' && method === 'reply') problems.push(['ERR_INVALID_IP_ADDRESS', 'reply() to an empty address']);
    else if (destination.kind === 'name') {
      if (method === 'reply') problems.push(['ERR_INVALID_IP_ADDRESS', `reply() to the name ${describe(address)}`]);
      else if (method !== 'send') problems.push(['ERR_INVALID_ARG_VALUE', `the name ${describe(address)} in ${method}(), which takes IP literals`]);
      else if (sourceFamily === 6 && socketFamily === 4) problems.push(['ERR_INVALID_ARG_VALUE', 'an IPv6 localAddress on a udp4 socket']);
      const family = sourceFamily || socketFamily;
      const to = addresses.lookupAnswer(address, family);
      return result({ lookup: { hostname: address, family, method }, to, lookupFails: to === null });
    } else {
      if (destination.family === 6 && socketFamily === 4) problems.push(['ERR_INVALID_ARG_VALUE', `the IPv6 destination ${describe(address)} on a udp4 socket`]);
      if (sourceFamily !== undefined && destination.family !== undefined && sourceFamily !== destination.family) {
        problems.push(['ERR_INVALID_ARG_VALUE', `a localAddress of the other family than ${describe(address)}`]);
      }
    }
    return result({ to: destination.to === undefined ? null : destination.to, multicast: Boolean(destination.multicast) });
  }

  /** The names of this host's interfaces (outside the namespace). */
  interfaceNames() {
    return new Set(Object.keys(os.networkInterfaces()));
  }

  /**
   * Whether a call may be made: always inside the namespace. Outside it, only sends to safe
   * destinations (and names, which the fuzzer's lookup answers) by lo or no link, connects to
   * them, and no multicast membership (joining would speak IGMP on the host's links).
   */
  guard(state, method, args, sends) {
    if (this.isolated) return true;
    if (method === 'connect') {
      const address = typeof args[1] === 'function' ? undefined : args[1];
      return state.ownLookup && addresses.destinationAllowed(address, false);
    }
    if (/Membership|MulticastInterface/.test(method)) return false;
    if (method === 'bind' && !state.ownLookup) return false;
    if (!SEND_METHODS.has(method)) return true;
    if (sends === null) return false;
    return sends.every((send) => {
      if (send.opaque) return true;
      const index = send.interfaceIndex;
      const indexSafe = index === undefined || index === null || index === 0 || index === 1 || !Number.isInteger(index);
      const nameSafe = send.interfaceName === undefined || send.interfaceName === 'lo' || typeof send.interfaceName !== 'string';
      const named = addresses.isHostName(send.address);
      return indexSafe && nameSafe && (!named || state.ownLookup) && addresses.destinationAllowed(send.address, false);
    });
  }

  /** The name a bind() or connect() with these arguments looks up, or undefined. */
  namedAddress(method, args) {
    let address;
    if (method === 'bind') address = typeof args[0] === 'object' && args[0] !== null ? args[0].address : args[1];
    else if (method === 'connect') address = args[1];
    return typeof address === 'string' && addresses.isHostName(address) ? address : undefined;
  }

  judge(state, record, args) {
    const { method, threw } = record;
    const name = `${method}() on a ${state.type} socket`;
    if (record.closedAtCall && !ALLOWED_WHEN_CLOSED.has(method) && !threw) {
      this.finding('closed-socket-call', `${name} returned on a closed socket`);
    }
    // A hop limit is judged before the socket, as dgram validates it first: EINVAL may come.
    const judgedFirst = threw && threw.code === 'EINVAL' && threw.syscall === method;
    if (record.closedAtCall && threw && threw.code !== 'ERR_SOCKET_DGRAM_NOT_RUNNING' && !isArgumentError(threw) && !judgedFirst && !(threw instanceof FuzzThrow)) {
      this.finding('closed-socket-error', `${name} on a closed socket threw ${errorText(threw)}, not ERR_SOCKET_DGRAM_NOT_RUNNING`);
    }
    if (SEND_METHODS.has(method)) this.judgeSends(state, record);
    if (threw) {
      for (const send of record.sends) if (send.tag) send.tag.status = 'threw';
      // A send that failed in the kernel (sendmsg(): EMSGSIZE, ...) has bound the socket first.
      if (SEND_METHODS.has(method) && !isArgumentError(threw) && !(threw instanceof FuzzThrow)) state.mayBeBound = true;
    } else {
      this.judgeReturn(state, record, args, name);
    }
    if (!record.closedAtCall) this.judgeMethod(state, record, args, name);
    this.queued(state);
  }

  /** The addresses of a send-like call against what addresses.js says they mean. */
  judgeSends(state, record) {
    const { method, threw } = record;
    const where = { where: `${method}()${record.inListener ? ' in a listener' : ''}` };
    const name = `a ${state.type} socket`;
    const verdicts = record.expectations;
    if (!verdicts || verdicts.length === 0 || record.closedAtCall) return;
    const refusal = verdicts.find((verdict) => verdict.verdict === 'refuse');
    if (!threw) {
      if (refusal) this.finding('accepted-invalid-address', `${method}() on ${name} accepted ${refusal.why}${refusal.codes.filter(Boolean).length ? ` (must be ${[...new Set(refusal.codes.filter(Boolean))].join(' or ')})` : ''}`, where);
      record.sends.forEach((send, i) => {
        const verdict = verdicts[i];
        if (!send.tag || send.opaque || !verdict || verdict.verdict !== 'accept') return;
        // A misbehaving lookup may answer an address of its own choosing.
        send.tag.to = verdict.lookup && MISBEHAVING_LOOKUPS.has(state.how.lookup) ? null : verdict.to ?? null;
        send.tag.from = verdict.from ?? null;
        send.tag.multicast = Boolean(verdict.multicast);
        send.tag.lookupFails = Boolean(verdict.lookupFails) && !MISBEHAVING_LOOKUPS.has(state.how.lookup);
      });
      if (method === 'reply' && record.sends[0] && record.sends[0].rinfo) {
        const kind = this.forgedKinds.get(record.sends[0].rinfo);
        if (kind === 'port-only' || kind === 'unspecified' || kind === 'port-zero') {
          this.finding('reply-forged-rinfo', `reply() on ${name} accepted a forged rinfo (${kind}): ${describeRinfo(record.sends[0].rinfo)}`, where);
        }
      }
      return;
    }
    const aboutAddress = isAboutAddress(threw) || threw.code === 'ERR_SOCKET_DGRAM_IS_CONNECTED';
    if (!aboutAddress) return;
    if (verdicts.every((verdict) => verdict.verdict === 'accept')) {
      const send = record.sends[0];
      this.finding('refused-valid-address', `${method}() on ${name}${state.conn === 'connected' ? ' (connected)' : ''} threw ${threw.code} for ${describe(send && send.address)}${send && send.localAddress !== undefined ? ` from ${describe(send.localAddress)}` : ''}: ${short(String(threw.message))}`, where);
    } else if (refusal && verdicts.every((verdict) => verdict.verdict !== 'either')) {
      const codes = new Set(verdicts.flatMap((verdict) => verdict.codes || []));
      if (!codes.has(null) && !codes.has(threw.code)) {
        this.finding('wrong-error-code', `${method}() on ${name} threw ${threw.code} for ${refusal.why}; expected ${[...codes].join(' or ')}`, where);
      }
    }
  }

  /** What a call that returned must have returned. */
  judgeReturn(state, record, args, name) {
    const { method, returned } = record;
    if (method === 'close') this.markClosed(state);
    if (method === 'sendNow' || method === 'sendmsg') {
      const tag = record.sends[0] && record.sends[0].tag;
      if (!Number.isInteger(returned) || returned < 0) this.finding('return-value', `${name} returned ${describe(returned)}`);
      else if (tag) this.settleTag(tag, returned, name);
    }
    if (['bind', 'close', 'ref', 'unref'].includes(method) && returned !== state.socket) {
      this.finding('return-value', `${name} returned ${describe(returned)}, not the socket`);
    }
    if (method === 'address' || method === 'remoteAddress') {
      const ok = returned && typeof returned.address === 'string' && Number.isInteger(returned.port) &&
        (returned.family === (returned.address.includes(':') ? 'IPv6' : 'IPv4'));
      if (!ok) this.finding('return-value', `${name} returned ${describe(returned)}`);
    }
    if ((method === 'getRecvBufferSize' || method === 'getSendBufferSize') && !(Number.isInteger(returned) && returned > 0)) {
      this.finding('return-value', `${name} returned ${describe(returned)}`);
    }
    if ((method === 'setTTL' || method === 'setMulticastTTL') && returned !== args[0]) {
      this.finding('return-value', `${name}(${describe(args[0])}) returned ${describe(returned)}`);
    }
    if (method === 'getSendQueueSize' || method === 'getSendQueueCount') {
      if (!Number.isInteger(returned) || returned < 0) this.finding('return-value', `${name} returned ${describe(returned)}`);
      else if (method === 'getSendQueueCount' && returned !== state.socket.queuedSends) {
        this.finding('queue-count', `getSendQueueCount() is ${returned} but queuedSends ${state.socket.queuedSends}`);
      } else if (method === 'getSendQueueSize' && returned > 0 && state.socket.queuedSends === 0) {
        this.finding('queue-size', `getSendQueueSize() is ${returned} bytes with no send queued`);
      }
    }
    if (!/^(get|address|remoteAddress|ref|unref|set(TTL|MulticastTTL|Broadcast|MulticastLoopback|RecvBufferSize|SendBufferSize))/.test(method) && method !== 'close') {
      // bind, connect, a send, a membership: the socket may be bound now (implicitly).
      state.mayBeBound = true;
    }
  }

  /** dgram's rules for the calls that are not sends (made on an open socket). */
  judgeMethod(state, record, args, name) {
    const { method, threw } = record;
    const must = (code, why) => {
      if (!threw) this.finding('accepted-bad-argument', `${name} accepted ${why}; dgram throws ${code}`);
      else if (threw.code !== code && !(threw instanceof FuzzThrow)) this.finding('wrong-error-code', `${name} threw ${threw.code} for ${why}, not ${code}`);
    };
    const hop = (minimum) => {
      const [ttl] = args;
      if (typeof ttl !== 'number') must('ERR_INVALID_ARG_TYPE', `a ttl of type ${typeof ttl}`);
      else if (!Number.isInteger(ttl) || ttl < minimum || ttl > 255) {
        must('EINVAL', `the ttl ${ttl}`);
        if (threw && threw.code === 'EINVAL' && threw.syscall !== method) this.finding('wrong-syscall', `${name}(${ttl}) failed with syscall ${threw.syscall}`);
      } else if (threw) this.finding('refused-valid-argument', `${name}(${ttl}) threw ${errorText(threw)}`);
    };
    switch (method) {
      case 'setTTL': return hop(1);
      case 'setMulticastTTL': return hop(0);
      case 'setRecvBufferSize':
      case 'setSendBufferSize': {
        const [size] = args;
        if (typeof size !== 'number' || size >>> 0 !== size) must('ERR_SOCKET_BAD_BUFFER_SIZE', `the size ${describe(size)}`);
        else if (threw && !['ERR_SOCKET_BAD_BUFFER_SIZE', 'ERR_SOCKET_BUFFER_SIZE'].includes(threw.code)) {
          this.finding('wrong-error-code', `${name}(${size}) threw ${errorText(threw)}`);
        }
        return undefined;
      }
      case 'address':
        if (threw && threw.code === 'EBADF' && state.listening > 0) this.finding('address-after-listening', `address() threw EBADF after 'listening'`);
        else if (threw && threw.code !== 'EBADF') this.finding('wrong-error-code', `address() on an open socket threw ${errorText(threw)}`);
        else if (!threw && !state.mayBeBound) this.finding('address-before-bind', `address() returned ${describe(record.returned)} before any call that binds; dgram throws EBADF`);
        return undefined;
      case 'close':
        if (threw && threw.code !== 'ERR_SOCKET_DGRAM_NOT_RUNNING') this.finding('refused-valid-argument', `close(${describe(args[0])}) threw ${errorText(threw)}: dgram ignores an argument that is not a function`);
        return undefined;
      case 'connect': return this.judgeConnect(state, record, args, name);
      case 'disconnect':
        // Until connect() calls back (or emits 'connect'), the socket is not connected yet.
        if (record.connAtCall === 'connected' && threw) this.finding('refused-valid-argument', `disconnect() on a connected socket threw ${errorText(threw)}`);
        if (record.connAtCall !== 'connected') must('ERR_SOCKET_DGRAM_NOT_CONNECTED', `disconnect() on a socket that is ${record.connAtCall === 'none' ? 'not connected' : 'still connecting'}`);
        if (!threw) {
          state.conn = 'none';
          state.connectRecord = undefined;
          state.peer = null;
        }
        return undefined;
      case 'remoteAddress': {
        const { returned } = record;
        if (record.connAtCall !== 'connected') must('ERR_SOCKET_DGRAM_NOT_CONNECTED', `remoteAddress() when ${record.connAtCall === 'none' ? 'not connected' : 'still connecting'}`);
        else if (record.connAtCall === 'connected' && threw) this.finding('refused-valid-argument', `remoteAddress() on a connected socket threw ${errorText(threw)}`);
        else if (record.connAtCall === 'connected' && state.peer && returned &&
            (addresses.canonical(returned.address) !== state.peer.address || returned.port !== state.peer.port)) {
          this.finding('remote-address', `remoteAddress() is ${returned.address}:${returned.port}, but the socket connected to ${state.peer.address}:${state.peer.port}`);
        }
        return undefined;
      }
      case 'addMembership':
      case 'dropMembership':
      case 'addSourceSpecificMembership':
      case 'dropSourceSpecificMembership':
      case 'setMulticastInterface':
        return this.judgeMulticast(state, record, args, name);
      default:
        return undefined;
    }
  }

  judgeConnect(state, record, args, name) {
    const { threw } = record;
    const [port] = args;
    const address = typeof args[1] === 'function' ? undefined : args[1];
    const validPort = typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536;
    if (threw) {
      if (threw.code === 'ERR_SOCKET_DGRAM_IS_CONNECTED' && record.connAtCall === 'none') {
        this.finding('refused-valid-argument', 'connect() on a socket that is not connected threw ERR_SOCKET_DGRAM_IS_CONNECTED');
      }
      return;
    }
    if (record.connAtCall !== 'none') this.finding('connect-twice', `connect() returned on a socket that was ${record.connAtCall}; dgram throws ERR_SOCKET_DGRAM_IS_CONNECTED`);
    if (!validPort) this.finding('accepted-bad-argument', `connect() accepted the port ${describe(port)}`);
    // dgram: undefined and '' are loopback; any other non-string is ERR_INVALID_ARG_TYPE.
    let peer = null;
    if (address === undefined || address === '') peer = loopbackOf(state.type === 'udp6' ? 6 : 4);
    else if (typeof address !== 'string') this.finding('accepted-bad-argument', `connect() accepted the address ${describe(address)}; dgram throws ERR_INVALID_ARG_TYPE`);
    else {
      const destination = addresses.classifyDestination(address);
      if (destination.kind === 'invalid') this.finding('accepted-invalid-address', `connect() on ${name.replace(/^connect\(\) on /, '')} accepted ${describe(address)}; an IP literal is judged at once (${destination.code})`);
      else if (destination.kind === 'ip' && destination.family === 6 && state.type === 'udp4') this.finding('accepted-invalid-address', `connect() on a udp4 socket accepted the IPv6 address ${describe(address)}`);
      else if (destination.kind === 'ip') peer = destination.to && !addresses.isMulticast(destination.to) ? destination.to : null;
      else if (destination.kind === 'name' && !MISBEHAVING_LOOKUPS.has(state.how.lookup)) peer = addresses.lookupAnswer(address, state.type === 'udp6' ? 6 : 4);
    }
    state.conn = 'connecting';
    state.connectRecord = record;
    state.pendingPeer = peer && validPort ? { address: addresses.canonical(peer), port } : null;
  }

  judgeMulticast(state, record, args, name) {
    const { method, threw } = record;
    if (threw && !isArgumentError(threw) && !(threw instanceof FuzzThrow) && threw.syscall !== method) {
      this.finding('wrong-syscall', `${name} failed with ${threw.code}, syscall ${threw.syscall}`);
    }
    if (method === 'addMembership' || method === 'dropMembership') {
      // dgram: a missing group is ERR_MISSING_ARGS.
      if (args[0] === undefined || args[0] === null || args[0] === '') {
        if (!threw) this.finding('accepted-bad-argument', `${name} accepted the group ${describe(args[0])}`);
        else if (threw.code !== 'ERR_MISSING_ARGS') this.finding('wrong-error-code', `${method}(${describe(args[0])}) on a ${state.type} socket threw ${threw.code}; dgram throws ERR_MISSING_ARGS`);
      }
      const group = args[0];
      if (!threw && typeof group === 'string' && state.type === 'udp4' && group.includes(':') && !/^::ffff:/i.test(group)) {
        this.finding('accepted-invalid-address', `${name} joined the IPv6 group ${describe(group)} on a udp4 socket`);
      }
      if (!threw && typeof group === 'string' && !addresses.isMulticast(group.split('%')[0])) {
        this.finding('accepted-invalid-address', `${name} accepted ${describe(group)}, which is no multicast group`);
      }
      if (!threw && method === 'addMembership') this.stats.joined++;
    }
    if (method === 'setMulticastInterface' && !threw) {
      const [value] = args;
      if (typeof value === 'string' && state.type === 'udp6' && !value.includes(':')) this.finding('accepted-invalid-address', `${name} accepted the IPv4 interface ${describe(value)} on a udp6 socket`);
      if (typeof value === 'string' && state.type === 'udp4' && value.includes('%')) this.finding('accepted-invalid-address', `${name} accepted ${describe(value)} on a udp4 socket`);
      if (typeof value !== 'string' && (typeof value !== 'object' || value === null)) this.finding('accepted-bad-argument', `${name} accepted ${describe(value)}`);
    }
    if (!threw && args.some((arg) => typeof arg === 'object' && arg !== null && arg.interfaceName === 'nosuchif')) {
      this.finding('accepted-bad-argument', `${name} accepted an interface name no interface has`);
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
    for (const state of this.slots) if (state) this.checkLookups(state, true);
    for (const disposal of this.disposals) {
      if (!disposal.settled) this.finding('dispose-unsettled', '[Symbol.asyncDispose]() never settled', { step: disposal.step });
    }
    if (this.ownThrown !== this.ownCaught) {
      this.finding('listener-throw-lost', `${this.ownThrown} listener/callback throws, ${this.ownCaught} reached 'uncaughtException'`);
    }
    return this.result('closed');
  }

  /** Leaves sockets open and sends queued: the process or worker then ends around them. */
  async abandon() {
    await delay(5);
    return this.result('abandoned');
  }

  checkCallbacks() {
    for (const record of this.records) {
      if (record.threw || record.guarded) continue;
      // dgram's connected send(msg, cb?) form: send(msg, null, cb) takes null as its callback,
      // and cb is never called (README: a difference to say, or to refuse).
      const ignored = record.sends.some((send) => send.callbackIgnored);
      for (const entry of record.callbacks) {
        if (entry.kind === 'bind' || entry.count === 1 || (ignored && entry.count === 0)) continue;
        if (entry.kind === 'connect' && record.closedWhileConnecting) continue;
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
      const receivers = new Set(tag.arrivals.map((arrival) => arrival.receiver));
      // A multicast datagram reaches every socket of its port (and its sender's own, looped
      // back), each once.
      if (tag.multicast ? receivers.size < tag.arrivals.length : tag.arrivals.length > 1) {
        this.finding('datagram-duplicated', `a datagram of ${method}() arrived ${tag.arrivals.length} times`);
      }
      if (tag.status === 'threw') this.finding('datagram-of-failed-call', `a datagram of ${method}() arrived though the call threw`);
      if (tag.status === 'failed') this.finding('datagram-of-failed-call', `a datagram of ${method}() arrived though its callback got an error`);
      if (tag.lookupFails) this.finding('lookup-ignored', `a datagram of ${method}() to a name the lookup failed arrived at ${first.destination}`);
      for (const arrival of tag.multicast ? tag.arrivals : [first]) {
        if (tag.to && arrival.destination !== undefined && addresses.canonical(arrival.destination) !== tag.to) {
          this.finding('wrong-destination', `${method}() to ${tag.to} arrived at ${arrival.destination}`);
        }
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

function describeOptions(options) {
  if (typeof options === 'string') return JSON.stringify(options);
  try {
    return JSON.stringify(options) ?? describe(options);
  } catch {
    return describe(options);
  }
}

/** Why listInterfaces()'s answer is wrong, or null. In the namespace, lo (index 1) alone. */
function listProblem(list, isolated) {
  if (!Array.isArray(list)) return `listInterfaces() returned ${describe(list)}`;
  let previous = 0;
  for (const item of list) {
    if (typeof item !== 'object' || item === null || typeof item.name !== 'string' || !Number.isInteger(item.index) || item.index < 1 || !Array.isArray(item.addresses)) {
      return `listInterfaces() listed ${describeOptions(item)}`;
    }
    if (item.index <= previous) return 'listInterfaces() is not in the order of the indexes';
    previous = item.index;
    for (const address of item.addresses) {
      if (typeof address.address !== 'string' || address.family !== (address.address.includes(':') ? 'IPv6' : 'IPv4')) {
        return `listInterfaces() listed the address ${describeOptions(address)} of ${item.name}`;
      }
    }
  }
  if (isolated) {
    const lo = list.find((item) => item.name === 'lo');
    if (list.length !== 1 || !lo || lo.index !== 1) return `listInterfaces() in the namespace is ${describeOptions(list.map((item) => `${item.name}#${item.index}`))}, not lo#1`;
    const listed = new Set(lo.addresses.map((address) => address.address));
    for (const address of ['127.0.0.1', '::1', 'fd00::1', 'fd00::2']) {
      if (!listed.has(address)) return `listInterfaces() does not list ${address} on lo`;
    }
  }
  return null;
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
