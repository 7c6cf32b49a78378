'use strict';
// Makes a fuzz program from a seed: a list of steps, each a line of JavaScript that calls the
// API through the runtime (R.call(slot, method, args)), with the pause before it. A step
// that creates a socket also carries the 'message' listener's reactions, run in turn per
// datagram. The same seed gives the same program; the program is data, so a failing one can be
// saved, replayed and cut down (scripts/fuzz-api.js --minimize).
const { Random } = require('./random');
const { DESTINATIONS, SOURCES, BIND_ADDRESSES, mutate } = require('./addresses');

const MAX_SOCKETS = 6;

const literal = (text) => (text.length <= 80 ? JSON.stringify(text) : `R.longString(${JSON.stringify(text.slice(0, 12))}, ${text.length})`);

// ---- values: each function returns JavaScript source ----

function payloadLength(g) {
  return g.random.weighted([
    [45, () => g.random.int(12, 200)],
    [15, () => g.random.int(200, 4000)],
    [10, () => g.random.pick([4095, 4096, 4097, 8184, 8192, 8193])],
    [8, () => g.random.pick([20000, 65507, 65508, 65527, 65528, 70000])],
    [10, () => g.random.int(0, 11)],
    [12, () => g.random.pick([1, 12, 100, 1500])],
  ])();
}

/** A message whose arrival the receiver checks (tagged), in one of the shapes send takes. */
function goodMessage(g, k) {
  const length = payloadLength(g);
  return g.random.weighted([
    [50, () => `R.payload(${length}, ${k})`],
    [20, () => `R.payload(${length}, ${k}, ${JSON.stringify(g.random.pick(['buffer', 'embedded', 'dataview', 'u16', 'shared', 'resizable']))})`],
    [20, () => `R.gather(${length}, ${k}, ${g.random.pick([1, 2, 3, 8, 32, 64])}, ${JSON.stringify(g.random.pick(['copies', 'subarrays', 'mixed', 'empties']))})`],
    [10, () => g.random.pick(["'hello'", "''", "'\\ud800'", "'\u00e9'.repeat(3)", "'x'.repeat(70000)", "'x'.repeat(65507)"])],
  ])();
}

// Views that lie, views of odd memory, and things that are no message at all.
const ODD_MESSAGES = [
  "R.detached('u8', 16)",
  "R.detached('dv', 16)",
  "R.detached('u16', 8)",
  'new Proxy(new Uint8Array(8), {})',
  'Object.setPrototypeOf({}, Uint8Array.prototype)',
  'Object.setPrototypeOf(new Uint16Array(4), Uint8Array.prototype)',
  'Object.setPrototypeOf(new Uint8Array(8), Uint16Array.prototype)',
  "Object.defineProperty(new Uint16Array(4), 'byteLength', { value: 2 ** 31 })",
  "Object.defineProperty(new Uint16Array(4), 'byteOffset', { value: 3 })",
  "Object.defineProperty(new Uint16Array(4), 'buffer', { value: new ArrayBuffer(1) })",
  'new (class extends Uint8Array { get length() { return 1e9; } })(8)',
  'R.revoked()',
  'R.resizable(16)',
  'R.outOfBounds()',
  'new Uint8Array(new SharedArrayBuffer(8))',
  'new Float64Array(2)',
  'new BigInt64Array(2)',
  'new Uint8ClampedArray(3)',
  'new DataView(new ArrayBuffer(5), 1, 3)',
  'Buffer.alloc(0)',
  'new Uint8Array(0)',
  '123', 'null', 'undefined', '{}', 'true', "Symbol('m')", 'new ArrayBuffer(8)', '10n', '() => 0',
  '{ length: 3, 0: 1 }', "new String('s')",
];

// Gather lists that are sparse, too long, mixed or hostile.
const ODD_GATHER_LISTS = [
  '[new Uint8Array(4), , new Uint8Array(4)]',
  'new Array(3)',
  'Object.assign(new Array(5), { 0: new Uint8Array(2) })',
  "[new Uint8Array(2), 'str', new Uint16Array(2)]",
  '[new Uint8Array(2), 42]',
  'R.many(65, 1)',
  'R.many(64, 1100)',
  'R.many(100000, 0)',
  'R.many(64, 0)',
  '[]',
  'R.throwingArray()',
  'R.proxy([new Uint8Array(3)])',
  "[R.detached('u8', 8), new Uint8Array(2)]",
  '[[new Uint8Array(1)]]',
  '[new Proxy(new Uint8Array(2), {})]',
  '[Object.setPrototypeOf(new Uint16Array(2), Uint8Array.prototype)]',
  '[R.outOfBounds()]',
];

