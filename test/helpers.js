// Shared test helpers, and the one place that lists how the test platforms differ.
const assert = require('assert');
const { spawn, spawnSync } = require('child_process');
const { once } = require('events');
const path = require('path');

const underWine = process.env.SENDMSG_UNDER_WINE === '1';
const inCI = process.env.CI === 'true' || process.env.CI === '1';

// Wine 8 is not Windows. Each entry is a way Wine differs that some test meets, and why; where
// it changes an assertion, the test says so beside it. Every other assertion runs as on Linux. (Only a real Windows machine shows these behaviours; the
// windows job in .github/workflows/ runs the suite there.)
const WINE_DIFFERENCES = {
  sourceSelection:
    'Wine ignores WSASendMsg control data (dlls/ws2_32 passes only the buffers and the name), ' +
    'so a datagram leaves from the default source address; the control bytes are checked in ' +
    'control.test.js instead',
  nonLocalSource:
    'Wine ignores WSASendMsg control data, so a non-local source address is not refused',
  sendBackpressure:
    'Wine 8 never answers WSAEWOULDBLOCK to a non-blocking UDP send: with the socket full it ' +
    'completes the send itself (seen here: 20,000 sends into a rate-limited loopback, none ' +
    'refused, where Linux refuses most), so the send queue is not reached; the order and ' +
    'exactly-once assertions still run',
  multicastByIndex:
    'Wine hands an IPv4 ip_mreq to Linux unchanged, so the index form of imr_interface ' +
    '(0.0.0.x, the way Microsoft documents to join by interface index) is refused with EINVAL, ' +
    'and Wine has no MCAST_JOIN_GROUP; joining by an address of the interface works',
  connectedAfterIcmp:
    'under Wine a connected socket that has drawn an ICMP port unreachable receives nothing ' +
    'more and reports no error (seen here: the peer\'s later datagram never arrives); on Linux ' +
    'the report is an \'error\' and the socket goes on',
  connectionReset:
    'Wine never reports WSAECONNRESET (SIO_UDP_CONNRESET is a stub there), so the test that a ' +
    'socket keeps receiving after an ICMP port unreachable passes without exercising the ' +
    'Windows fix; the assertions are unchanged',
};

// The suite on another architecture under qemu-user (scripts/test-arm64.sh sets
// SENDMSG_EMULATED=qemu-aarch64): the kernel is the host's, so sockets, namespaces and traffic
// shaping are real, and only the program is emulated. Each entry is a way that differs which
// some test meets, and why; none changes an assertion.
const emulator = process.env.SENDMSG_EMULATED || '';
const EMULATION_DIFFERENCES = {
  slowSender:
    'qemu translates every instruction: a send takes tens of microseconds, so 16-byte datagrams ' +
    'leave no faster than the shaped loopback drains them and the socket never pushes back (seen ' +
    'here: the queue never used in 100,000 sends); test/fixtures/backpressure.js opens its burst ' +
    'with 8 KB datagrams until the socket pushes back, on every platform, so the queue is reached',
  preloadArchitecture:
    'node is an aarch64 program, so a library it preloads (LD_PRELOAD) must be aarch64 too, or ' +
    'the loader ignores it: the sendmmsg-refusing shim is built with $CC, which ' +
    'scripts/test-arm64.sh sets to zig cc for aarch64-linux-gnu',
  childStartup:
    'a child node process takes over a second to start under qemu (1.2 s here, against 0.07 s ' +
    'natively); the tests that start one keep their timeouts, which allow for it',
  multicastOptions:
    'qemu-user does not pass the multicast membership options (IP_ADD_MEMBERSHIP, ' +
    'MCAST_JOIN_GROUP) through to the kernel: setsockopt answers ENOPROTOOPT (seen here), so ' +
    'no group can be joined under qemu; the multicast cases skip there and run on x64',
};

// Each kind of difference, whether this run is of that kind, and its met entries.
const differences = {
  wine: { title: 'Wine differences', list: WINE_DIFFERENCES, active: underWine, name: 'WINE_DIFFERENCES' },
  emulation: { title: `Emulation differences (${emulator})`, list: EMULATION_DIFFERENCES, active: emulator !== '', name: 'EMULATION_DIFFERENCES' },
};
for (const kind of Object.values(differences)) kind.met = new Set();

/** True when this run is of that kind and the key is one of its listed differences; records it. */
function differs(kind, key) {
  const { active, list, met, title } = differences[kind];
  if (!list[key]) throw new Error(`unlisted ${title}: ${key}`);
  if (!active) return false;
  met.add(key);
  return true;
}

const skipped = [];

