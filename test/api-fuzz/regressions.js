'use strict';
// Deterministic cases from the fuzzer's findings, replayed first on every run of
// scripts/fuzz-api.js. Each is a small program in the fuzzer's own form (steps of code that call
// the API through the runtime R, see runtime.js), so the whole oracle applies to it: no
// uncaught exception, Node-shaped errors thrown at once, every callback exactly once, no event
// after 'close', datagrams intact and where they were sent. `expect` says what a correct
// package does; `check(report)` adds what the oracle cannot know, and returns a problem or null.
// A case passes when the run has no finding and its check returns null.

/** A step: code run after gap ('sync', 'tick', 'immediate' or milliseconds). */
const step = (code, { gap = 'sync', reactions } = {}) => ({ gap, code, ...(reactions ? { reactions } : {}) });

// Two udp4 sockets on 127.0.0.1: slot 0 answers with the reactions given, slot 1 sends to it.
const pair = (reactions) => [
  step("R.create(0, 'udp4', { listener: 'on' })", { reactions }),
  step("R.call(0, 'bind', [0, '127.0.0.1', R.CB])"),
  step("R.create(1, 'udp4', { listener: 'on' })"),
  step("R.call(1, 'bind', [0, '127.0.0.1', R.CB])"),
];
/** Slot 0 answers with reaction the datagram that slot 1 sends it. */
const answering = (reaction) => [
  ...pair([reaction]),
  step("R.call(1, 'send', [R.payload(20, 1), R.port(0), R.CB])"),
  step('', { gap: 50 }),
];
/** One udp4 socket on 127.0.0.1 (slot 0) making the calls given, then a pause. */
const alone = (...calls) => [
  step("R.create(0, 'udp4', { listener: 'on' })"),
  step("R.call(0, 'bind', [0, '127.0.0.1', R.CB])"),
  ...calls.map((code) => step(code)),
  step('', { gap: 50 }),
];

/**
 * A udp4 socket (slot 0) whose lookup never answers, with a send to a name waiting for it,
 * then the calls given, a close() and a pause: what close() does with what waits.
 */
const waitingForName = (...calls) => [
  step("R.create(0, 'udp4', { listener: 'on', lookup: 'never' })"),
  step("R.call(0, 'bind', [0, '127.0.0.1', R.CB])"),
  step("R.call(0, 'send', [R.payload(20, 0), R.sinkPort(), 'localhost', R.CB])"),
  ...calls.map((code) => step(code)),
  step("R.call(0, 'close', [R.CB])", { gap: 10 }),
  step('', { gap: 20 }),
];

/** The first call of method in the report (made in a listener, if inListener), or undefined. */
const firstCall = (report, method, inListener = false) =>
  report.calls.find((call) => call.method === method && (!inListener || call.inListener));

function threwCode(report, method, pattern, inListener = false) {
  const call = firstCall(report, method, inListener);
  if (!call) return `no ${method}() call was made`;
  if (!call.threw || !pattern.test(call.threw)) return `${method}() should throw ${pattern} at once; it ${call.threw ? `threw ${call.threw}` : 'returned'}`;
  return null;
}