function message(g, k) {
  return g.random.weighted([
    [62, () => goodMessage(g, k)],
    [16, () => g.random.pick(ODD_MESSAGES)],
    [14, () => g.random.pick(ODD_GATHER_LISTS)],
    [8, () => (g.pool.length > 0 ? `V[${g.random.int(0, g.pool.length - 1)}]` : goodMessage(g, k))],
  ])();
}

const BAD_PORTS = ['0', '-1', '65536', '1.5', 'NaN', "'abc'", "''", "' '", 'null', '{}', '2 ** 53', 'Infinity', 'true', '[1]'];

function port(g) {
  return g.random.weighted([
    [55, () => `R.port(${g.anySlot()})`],
    [25, () => 'R.sinkPort()'],
    [5, () => `String(R.port(${g.anySlot()}))`],
    [3, () => `' ' + R.port(${g.anySlot()})`],
    [12, () => g.random.pick(BAD_PORTS)],
  ])();
}

// Names the fuzzer's lookup answers, and one it fails (addresses.js HOST_NAMES).
const NAMES = ['localhost', 'localhost', 'lo2.fuzz.test', 'nowhere.fuzz.test', 'LocalHost.'];

function destination(g, type) {
  return g.random.weighted([
    [40, () => literal(type === 'udp6' ? g.random.pick(['::1', '127.0.0.1', '::ffff:127.0.0.1']) : '127.0.0.1')],
    [30, () => literal(g.random.pick(DESTINATIONS).text)],
    [10, () => literal(g.random.pick(NAMES))],
    [10, () => literal(mutate(g.random, g.random.pick(DESTINATIONS).text))],
    // dgram takes null and undefined as loopback, and refuses every other non-string.
    [10, () => g.random.pick(['null', 'undefined', '42', '0', 'false', '{}', "['127.0.0.1']", "new String('127.0.0.1')", 'true'])],
  ])();
}

function source(g) {
  return g.random.weighted([
    [85, () => literal(g.random.pick(SOURCES).text)],
    [15, () => g.random.pick(['null', '42', "['::1']"])],
  ])();
}

const INTERFACE_INDEXES = ['0', '1', '1', '2', '999', '-1', '1.5', '2 ** 31', '2 ** 31 - 1', "'1'", 'NaN', 'null'];
const INTERFACE_NAMES = ["'lo'", "'lo'", "'nosuchif'", "''", '42', 'null', "'lo\u0000'", "'x'.repeat(300)"];

/** send()'s options object, sometimes with getters, a proxy or a throwing field. */
function sendOptions(g, k, type) {
  return g.random.weighted([
    [88, () => {
      const fields = [`port: ${port(g)}`];
      if (g.random.chance(0.8)) fields.push(`address: ${destination(g, type)}`);
      if (g.random.chance(0.2)) fields.push(`localAddress: ${source(g)}`);
      if (g.random.chance(0.1)) fields.push(`interfaceIndex: ${g.random.pick(INTERFACE_INDEXES)}`);
      if (g.random.chance(0.08)) fields.push(`interfaceName: ${g.random.pick(INTERFACE_NAMES)}`);
      return `{ ${fields.join(', ')} }`;
    }],
    // On a connected socket: no destination, perhaps a source or a link.
    [6, () => g.random.pick(['{}', `{ localAddress: ${source(g)} }`, "{ interfaceName: 'lo' }", '{ interfaceIndex: 1 }'])],
    [3, () => `R.getterOptions(${port(g)}, ${literal(g.random.pick(['127.0.0.1', '::1']))}, ${literal(g.random.pick(['', 'x'.repeat(100), '127.0.0.2']))})`],
    [3, () => `R.throwingOptions(${JSON.stringify(g.random.pick(['port', 'address', 'localAddress', 'interfaceIndex']))})`],
    [2, () => `R.proxy({ port: ${port(g)} })`],
    [2, () => `Object.assign(Object.create(null), { port: ${port(g)} })`],
    [2, () => g.random.pick(['[]', 'null', 'new Date()'])],
  ])();
}

function callback(g) {
  return g.random.weighted([
    [66, () => 'R.CB'],
    [5, () => 'R.CB_THROW'],
    [4, () => 'R.CB_CLOSE'],
    [15, () => undefined],
    [10, () => g.random.pick(["'cb'", '42', '{}', 'null'])],
  ])();
}