const platform = {
  underWine,
  emulator,
  inCI,
  isLinux: process.platform === 'linux',
  /** True when this assertion is one Wine cannot satisfy; records that it was changed. */
  wineDiffers: (key) => differs('wine', key),
  /** True under emulation (qemu-user) when the key is a listed emulation difference; records it. */
  emulationDiffers: (key) => differs('emulation', key),
  /** Skips with a printed reason; never in CI for a capability we claim. */
  skip(context, reason, { allowedInCI = false } = {}) {
    if (inCI && !allowedInCI) throw new Error(`must run in CI, cannot: ${reason}`);
    skipped.push(`${context.test ? context.test.fullTitle() : '?'}: ${reason}`);
    console.log(`      skipped: ${reason}`);
    context.skip();
  },
  report() {
    for (const { title, list, met, name } of Object.values(differences)) {
      if (met.size === 0) continue;
      console.log(`\n${title} met in this run (test/helpers.js ${name}):`);
      for (const key of met) console.log(`  - ${key}: ${list[key]}`);
    }
    if (skipped.length > 0) {
      console.log('\nSkipped, with reasons:');
      for (const line of skipped) console.log(`  - ${line}`);
    }
  },
};

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The next 'message' event of a sendmsg or dgram socket, as [msg, rinfo]. */
function nextMessage(socket, ms = 5000) {
  return withTimeout(once(socket, 'message'), ms, 'a datagram');
}

async function bound(socket, port = 0, address) {
  socket.bind(port, address);
  await once(socket, 'listening');
  return socket.address().port;
}

function closeAll(...sockets) {
  return Promise.all(
    sockets.map((socket) => new Promise((resolve) => {
      try {
        socket.close(resolve);
      } catch {
        resolve();
      }
    })),
  );
}

/** Inside a describe(): returns open(options), whose sockets are closed after each test. */
function socketsClosedAfterEachTest() {
  const sendmsg = require('..');
  let sockets = [];
  afterEach(() => {
    const open = sockets;
    sockets = [];
    return closeAll(...open);
  });
  return (options) => {
    const socket = sendmsg.createSocket(options);
    sockets.push(socket);
    return socket;
  };
}

function sendAsync(socket, msg, ...args) {
  return new Promise((resolve, reject) => {
    socket.send(msg, ...args, (error, bytes) => (error ? reject(error) : resolve(bytes)));
  });
}

/**
 * Runs test/fixtures/<fixture>.js in a private network namespace prepared by netns-setup.sh,
 * and returns what it printed as JSON. When the whole run is already inside such a namespace
 * (SENDMSG_NETNS=1, as the Wine tier does), it runs the fixture's run() in this process.
 * Returns undefined after skipping when no namespace can be made (not root, not Linux).
 */
async function inNetworkNamespace(context, fixture, args) {
  const file = path.join(__dirname, 'fixtures', `${fixture}.js`);
  if (process.env.SENDMSG_NETNS === '1') return require(file).run(...args);
  if (process.platform !== 'linux') {
    platform.skip(context, 'network namespaces are Linux-only', { allowedInCI: true });
    return undefined;
  }
  const probe = spawnSync('unshare', ['-n', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    platform.skip(context, `cannot make a network namespace (unshare -n needs root): ${(probe.stderr || probe.error || '').toString().trim()}`);
    return undefined;
  }
  platform.emulationDiffers('childStartup');
  const setup = path.join(__dirname, 'fixtures', 'netns-setup.sh');
  const command = `sh "${setup}" && exec "${process.execPath}" "${file}" "$@"`;
  const child = spawn('unshare', ['-n', 'sh', '-c', command, 'sh', ...args.map((a) => JSON.stringify(a))],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  const [status] = await once(child, 'close');
  if (status !== 0) throw new Error(`${fixture} in a network namespace exited with ${status}`);
  return JSON.parse(output);
}

/** What a fixture does when run as a script: run(...JSON args) and print the result as JSON. */
function fixtureMain(module, run) {
  module.exports.run = run;
  if (require.main !== module) return;
  const args = process.argv.slice(2).map((arg) => JSON.parse(arg));
  run(...args).then(
    // Exit once the result is out: a fixture may leave sockets open on purpose.
    (result) => process.stdout.write(JSON.stringify(result), () => process.exit(0)),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/**
 * Arguments for a child node process running script. Under Wine the child is Windows node.exe
 * too, and needs the stdio shim there (scripts/wine-stdio-shim.js says why).
 */
function nodeArgs(script, ...args) {
  platform.emulationDiffers('childStartup');
  const shim = process.env.SENDMSG_WINE_SHIM;
  return [...(shim ? ['-r', shim] : []), script, ...args];
}

module.exports = { socketsClosedAfterEachTest, nodeArgs, inNetworkNamespace, fixtureMain, assert, platform, withTimeout, nextMessage, bound, closeAll, sendAsync };