module.exports = [
  {
    name: 'a listener transfers msg.buffer away, then more datagrams arrive',
    expect: 'later datagrams arrive intact and nothing is thrown: the receive arena cannot be ' +
      'detached (as Node marks its Buffer pool untransferable), or the addon stops using one ' +
      'that was; never a write into freed memory (ASan: heap-use-after-free in UdpHandle::OnPoll)',
    program: {
      steps: [
        ...pair(['if (!V.detachedOnce) { V.detachedOnce = true; R.detach(msg); R.gc(); }']),
        ...Array.from({ length: 10 }, () =>
          step("for (let i = 0; i < 20; i++) R.call(1, 'send', [R.payload(100, 1), R.port(0), R.CB])", { gap: 5 })),
      ],
    },
    check: (report) => (report.stats.arrivals >= 100 ? null : `only ${report.stats.arrivals} of 200 datagrams arrived`),
  },
  {
    name: 'a sparse gather list passed to reply() in a listener',
    expect: 'reply() throws ERR_INVALID_ARG_TYPE at once, as dgram does for a list with a hole; ' +
      'nothing escapes to uncaughtException and no callback is lost',
    program: {
      steps: answering("R.call(0, 'reply', [rinfo, [new Uint8Array(4), , new Uint8Array(4)], R.CB])"),
    },
    check: (report) => threwCode(report, 'reply', /^ERR_INVALID_ARG_TYPE$/, true),
  },
  {
    name: 'a Proxy of a Uint8Array sent in a listener',
    expect: 'send() throws ERR_INVALID_ARG_TYPE at once (a Proxy is no ArrayBuffer view, whatever ' +
      'instanceof says); nothing escapes and no callback is lost',
    program: {
      steps: answering("R.call(0, 'send', [new Proxy(new Uint8Array(4), {}), rinfo.port, rinfo.address, R.CB])"),
    },
    check: (report) => threwCode(report, 'send', /^ERR_INVALID_ARG_TYPE$/, true),
  },
  {
    name: "an object with Uint8Array's prototype in the offset form of send()",
    expect: 'send() throws ERR_INVALID_ARG_TYPE, not a TypeError without a code from reading .length',
    program: {
      steps: alone("R.call(0, 'send', [Object.setPrototypeOf({}, Uint8Array.prototype), 0, 1, R.sinkPort(), '127.0.0.1', R.CB])"),
    },
    check: (report) => threwCode(report, 'send', /^ERR_INVALID_ARG_TYPE$/),
  },
  {
    name: "'127.0.0.1%lo' as the destination of a send in a listener",
    expect: 'throws ERR_INVALID_IP_ADDRESS at once (a zone only on IPv6); no uncaught exception, ' +
      'no lost callback',
    program: {
      steps: answering("R.call(0, 'send', [R.payload(20, 0), rinfo.port, '127.0.0.1%lo', R.CB])"),
    },
    check: (report) => threwCode(report, 'send', /^ERR_INVALID_IP_ADDRESS$/, true),
  },
  {
    name: 'a 45-character IPv6 literal with a zone: 0000:0000:0000:0000:0000:ffff:127.0.0.100%lo',
    expect: 'refused with ERR_INVALID_IP_ADDRESS (a v4-mapped literal takes no zone), never sent to ' +
      '127.0.0.1: uv_ip6_addr copies the part before the zone into 40 bytes and cuts it',
    program: {
      steps: [
        step("R.create(0, 'udp6', { listener: 'on' })"),
        step("R.call(0, 'bind', [0, '::', R.CB])"),
        step("R.call(0, 'send', [R.payload(20, 0), R.port(0), '0000:0000:0000:0000:0000:ffff:127.0.0.100%lo', R.CB])"),
        step('', { gap: 50 }),
      ],
    },
    check: (report) => threwCode(report, 'send', /^ERR_INVALID_IP_ADDRESS$/) ||
      (report.stats.arrivals === 0 ? null : `${report.stats.arrivals} datagrams arrived`),
  },
  {
    name: 'sendBatch() with a hole in its array',
    expect: 'throws ERR_INVALID_ARG_TYPE at once (messages[1] is not an object), as for any other ' +
      'entry that is no object; nothing is sent',
    program: {
      steps: alone("R.call(0, 'sendBatch', [[{ msg: R.payload(20, 0), port: R.sinkPort() }, , { msg: R.payload(20, 0), port: R.sinkPort() }], R.CB])"),
    },
    check: (report) => threwCode(report, 'sendBatch', /^ERR_INVALID_ARG_TYPE$/),
  },
  {
    name: 'sendBatch() with a hole, in a listener',
    expect: 'throws ERR_INVALID_ARG_TYPE at once; otherwise its callback would wait for the hole forever',
    program: {
      steps: answering("R.call(0, 'sendBatch', [Object.assign(new Array(3), { 1: { msg: R.payload(20, 0), port: rinfo.port } }), R.CB])"),
    },
    check: (report) => threwCode(report, 'sendBatch', /^ERR_INVALID_ARG_TYPE$/, true),
  },
  {
    name: 'sendBatch() of 70 entries with a hole at 66 (past the first sendmmsg chunk of 64)',
    expect: 'throws at once and sends nothing: no datagram of a call that threw may arrive',
    program: {
      steps: alone("{ const entries = R.manyEntries(70, 0, 'sink', 20); delete entries[66]; R.call(0, 'sendBatch', [entries, R.CB]); }"),
    },
    check: (report) => threwCode(report, 'sendBatch', /^ERR_/),
  },
  {
    name: 'reply() to a made-up rinfo with only a port',
    expect: 'throws ERR_INVALID_ARG_TYPE (rinfo.address must be a string), instead of sending to ' +
      '127.0.0.1 and reporting success',
    program: {
      steps: alone("R.call(0, 'reply', [R.forged('port-only', { port: R.sinkPort() }), R.payload(20, 0), R.CB])"),
    },
    check: (report) => threwCode(report, 'reply', /^ERR_INVALID_ARG_/),
  },
  {
    name: "reply() to a made-up rinfo from '0.0.0.0'",
    expect: 'throws ERR_INVALID_ARG_VALUE: no datagram arrives from the unspecified address, so ' +
      'none can be answered',
    program: {
      steps: alone("R.call(0, 'reply', [R.forged('unspecified', { address: '0.0.0.0', family: 'IPv4', port: R.sinkPort() }), R.payload(20, 0), R.CB])"),
    },
    check: (report) => threwCode(report, 'reply', /^ERR_INVALID_ARG_/),
  },
  {
    name: 'close() with sends queued that have no callback',
    expect: "each queued send fails with ERR_SOCKET_CLOSED as 'error' before 'close' (or not at " +
      "all), never after 'close'",
    program: {
      steps: alone("for (let i = 0; i < 400; i++) R.call(0, 'send', [R.payload(1400, 0), R.sinkPort()]); R.call(0, 'close', [R.CB])"),
    },
    // The rate-limited lo of test/fixtures/netns-setup.sh pushes back: the case needs the queue.
    check: (report) => (report.stats.maxQueued > 0 ? null : 'no send was queued: the case did not test the queue'),
  },
  {
    name: 'close() right after bind(), in the same tick',
    expect: "no 'listening' after close() returned (dgram drops it too): only 'close'",
    program: { steps: alone("R.call(0, 'close', [R.CB])") },
  },
  {
    name: "bind(0, '127.0.0.1%lo', cb) that throws, then a bind that works",
    expect: "the callback of the bind that threw is never called (it must not stay a 'listening' listener)",
    program: {
      steps: [
        step("R.create(0, 'udp6', { listener: 'on' })"),
        step("R.call(0, 'bind', [0, '127.0.0.1%lo', R.CB])"),
        step("R.call(0, 'bind', [0, '::1', R.CB])"),
        step('', { gap: 20 }),
      ],
    },
  },
  {
    name: 'a listener that throws after a reply the addon rejects',
    expect: "the listener's exception reaches uncaughtException (it is not replaced by the " +
      "addon's), and the reply's callback is called or the reply throws at once",
    program: {
      steps: answering("R.call(0, 'reply', [rinfo, [new Proxy(new Uint8Array(2), {})], R.CB]); R.throwOwn('listener')"),
    },
  },
  {
    name: 'messages that are detached, lying or revoked views',
    expect: 'each send throws a TypeError or RangeError with an ERR_* code (or sends the bytes the ' +
      'view really has), never a bare V8 TypeError/RangeError: own byteLength/byteOffset ' +
      "properties threw 'Invalid typed array length', a revoked Proxy threw from Array.isArray",
    program: {
      steps: alone(
        "R.call(0, 'send', [R.detached('dv', 16), R.sinkPort(), R.CB])",
        "R.call(0, 'send', [R.detached('u16', 8), R.sinkPort(), R.CB])",
        "R.call(0, 'send', [Object.defineProperty(new Uint16Array(4), 'byteLength', { value: 2 ** 31 }), R.sinkPort(), R.CB])",
        "R.call(0, 'send', [Object.defineProperty(new Uint16Array(4), 'byteOffset', { value: 3 }), R.sinkPort(), R.CB])",
        "R.call(0, 'send', [R.revoked(), R.sinkPort(), R.CB])",
      ),
    },
  },
  {
    name: 'every spelling of an IPv4-mapped loopback address on a udp4 socket',
    expect: "'::ffff:127.0.0.1', '::ffff:7f00:1' and '0:0:0:0:0:ffff:7f00:2' all name the IPv4 " +
      'host, on udp4 as on udp6: each is accepted and arrives (at 127.0.0.1, 127.0.0.1, 127.0.0.2)',
    program: {
      steps: alone(
        "R.call(0, 'send', [R.payload(20, 0), R.sinkPort(), '::ffff:127.0.0.1', R.CB])",
        "R.call(0, 'send', [R.payload(20, 0), R.sinkPort(), '::ffff:7f00:1', R.CB])",
        "R.call(0, 'send', [R.payload(20, 0), R.sinkPort(), '0:0:0:0:0:ffff:7f00:2', R.CB])",
      ),
    },
    check: (report) => {
      const threw = report.calls.filter((call) => call.method === 'send' && call.threw);
      if (threw.length > 0) return `${threw.length} of the sends threw (${threw[0].threw})`;
      return report.stats.arrivals === 3 ? null : `${report.stats.arrivals} of 3 datagrams arrived`;
    },
  },
  {
    name: 'close() while a send waits for the lookup of its name (a lookup that never answers)',
    expect: "the send's callback gets ERR_SOCKET_CLOSED before 'close', as the sends held behind " +
      'it do; it was never called (fuzz:api seeds 127, 208)',
    program: { steps: waitingForName("R.call(0, 'send', [R.payload(20, 0), R.sinkPort(), '127.0.0.1', R.CB])") },
    check: (report) => {
      const errors = report.calls.filter((call) => call.method === 'send').map((call) => call.callbacks[0] && call.callbacks[0].error);
      return errors.join() === 'ERR_SOCKET_CLOSED,ERR_SOCKET_CLOSED' ? null : `the sends called back with ${errors.join(', ')}`;
    },
  },
  {
    name: 'connect() to addresses that are no IP literal for the socket, and to null',
    expect: "each throws at once (ERR_INVALID_IP_ADDRESS, ERR_INVALID_ARG_VALUE; null: " +
      "ERR_INVALID_ARG_TYPE, as dgram), as send() does; they called back later with the error, and " +
      'connect(port, null) connected to loopback (fuzz:api seeds 102, 118, 135, 137)',
    program: {
      steps: alone(
        "R.call(0, 'connect', [R.sinkPort(), '127.0.0.1%lo', R.CB])",
        "R.call(0, 'connect', [R.sinkPort(), '1.2.3', R.CB])",
        "R.call(0, 'connect', [R.sinkPort(), '::1', R.CB])",
        "R.call(0, 'connect', [R.sinkPort(), 'fd00::1', R.CB])",
        "R.call(0, 'connect', [R.sinkPort(), null, R.CB])",
        "R.call(0, 'connect', [R.sinkPort(), 0, R.CB])",
      ),
    },
    check: (report) => {
      const codes = report.calls.filter((call) => call.method === 'connect').map((call) => call.threw);
      const expected = ['ERR_INVALID_IP_ADDRESS', 'ERR_INVALID_IP_ADDRESS', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_TYPE'];
      return codes.join() === expected.join() ? null : `connect() threw ${codes.join(', ')}`;
    },
  },
  {
    name: 'connect() while an earlier connect() waits for the lookup of its name',
    expect: 'the second throws ERR_SOCKET_DGRAM_IS_CONNECTED, as dgram; it returned, and once the ' +
      'lookup answered the socket connected to the first peer and then silently to the second (fuzz:api seed 175)',
    program: {
      steps: [
        step("R.create(0, 'udp4', { listener: 'on', lookup: 'delay' })"),
        step("R.call(0, 'bind', [0, '127.0.0.1', R.CB])"),
        step("R.call(0, 'connect', [R.sinkPort(), 'localhost', R.CB])"),
        step("R.call(0, 'connect', [R.sinkPort(), '127.0.0.2', R.CB])"),
        step("R.call(0, 'remoteAddress', [])", { gap: 40 }),
      ],
    },
    check: (report) => {
      const [, second] = report.calls.filter((call) => call.method === 'connect');
      if (second && second.threw === 'ERR_SOCKET_DGRAM_IS_CONNECTED') return null;
      return `the second connect() ${second ? second.threw || 'returned' : 'was not made'}`;
    },
  },
  {
    name: 'a connect() callback that closes its socket',
    expect: "no 'connect' event after close() returned: it was emitted after the callback, on the " +
      'closed socket (fuzz:api seeds 2, 139)',
    program: { steps: alone("R.call(0, 'connect', [R.sinkPort(), '127.0.0.1', R.CB_CLOSE])") },
  },
  {
    name: 'send() to an address of false, 0 or NaN',
    expect: 'ERR_INVALID_ARG_TYPE at once, as dgram (only undefined, null and an empty string mean ' +
      'loopback); they were sent to loopback (fuzz:api seeds 145, 151, 194)',
    program: {
      steps: alone(
        "R.call(0, 'send', [R.payload(20, 0), R.sinkPort(), false, R.CB])",
        "R.call(0, 'send', [R.payload(20, 0), { port: R.sinkPort(), address: 0 }, R.CB])",
        "R.call(0, 'sendmsg', [R.payload(20, 0), { port: R.sinkPort(), address: NaN }])",
      ),
    },
    check: (report) => {
      const codes = report.calls.filter((call) => call.method === 'send' || call.method === 'sendmsg').map((call) => call.threw);
      return codes.every((code) => code === 'ERR_INVALID_ARG_TYPE') ? null : `the calls threw ${codes.join(', ')}`;
    },
  },
  {
    name: 'sendBatch([]) on a closed socket',
    expect: "throws ERR_SOCKET_DGRAM_NOT_RUNNING, as every call on a closed socket; it returned and " +
      "called back after 'close' (fuzz:api seeds 1, 113)",
    program: { steps: alone("R.call(0, 'close', [R.CB])", "R.call(0, 'sendBatch', [[], R.CB])") },
    check: (report) => threwCode(report, 'sendBatch', /^ERR_SOCKET_DGRAM_NOT_RUNNING$/),
  },
  {
    name: 'addMembership() and dropMembership() without a group',
    expect: 'ERR_MISSING_ARGS, as dgram (and as for an empty string); undefined and null were ' +
      'ERR_INVALID_ARG_TYPE (fuzz:api seeds 135, 209)',
    program: { steps: alone("R.call(0, 'addMembership', [])", "R.call(0, 'dropMembership', [null, '127.0.0.1'])") },
    check: (report) => threwCode(report, 'addMembership', /^ERR_MISSING_ARGS$/) || threwCode(report, 'dropMembership', /^ERR_MISSING_ARGS$/),
  },
  {
    name: 'a localAddress whose zone names no interface',
    expect: "ERR_INVALID_ARG_VALUE at once, as for a destination's zone (also when the destination " +
      'is a name, judged before its lookup); it was accepted and the zone ignored (fuzz:api seed 1351)',
    program: {
      steps: [
        step("R.create(0, 'udp6', { listener: 'on', lookup: 'async' })"),
        step("R.call(0, 'bind', [0, '::1', R.CB])"),
        step("R.call(0, 'sendBatch', [[{ msg: R.payload(20, 0), port: R.sinkPort(), address: '::1', localAddress: '::1%nosuchif' }], R.CB])"),
        step("R.call(0, 'send', [R.payload(20, 0), { port: R.sinkPort(), address: 'localhost', localAddress: '::1%nosuchif' }, R.CB])"),
        step('', { gap: 20 }),
      ],
    },
    check: (report) => threwCode(report, 'sendBatch', /^ERR_INVALID_ARG_VALUE$/) || threwCode(report, 'send', /^ERR_INVALID_ARG_VALUE$/),
  },
  {
    name: "bind() to a name whose lookup answers '127.0.0.1%lo' (the 'bad-address' lookup's first answer for slot 0)",
    expect: "an 'error' event (ERR_INVALID_IP_ADDRESS), as dgram's bind emits one; the error was " +
      "thrown from inside the lookup's callback: an uncaught exception (found by probing the " +
      "fuzzer's misbehaving lookups)",
    program: {
      steps: [
        step("R.create(0, 'udp4', { listener: 'on', lookup: 'bad-address' })"),
        step("R.call(0, 'bind', [0, 'localhost', R.CB])"),
        step('', { gap: 20 }),
      ],
    },
    check: (report) => (report.stats.codes.ERR_INVALID_IP_ADDRESS === 1 ? null : `error codes seen: ${JSON.stringify(report.stats.codes)}`),
  },
  {
    name: 'disconnect() in the tick of a connect() to an IP literal',
    expect: 'throws ERR_SOCKET_DGRAM_NOT_CONNECTED: the socket is connecting until connect() calls back, ' +
      "as in dgram; it disconnected, and then the connect() callback and 'connect' came on the " +
      'disconnected socket (fuzz:api seed 6678; seed 5522: a second connect() in that window)',
    program: {
      steps: alone(
        "R.call(0, 'connect', [R.sinkPort(), '127.0.0.2', R.CB])",
        "R.call(0, 'disconnect', [])",
        "R.call(0, 'remoteAddress', [])",
      ),
    },
    check: (report) => threwCode(report, 'disconnect', /^ERR_SOCKET_DGRAM_NOT_CONNECTED$/) ||
      threwCode(report, 'remoteAddress', /^ERR_SOCKET_DGRAM_NOT_CONNECTED$/),
  },
  {
    name: 'close() while an empty sendBatch() waits behind the lookup of a name',
    expect: "its callback is called before 'close', with no error (none of its datagrams failed) and " +
      "no results; it was never called: close() " +
      'fails the entries of a held batch, and an empty one has none (fuzz:api seeds 21117, 21305)',
    program: { steps: waitingForName("R.call(0, 'sendBatch', [[], R.CB])") },
    check: (report) => {
      const call = firstCall(report, 'sendBatch');
      const error = call && call.callbacks[0] && call.callbacks[0].error;
      if (!call || !call.callbacks[0] || call.callbacks[0].count !== 1) return 'the callback of sendBatch() was not called once';
      return error === null ? null : `the callback of sendBatch() got ${error}`;
    },
  },
  {
    name: 'a sendBatch() past sendQueueLimit in a listener whose callback closes the socket',
    expect: 'the callback gets the error of the first failed entry in the batch (ERR_SOCKET_CLOSED of ' +
      'a queued one), not the first error in time (ENOBUFS of a later entry, refused at once) (fuzz:api seed 20499)',
    program: {
      steps: [
        step("R.create(1, { type: 'udp4', sendQueueLimit: 8, sendBufferSize: 4096 }, { listener: 'on', lookup: 'async' })",
          { reactions: ["R.call(1, 'sendBatch', [R.manyEntries(200, 1, 0, 1400), R.CB_CLOSE])"] }),
        step("R.call(1, 'bind', [0, '127.0.0.1', R.CB])"),
        // Seven datagrams to itself, two by name: seven batches, the first closes the socket.
        step(["'127.0.0.1'", "'127.0.0.1'", "'localhost'", "'127.0.0.1'", "'localhost'", "'127.0.0.1'", "'127.0.0.1'"]
          .map((to) => `R.call(1, 'send', [R.payload(20, 1), R.port(1), ${to}, R.CB])`).join('; ')),
        step('', { gap: 100 }),
      ],
    },
  },
  {
    name: 'a listener replies, then closes its socket, while its own 400 earlier sends wait in the queue',
    expect: "every callback in the order of the sends, each before 'close': the queued sends' " +
      "(ERR_SOCKET_CLOSED, their turn long over) before the reply's (made in this turn) (fuzz:api seed 776885219)",
    program: {
      steps: [
        step("R.create(0, { type: 'udp4', sendBufferSize: 4096 }, { listener: 'on' })",
          { reactions: ["R.call(0, 'reply', [rinfo, R.payload(374, 0), R.CB])", "R.call(0, 'close', [R.CB])"] }),
        step("R.call(0, 'bind', [0, '127.0.0.1', R.CB])"),
        step("for (let i = 0; i < 400; i++) R.call(0, 'send', [R.payload(1400, 0), R.port(0), R.CB])", { gap: 20 }),
        step('', { gap: 100 }),
      ],
    },
  },
  {
    name: 'sendmsg() with null for its options',
    expect: 'throws a TypeError with a code (ERR_INVALID_ARG_TYPE, for the port), as send(msg, null) does; it threw ' +
      "TypeError: Cannot read properties of null (fuzz:api seed 776885115)",
    program: { steps: alone("R.call(0, 'sendNow', [R.payload(20, 0), null])") },
    check: (report) => threwCode(report, 'sendNow', /ERR_INVALID_ARG_TYPE/),
  },
];