const withCallback = (g, args) => {
  const cb = callback(g);
  return cb === undefined ? args : [...args, cb];
};

/** A send in one of its three forms, from slot k. */
function send(g, k) {
  const type = g.typeOf(k);
  const msg = message(g, k);
  const form = g.random.weighted([[52, 'options'], [28, 'port'], [14, 'offset'], [6, 'connected']]);
  let args;
  if (form === 'options') args = [msg, sendOptions(g, k, type)];
  else if (form === 'connected') {
    // The forms of a connected socket: send(msg, cb?) and send(msg, offset, length, cb?).
    const length = payloadLength(g);
    args = g.random.chance(0.6) ? [msg] : [`R.payload(${length}, ${k})`, '0', String(length)];
  } else if (form === 'port') {
    args = [msg, port(g)];
    if (g.random.chance(0.7)) args.push(destination(g, type));
  } else {
    const length = payloadLength(g);
    const whole = g.random.chance(0.5);
    const offset = whole ? '0' : g.random.pick(['0', '1', String(length), String(length + 1), '-1', '1.5', "'1'", 'NaN']);
    const count = whole ? String(length) : g.random.pick(['0', '1', String(length), String(length + 1), '-1', "'2'"]);
    args = [whole ? `R.payload(${length}, ${k})` : g.random.pick([`R.bytes(${length})`, msg]), offset, count, port(g)];
    if (g.random.chance(0.7)) args.push(destination(g, type));
  }
  return `R.call(${k}, 'send', [${withCallback(g, args).join(', ')}])`;
}

function batchEntry(g, k) {
  const type = g.typeOf(k);
  return g.random.weighted([
    [85, () => {
      const fields = [`msg: ${message(g, k)}`, `port: ${port(g)}`];
      if (g.random.chance(0.6)) fields.push(`address: ${destination(g, type)}`);
      if (g.random.chance(0.15)) fields.push(`localAddress: ${source(g)}`);
      if (g.random.chance(0.05)) fields.push(`interfaceIndex: ${g.random.pick(INTERFACE_INDEXES)}`);
      if (g.random.chance(0.04)) fields.push(`interfaceName: ${g.random.pick(INTERFACE_NAMES)}`);
      return `{ ${fields.join(', ')} }`;
    }],
    [10, () => g.random.pick(['null', '42', "'x'", 'undefined'])],
    [5, () => `R.proxy({ msg: R.payload(20, ${k}), port: R.sinkPort() })`],
  ])();
}

function sendBatch(g, k) {
  const messages = g.random.weighted([
    [70, () => {
      const entries = [];
      for (let i = g.random.int(0, 5); i > 0; i--) entries.push(batchEntry(g, k));
      if (g.random.chance(0.15) && entries.length > 1) entries[g.random.int(0, entries.length - 1)] = ''; // a hole
      return `[${entries.join(', ')}${entries[entries.length - 1] === '' ? ',' : ''}]`;
    }],
    [12, () => `R.manyEntries(${g.random.pick([63, 64, 65, 100, 200])}, ${k}, ${g.anySlot()}, ${g.random.pick([20, 1400])})`],
    [8, () => g.random.pick(['new Array(3)', `[${batchEntry(g, k)}, , ${batchEntry(g, k)}]`, `Object.assign(new Array(4), { 1: ${batchEntry(g, k)} })`])],
    [10, () => g.random.pick(['{}', "'x'", 'null', 'undefined', `R.proxy([${batchEntry(g, k)}])`])],
  ])();
  return `R.call(${k}, 'sendBatch', [${withCallback(g, [messages]).join(', ')}])`;
}

const FORGED_RINFOS = [
  (p) => `R.forged('port-only', { port: ${p} })`,
  (p) => `R.forged('unspecified', { address: '0.0.0.0', family: 'IPv4', port: ${p} })`,
  (p) => `R.forged('unspecified', { address: '::', family: 'IPv6', port: ${p} })`,
  () => "R.forged('port-zero', { address: '127.0.0.1', family: 'IPv4', port: 0 })",
  (p) => `R.forged('wrong-family', { address: '127.0.0.1', family: 'IPv6', port: ${p} })`,
  (p) => `R.forged('wrong-family', { address: '::1', family: 'IPv4', port: ${p} })`,
  (p) => `R.forged('foreign-local', { address: '127.0.0.1', family: 'IPv4', port: ${p}, localAddress: '192.0.2.1' })`,
  (p) => `R.forged('mixed-local', { address: '127.0.0.1', family: 'IPv4', port: ${p}, localAddress: '::1' })`,
  (p) => `R.forged('v4-local-for-v6', { address: '::1', family: 'IPv6', port: ${p}, localAddress: '127.0.0.1' })`,
  (p) => `R.forged('link-local', { address: 'fe80::1%lo', family: 'IPv6', port: ${p}, interfaceIndex: 1 })`,
  (p) => `R.forged('bad-address', { address: 42, family: 'IPv4', port: ${p} })`,
  (p) => `R.forged('valid', { address: '127.0.0.1', family: 'IPv4', port: ${p}, localAddress: '127.0.0.2' })`,
  (p) => `R.forged('valid', { address: '::1', family: 'IPv6', port: ${p}, localAddress: '::1' })`,
  () => 'null',
  () => "'rinfo'",
];

