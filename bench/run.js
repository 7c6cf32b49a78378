// npm run bench: sendmsg against Node's dgram and a C reference, on loopback, in turns so
// that machine drift cancels. Prints datagrams/s (median of the runs, with min-max) and the
// ratios sendmsg/dgram and sendmsg/C. The reply loop has two C references, a batched server
// (recvmmsg/sendmmsg: the limit) and a plain one (recvmsg/sendmsg a query, as most servers are
// written), and tables of its own. Every path is bounded in time.
// Every measurement starts after a warm-up of WARMUP seconds, for every implementation, so that
// it measures a long-running server rather than JIT compilation.
//   node bench/run.js [--runs N] [--seconds S] [--warmup W] [--only PATH]
const { execFileSync, spawn } = require('child_process');
const { once } = require('events');
const os = require('os');
const path = require('path');

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const RUNS = Number(arg('runs', 5));
const SECONDS = Number(arg('seconds', 1));
const WARMUP = Number(arg('warmup', 0.3));
const ONLY = arg('only', '');
const here = __dirname;
const ref = path.join(here, '.build', 'ref');
let nextPort = 40000 + (process.pid % 1000) * 20;
const port = () => nextPort++;

function buildReference() {
  execFileSync('mkdir', ['-p', path.join(here, '.build')]);
  execFileSync('cc', ['-O2', '-o', ref, path.join(here, 'ref.c')], { stdio: 'inherit' });
}

function run(command, args, { readyOnStderr = false } = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', readyOnStderr ? 'pipe' : 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  const ready = readyOnStderr
    ? new Promise((resolve) => child.stderr.on('data', (chunk) => { if (String(chunk).includes('ready')) resolve(); }))
    : Promise.resolve();
  const done = once(child, 'close').then(([code]) => {
    if (code !== 0 && code !== null) throw new Error(`${command} ${args.join(' ')} exited ${code}`);
    // "RATE [USER SYSTEM]": datagrams/s, then the CPU time per datagram in ns when measured.
    const [rate, user, system] = output.trim().split(/\s+/).map(Number);
    return { rate, cpu: user === undefined ? undefined : { user, system } };
  });
  return { child, ready, done };
}

const node = (...args) => [process.execPath, [path.join(here, 'worker.js'), ...args]];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const REFERENCE_SERVERS = { 'C batched': 'replymmsg', 'C plain': 'reply' };

// Each returns { rate: datagrams per second, cpu?: { user, system } ns per datagram } for one
// implementation.
const measure = {
  async send(impl, size) {
    const p = port();
    const sink = run(ref, ['sink', String(p), String(SECONDS + WARMUP + 5)]);
    await sleep(50);
    let result;
    if (impl === 'C') result = await run(ref, [size.batch ? 'sendmmsg' : 'send', String(p), String(size.bytes), String(size.count), '127.0.0.1']).done;
    else result = await run(...node('send', impl, String(size.bytes), String(p), String(SECONDS), String(WARMUP))).done;
    sink.child.kill();
    return result;
  },
  async receive(impl, bytes) {
    const p = port();
    let receiver;
    if (impl === 'C') {
      receiver = run(ref, ['recv', String(p), String(SECONDS), String(WARMUP)]);
      await sleep(50);
    } else {
      receiver = run(...node('receive', impl, String(p), String(SECONDS), String(WARMUP)), { readyOnStderr: true });
      await receiver.ready;
    }
    const feeder = run(ref, ['flood', String(p), String(bytes), String(SECONDS + WARMUP + 2)]);
    const result = await receiver.done;
    feeder.child.kill();
    return result;
  },
  // The server answers the load generator's queries; the rate is the load generator's, the CPU
  // time the server's own per answer, from after the warm-up (SIGUSR2) to the end (SIGTERM).
  async reply(impl) {
    const p = port();
    const server = impl in REFERENCE_SERVERS
      ? run(ref, [REFERENCE_SERVERS[impl], String(p)], { readyOnStderr: true })
      : run(...node('reply', impl, String(p)), { readyOnStderr: true });
    await server.ready;
    await run(ref, ['load', String(p), String(WARMUP), '64']).done;
    server.child.kill('SIGUSR2');
    const { rate } = await run(ref, ['load', String(p), String(SECONDS), '64']).done;
    server.child.kill('SIGTERM');
    const { cpu } = await server.done;
    return { rate, cpu };
  },
};