function rinfo(g, own) {
  return g.random.weighted([
    [60, () => own || `R.rinfo(${g.random.chance(0.3) ? "'sink'" : g.anySlot()})`],
    [15, () => `R.rinfo(${g.random.chance(0.3) ? "'sink'" : g.anySlot()})`],
    [25, () => g.random.pick(FORGED_RINFOS)(port(g))],
  ])();
}

function reply(g, k, own) {
  return `R.call(${k}, 'reply', [${withCallback(g, [rinfo(g, own), message(g, k)]).join(', ')}])`;
}

function sendNow(g, k) {
  const args = `${message(g, k)}, ${sendOptions(g, k, g.typeOf(k))}`;
  if (g.random.chance(0.5)) return `R.call(${k}, 'sendNow', [${args}])`;
  if (g.random.chance(0.85)) return `R.call(${k}, 'sendmsg', [${args}])`;
  return `R.callModule(${g.random.pick(['{}', 'null', 'R.dgramSocket()'])}, [${args}])`;
}

function bind(g, k) {
  const type = g.typeOf(k);
  const address = () => literal(g.random.chance(0.6)
    ? (type === 'udp6' ? g.random.pick(['::', '::1', '0.0.0.0']) : g.random.pick(['127.0.0.1', '0.0.0.0', '127.0.0.2']))
    : g.random.pick(BIND_ADDRESSES));
  const bindPort = () => g.random.weighted([[75, '0'], [15, `R.port(${g.anySlot()})`], [10, g.random.pick(['-1', '65536', "'0'", "'x'", '1.5', 'null'])]]);
  const args = g.random.weighted([
    [45, () => withCallback(g, [bindPort(), address()])],
    [20, () => withCallback(g, [`{ port: ${bindPort()}, address: ${address()} }`])],
    [15, () => withCallback(g, [])],
    [10, () => [bindPort()]],
    [10, () => g.random.pick([['42', '42'], ['0', address(), "'cb'"], ['{ port: 0, exclusive: true }'], ['null', address()]])],
  ])();
  return `R.call(${k}, 'bind', [${args.join(', ')}])`;
}

// The runtime adds its own `lookup` to every socket's options (a type string becomes
// { type, lookup }), so that no name is ever resolved by DNS.
const SOCKET_OPTIONS = {
  good: [
    "'udp4'", "'udp6'",
    "{ type: 'udp4', reuseAddr: true }", "{ type: 'udp6', reuseAddr: true }",
    "{ type: 'udp6', ipv6Only: true }",
    "{ type: 'udp4', maxMessageSize: 12 }", "{ type: 'udp4', maxMessageSize: 100 }",
    "{ type: 'udp6', maxMessageSize: 1500 }", "{ type: 'udp4', maxMessageSize: 4096 }",
    "{ type: 'udp4', maxMessageSize: 1 }",
    "{ type: 'udp4', sendBufferSize: 4096 }", "{ type: 'udp6', recvBufferSize: 2048, sendBufferSize: 1 }",
    "{ type: 'udp4', reusePort: true }", "{ type: 'udp6', reusePort: true }",
    "{ type: 'udp4', sendQueueLimit: 1 }", "{ type: 'udp4', sendQueueLimit: 8, sendBufferSize: 4096 }",
    "{ type: 'udp6', sendQueueLimit: 32 }",
  ],
  // Each with the error createSocket must throw (null: any Node-shaped argument error).
  bad: [
    ["'udp5'", 'ERR_SOCKET_BAD_TYPE'], ["''", 'ERR_SOCKET_BAD_TYPE'], ['null', 'ERR_SOCKET_BAD_TYPE'],
    ['42', 'ERR_SOCKET_BAD_TYPE'], ['1', 'ERR_SOCKET_BAD_TYPE'], ['true', 'ERR_SOCKET_BAD_TYPE'],
    ['{}', 'ERR_SOCKET_BAD_TYPE'], ["{ type: 'UDP4' }", 'ERR_SOCKET_BAD_TYPE'], ["['udp4']", 'ERR_SOCKET_BAD_TYPE'],
    ["{ type: 'udp4', maxMessageSize: 0 }", 'ERR_OUT_OF_RANGE'],
    ["{ type: 'udp4', maxMessageSize: 65536 }", 'ERR_OUT_OF_RANGE'], ["{ type: 'udp4', maxMessageSize: 1.5 }", 'ERR_OUT_OF_RANGE'],
    ["{ type: 'udp4', maxMessageSize: '100' }", 'ERR_INVALID_ARG_TYPE'], ["{ type: 'udp4', recvBufferSize: 0 }", null],
    ["{ type: 'udp6', sendBufferSize: -1 }", 'ERR_SOCKET_BAD_BUFFER_SIZE'],
    ["{ type: 'udp4', recvBufferSize: 'x' }", 'ERR_SOCKET_BAD_BUFFER_SIZE'],
    ["{ type: 'udp4', sendQueueLimit: 0 }", 'ERR_OUT_OF_RANGE'], ["{ type: 'udp6', sendQueueLimit: '8' }", 'ERR_INVALID_ARG_TYPE'],
    ["{ type: 'udp4', lookup: 42 }", 'ERR_INVALID_ARG_TYPE'], ["{ type: 'udp4', signal: {} }", 'ERR_INVALID_ARG_TYPE'],
  ],
};

function typeOfOptions(code) {
  return code.includes('udp6') ? 'udp6' : 'udp4';
}

// ---- multicast: groups and interfaces in dgram's forms and ours ----

const GROUPS = {
  udp4: ["'224.0.0.251'", "'239.1.2.3'", "'232.1.1.1'", "'127.0.0.1'", "'::ffff:224.0.0.251'"],
  udp6: ["'ff02::fb'", "'ff15::1234'", "'ff02::fb%lo'", "'224.0.0.251'", "'::1'", "'ff3e::1234'"],
  bad: ["''", 'undefined', '42', "'nosuch'", "'224.0.0.251%lo'", "'ff02::fb%nosuchif'", 'null'],
};

function group(g, type) {
  return g.random.chance(0.85) ? g.random.pick(GROUPS[type]) : g.random.pick(GROUPS.bad);
}

function multicastInterface(g, type) {
  return g.random.weighted([
    [40, () => (type === 'udp6' ? g.random.pick(["'::%lo'", "'::%1'", "'::'"]) : g.random.pick(["'127.0.0.1'", "'0.0.0.0'"]))],
    [30, () => g.random.pick(['{ interfaceIndex: 1 }', "{ interfaceName: 'lo' }", '{ interfaceIndex: 0 }'])],
    [30, () => g.random.pick(["'::%nosuchif'", "'127.0.0.2'", "'::1'", '42', "{ interfaceName: 'nosuchif' }",
      "{ interfaceIndex: 1, interfaceName: 'lo' }", '{ interfaceIndex: -1 }', "'nosuch'", "'127.0.0.1%lo'"])],
  ])();
}

function membership(g, k) {
  const type = g.typeOf(k);
  const join = g.random.chance(0.7);
  const withInterface = g.random.chance(0.7);
  if (g.random.chance(0.3)) {
    const method = join ? 'addSourceSpecificMembership' : 'dropSourceSpecificMembership';
    const sourceAddress = type === 'udp6' ? g.random.pick(["'::1'", "'fd00::1'", "'127.0.0.1'"]) : g.random.pick(["'127.0.0.1'", "'127.0.0.2'", "'::1'", '42']);
    const groupAddress = type === 'udp6' ? g.random.pick(["'ff3e::1234'", "'ff02::fb'", "'232.1.1.1'"]) : g.random.pick(["'232.1.1.1'", "'224.0.0.251'", "''"]);
    const args = [sourceAddress, groupAddress];
    if (withInterface) args.push(multicastInterface(g, type));
    return `R.call(${k}, '${method}', [${args.join(', ')}])`;
  }
  const args = [group(g, type)];
  if (withInterface) args.push(multicastInterface(g, type));
  return `R.call(${k}, '${join ? 'addMembership' : 'dropMembership'}', [${args.join(', ')}])`;
}