const PATHS = [
  { name: 'send 64 B, with source', kind: 'send', size: { bytes: 64, count: 300000 }, impls: ['sendmsg', 'dgram', 'C'] },
  { name: 'send 512 B, with source', kind: 'send', size: { bytes: 512, count: 300000 }, impls: ['sendmsg', 'dgram', 'C'] },
  { name: 'batch send 64 B (sendBatch / sendmmsg)', kind: 'send', size: { bytes: 64, count: 300000, batch: true }, impls: ['batch', 'dgram', 'C'] },
  { name: 'receive 64 B, with packet info', kind: 'receive', size: 64, impls: ['sendmsg', 'dgram', 'C'] },
  { name: 'receive 512 B, with packet info', kind: 'receive', size: 512, impls: ['sendmsg', 'dgram', 'C'] },
  { name: 'reply loop (64 in flight)', kind: 'reply', impls: ['sendmsg', 'dgram', 'C batched', 'C plain'] },
].filter((p) => !ONLY || p.name.includes(ONLY));

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const fmt = (n) => (n === undefined ? '-' : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);

process.on('unhandledRejection', (error) => {
  console.error(error);
  process.exit(1);
});

(async () => {
  buildReference();
  console.log(`sendmsg benchmark: ${os.cpus().length} x ${os.cpus()[0].model}, Node ${process.version}, ` +
    `${RUNS} runs of ${SECONDS} s (after ${WARMUP} s of warm-up) per path and implementation, ${new Date().toISOString()}`);
  const results = new Map(PATHS.map((p) => [p.name, Object.fromEntries(p.impls.map((i) => [i, []]))]));
  for (let runIndex = 0; runIndex < RUNS; runIndex++) {
    for (const p of PATHS) {
      // Alternate the order too, so neither implementation always runs first.
      const impls = runIndex % 2 ? [...p.impls].reverse() : p.impls;
      for (const impl of impls) {
        results.get(p.name)[impl].push(await measure[p.kind](impl, p.size));
      }
    }
    process.stderr.write(`run ${runIndex + 1}/${RUNS} done\n`);
  }
  // The reply loop has two C references, so it gets tables of its own.
  const tables = [
    { paths: PATHS.filter((p) => p.kind !== 'reply'), columns: ['sendmsg', 'dgram', 'C'], unit: 'Datagrams',
      cpu: 'CPU time per datagram of the measuring process' },
    { paths: PATHS.filter((p) => p.kind === 'reply'), columns: ['sendmsg', 'dgram', 'C batched', 'C plain'],
      unit: 'Reply loop: answers', cpu: 'Reply loop: CPU time per answer of the server process' },
  ].filter((table) => table.paths.length);
  // A path's implementations fill the columns in order (the batch path's 'batch' is sendmsg's).
  const lists = (p) => p.impls.map((impl) => results.get(p.name)[impl]);
  const rates = (list) => list.map((result) => result.rate);
  const cell = (values) => (values.length
    ? `${fmt(median(values))} (${fmt(Math.min(...values))}-${fmt(Math.max(...values))})` : '-');
  const ratio = (a, b) => (a.length && b.length ? (median(a) / median(b)).toFixed(2) : '-');
  const cpu = (list) => {
    const measured = list.filter((result) => result.cpu);
    if (!measured.length) return '-';
    const user = median(measured.map((result) => result.cpu.user));
    const system = median(measured.map((result) => result.cpu.system));
    return `${user.toFixed(0)} + ${system.toFixed(0)}`;
  };
  const row = (cells) => console.log(`| ${cells.join(' | ')} |`);
  const rule = (columns) => console.log(`|---|${columns.map(() => '---:').join('|')}|`);
  for (const { paths, columns, unit, cpu: title } of tables) {
    const others = columns.slice(1);
    console.log(`\n${unit} per second: median of the runs (min-max).\n`);
    row(['path', ...columns, ...others.map((column) => `sendmsg / ${column}`)]);
    rule([...columns, ...others]);
    for (const p of paths) {
      const [ours, ...theirs] = lists(p).map(rates);
      row([p.name, ...[ours, ...theirs].map(cell), ...theirs.map((values) => ratio(ours, values))]);
    }
    // Where the time goes: the CPU time per datagram, split into user time (JavaScript, Node,
    // the addon) and system time (the kernel's UDP path).
    console.log(`\n${title}, in ns: user + system (medians).\n`);
    row(['path', ...columns]);
    rule(columns);
    for (const p of paths) row([p.name, ...lists(p).map(cpu)]);
  }
})();