const CONNECT_ADDRESSES = ["'127.0.0.1'", "'127.0.0.2'", "'::1'", "'::ffff:127.0.0.1'", "'fd00::1'", "'localhost'",
  "'lo2.fuzz.test'", "'nowhere.fuzz.test'", "''", 'undefined', 'null', '0', "'1.2.3'", "'127.0.0.1%lo'", '42'];

function connect(g, k) {
  const args = [g.random.weighted([[80, `R.port(${g.anySlot()})`], [8, 'R.sinkPort()'], [12, g.random.pick(BAD_PORTS)]])];
  if (g.random.chance(0.85)) args.push(g.random.pick(CONNECT_ADDRESSES));
  return `R.call(${k}, 'connect', [${withCallback(g, args).join(', ')}])`;
}

// ---- 'message' listener reactions: k is the listening socket's slot, s the socket ----

const REACTIONS = [
  [14, (g, k) => reply(g, k, 'rinfo')],
  [4, (g, k) => `R.call(${k}, 'reply', [rinfo, R.payload(40, ${k}), R.CB])`],
  [6, (g, k) => send(g, k)],
  [3, (g, k) => sendBatch(g, k)],
  [2, (g, k) => sendNow(g, k)],
  [3, (g, k) => `R.call(${k}, 'close', [R.CB]); ${reply(g, k, 'rinfo')}`],
  [1, (g, k) => `R.call(${k}, 'close', [])`],
  [1, (g) => `R.call(${g.anySlot()}, 'close', [R.CB])`],
  [3, () => "R.throwOwn('listener')"],
  [2, (g, k) => `${reply(g, k, 'rinfo')}; R.throwOwn('listener')`],
  [2, () => 'R.detach(msg); R.gc()'],
  [1, () => 'V.push(msg)'],
  [4, () => ''],
  [2, (g, k) => `R.call(${k}, 'send', [${g.random.pick(ODD_MESSAGES.concat(ODD_GATHER_LISTS))}, rinfo.port, rinfo.address, R.CB])`],
  [3, (g, k) => `R.call(${k}, 'send', [R.payload(24, ${k}), { port: rinfo.port, address: ${destination(g, g.typeOf(k))} }, R.CB])`],
  [1, (g, k) => `R.call(${k}, ${JSON.stringify(g.random.pick(['setTTL', 'setBroadcast', 'unref', 'ref', 'address', 'getSendBufferSize']))}, [64])`],
  [1, (g, k) => `R.call(${k}, 'bind', [0])`],
  // A name in a listener: its send waits for the lookup, and keeps its place among the batch's.
  [3, (g, k) => `R.call(${k}, 'send', [R.payload(24, ${k}), rinfo.port, ${literal(g.random.pick(NAMES))}, R.CB]); R.call(${k}, 'send', [R.payload(24, ${k}), rinfo.port, rinfo.address, R.CB])`],
  [1, (g, k) => `${reply(g, k, 'rinfo')}; R.call(${k}, ${JSON.stringify(g.random.pick(['setTTL', 'setMulticastTTL']))}, [${g.random.pick(['1', '64', '300'])}]); ${reply(g, k, 'rinfo')}`],
  [1, (g, k) => `R.call(${k}, 'setMulticastInterface', [${multicastInterface(g, g.typeOf(k))}]); ${reply(g, k, 'rinfo')}`],
  [1, (g, k) => `R.call(${k}, 'connect', [rinfo.port, rinfo.address, R.CB])`],
];

// ---- the actions of a program, with their weights ----

const ACTIONS = [
  [5, 'create', (g) => {
    if (g.types.length >= MAX_SOCKETS) return null;
    const k = g.types.length;
    const [options, expect] = g.random.chance(0.9) ? [g.random.pick(SOCKET_OPTIONS.good), undefined] : g.random.pick(SOCKET_OPTIONS.bad);
    g.types.push(typeOfOptions(options));
    return g.createStep(k, options, expect);
  }],
  [7, 'bind', (g) => bind(g, g.anySlot())],
  [22, 'send', (g) => send(g, g.anySlot())],
  [8, 'sendBatch', (g) => sendBatch(g, g.anySlot())],
  [6, 'reply', (g) => reply(g, g.anySlot())],
  [4, 'sendNow', (g) => sendNow(g, g.anySlot())],
  [3, 'close', (g) => {
    const k = g.anySlot();
    return g.random.weighted([
      [60, `R.call(${k}, 'close', [R.CB])`],
      [20, `R.call(${k}, 'close', []); R.call(${k}, 'close', [R.CB])`],
      [10, `R.call(${k}, 'close', ['cb'])`],
      [10, `R.call(${k}, 'close', [])`],
    ]);
  }],
  [4, 'setters', (g) => {
    const k = g.anySlot();
    return g.random.pick([
      () => `R.call(${k}, 'setBroadcast', [${g.random.pick(['true', 'false', "'x'", 'undefined'])}])`,
      () => `R.call(${k}, 'setTTL', [${g.random.pick(['1', '64', '255', '0', '256', '1.5', "'64'", 'NaN'])}])`,
      () => `R.call(${k}, 'setMulticastTTL', [${g.random.pick(['0', '255', '256', '-1', "'1'"])}])`,
      () => `R.call(${k}, 'setMulticastLoopback', [${g.random.pick(['true', 'false', '0', "'x'"])}])`,
      () => `R.call(${k}, ${JSON.stringify(g.random.pick(['setRecvBufferSize', 'setSendBufferSize']))}, [${g.random.pick(['1', '2048', '4096', '65536', '2 ** 31 - 1', '2 ** 31', '0', '-1', "'x'", '1.5'])}])`,
    ])();
  }],
  [3, 'getters', (g) => {
    const k = g.anySlot();
    return g.random.pick([
      `R.call(${k}, 'address', [])`,
      `R.call(${k}, 'getRecvBufferSize', [])`,
      `R.call(${k}, 'getSendBufferSize', [])`,
      `R.get(${k}, 'queuedSends')`,
    ]);
  }],
  [2, 'ref', (g) => `R.call(${g.anySlot()}, ${JSON.stringify(g.random.pick(['ref', 'unref']))}, [])`],
  [3, 'flood', (g) => {
    // Enough bytes to fill the rate-limited lo (test/fixtures/netns-setup.sh): the queue path.
    const k = g.anySlot();
    const count = g.random.pick([50, 200, 400]);
    const body = g.random.chance(0.7)
      ? `R.call(${k}, 'send', [R.payload(1400, ${k}), R.port(${g.anySlot()}), ${g.random.chance(0.1) ? 'i === 100 ? R.CB_CLOSE : R.CB' : 'R.CB'}])`
      : `R.call(${k}, 'send', [R.payload(1400, ${k}), R.port(${g.anySlot()})])`;
    return `for (let i = 0; i < ${count}; i++) ${body}`;
  }],
  [2, 'keep', (g) => {
    const index = g.pool.length;
    g.pool.push(true);
    return `V[${index}] = ${g.random.pick([`R.bytes(${payloadLength(g)})`, 'R.resizable(64)', 'R.many(3, 100)', "R.detached('u8', 8)", 'new Uint16Array(8)'])}`;
  }],
  [2, 'detach', (g) => {
    if (g.pool.length === 0) return null;
    const index = g.random.int(0, g.pool.length - 1);
    return g.random.pick([`R.detach(V[${index}])`, `R.shrink(V[${index}])`, `R.detach(V[${index}]); R.gc()`]);
  }],
  [2, 'sendThenDetach', (g) => {
    const k = g.anySlot();
    return `{ const m = R.payload(1400, ${k}); R.call(${k}, 'send', [m, R.port(${g.anySlot()}), R.CB]); R.detach(m); R.gc(); }`;
  }],
  [1, 'gc', () => 'R.gc()'],
  [4, 'wait', () => ''],
  [4, 'connect', (g) => connect(g, g.anySlot())],
  [2, 'disconnect', (g) => `R.call(${g.anySlot()}, ${JSON.stringify(g.random.pick(['disconnect', 'disconnect', 'remoteAddress']))}, [])`],
  [3, 'membership', (g) => membership(g, g.anySlot())],
  [2, 'multicastInterface', (g) => {
    const k = g.anySlot();
    return `R.call(${k}, 'setMulticastInterface', [${multicastInterface(g, g.typeOf(k))}])`;
  }],
  [2, 'queue', (g) => `R.call(${g.anySlot()}, ${JSON.stringify(g.random.pick(['getSendQueueSize', 'getSendQueueCount']))}, [])`],
  [1, 'abort', (g) => `R.abort(${g.anySlot()})`],
  [1, 'dispose', (g) => `R.dispose(${g.anySlot()})`],
  [1, 'listInterfaces', () => 'R.listInterfaces()'],
  // Names between literals: each send keeps its place, whatever the lookup takes.
  [3, 'names', (g) => {
    const k = g.anySlot();
    const target = g.anySlot();
    const sends = [];
    for (let i = g.random.int(2, 8); i > 0; i--) {
      const to = g.random.chance(0.5) ? literal(g.random.pick(NAMES)) : literal(g.typeOf(k) === 'udp6' ? '::1' : '127.0.0.1');
      sends.push(`R.call(${k}, 'send', [R.payload(${g.random.pick([20, 300])}, ${k}), R.port(${target}), ${to}, R.CB])`);
    }
    return sends.join('; ');
  }],
];

class Generator {
  constructor(seed) {
    this.seed = seed;
    this.random = new Random(seed);
    this.types = [];
    this.pool = [];
  }

  anySlot() {
    return this.types.length === 0 ? 0 : this.random.int(0, this.types.length - 1);
  }

  typeOf(k) {
    return this.types[k] || 'udp4';
  }

  /** expect: the code createSocket must throw (bad options), or null for any argument error. */
  createStep(k, options, expect) {
    const reactions = [];
    for (let i = this.random.int(0, 4); i > 0; i--) reactions.push(this.random.weighted(REACTIONS.map(([weight, make]) => [weight, make]))(this, k));
    const how = { listener: this.random.weighted([[45, 'constructor'], [50, 'on'], [5, 'bad']]) };
    const onError = this.random.weighted([[80, null], [10, 'throw'], [10, 'close']]);
    const onListening = this.random.weighted([[70, null], [15, 'send'], [5, 'close'], [10, 'throw']]);
    // How the fuzzer's lookup answers this socket (runtime.js lookupFor).
    how.lookup = this.random.weighted([[34, 'async'], [24, 'delay'], [15, 'sync'], [15, 'mixed'], [4, 'throw'], [3, 'twice'], [4, 'bad-address'], [2, 'never']]);
    const signal = this.random.weighted([[85, null], [12, 'later'], [3, 'aborted']]);
    if (onError) how.onError = onError;
    if (onListening) how.onListening = onListening;
    if (signal) how.signal = signal;
    if (expect !== undefined) how.expect = expect;
    return { code: `R.create(${k}, ${options}, ${JSON.stringify(how).replace(/"(\w+)":/g, '$1: ').replace(/"/g, "'").replace(/,/g, ', ')})`, reactions };
  }

  gap() {
    return this.random.weighted([[35, 'sync'], [15, 'tick'], [25, 'immediate'], [25, this.random.int(1, 20)]]);
  }

  program() {
    const steps = [];
    const push = (step) => steps.push({ gap: this.gap(), ...(typeof step === 'string' ? { code: step } : step) });
    // Two sockets bound at the start, so that datagrams flow from the first steps on.
    for (let k = 0; k < 2; k++) {
      const options = this.random.pick(SOCKET_OPTIONS.good);
      this.types.push(typeOfOptions(options));
      push(this.createStep(k, options));
      const address = this.types[k] === 'udp6' ? this.random.pick(['::', '::1']) : this.random.pick(['127.0.0.1', '0.0.0.0']);
      push(`R.call(${k}, 'bind', [0, ${JSON.stringify(address)}, R.CB])`);
    }
    const count = this.random.int(10, 50);
    for (let i = 0; i < count; i++) {
      const [, name, make] = this.random.weighted(ACTIONS.map((action) => [action[0], action]));
      const step = make(this);
      if (step !== null) push(typeof step === 'string' ? { code: step, action: name } : { ...step, action: name });
    }
    return {
      seed: this.seed,
      inWorker: this.random.chance(0.2),
      // 'exit': the process (or worker) exits with sockets open and sends queued;
      // 'terminate': the main thread terminates the worker (in the main thread: as 'exit').
      ending: this.random.weighted([[85, 'close'], [8, 'exit'], [7, 'terminate']]),
      steps,
    };
  }
}

function generate(seed) {
  return new Generator(seed).program();
}

/** The program as lines of JavaScript, for people. */
function formatProgram(program) {
  const lines = [`// seed ${program.seed}${program.inWorker ? ', in a worker thread' : ''}, ending: ${program.ending}`];
  program.steps.forEach((step, i) => {
    const gap = step.gap === 'sync' ? '' : `await ${typeof step.gap === 'number' ? `${step.gap} ms` : step.gap}; `;
    lines.push(`/* ${i} */ ${gap}${step.code || '/* wait */'}`);
    for (const reaction of step.reactions || []) lines.push(`        //   on 'message': ${reaction || '/* nothing */'}`);
  });
  return lines.join('\n');
}

module.exports = { generate, formatProgram, ACTIONS, REACTIONS };
