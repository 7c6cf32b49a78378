#!/usr/bin/env node
'use strict';
// Fuzzes the package's JavaScript API with seeded random programs (test/api-fuzz/), each run
// in a child process inside a private network namespace where lo is the only interface.
// First it replays the regression cases (test/api-fuzz/regressions.js), then runs seeds, two
// at a time, until the time or count is up. It prints every failing seed with the command that
// replays it, and a summary of the distinct findings; it exits 1 if there was any.
//
//   npm run fuzz:api                         30 s of seeds (FUZZ_API_SECONDS)
//   FUZZ_API_RUNS=500 npm run fuzz:api       a number of seeds instead
//   FUZZ_API_SEED=123 npm run fuzz:api       replay one seed: prints its program and report
//   node scripts/fuzz-api.js --program f.json   run a saved program
//   FUZZ_API_MINIMIZE=1 (or --minimize)      cut each distinct finding's program down to the
//                                            steps it needs, and print that
//   FUZZ_API_ASAN=1                          against an AddressSanitizer build of the addon,
//                                            made here in a temporary copy (needs g++'s libasan)
// Other settings: FUZZ_API_BASE_SEED (first seed; default from the clock, printed),
// FUZZ_API_JOBS (children at once, default 2), FUZZ_API_CHILD_TIMEOUT_MS (default 20000).
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const CHILD = path.join(root, 'test', 'api-fuzz', 'child.js');
const NETNS_SETUP = path.join(root, 'test', 'fixtures', 'netns-setup.sh');
// (netns-setup.sh also turns on multicast on lo, with routes for both families, so that
// membership, setMulticastInterface and sends to groups reach the kernel's real paths.)
const { REPORT_MARK } = require(CHILD);
const { generate, formatProgram } = require('../test/api-fuzz/generator');
const regressions = require('../test/api-fuzz/regressions');

const env = process.env;
const inCI = env.CI === 'true' || env.CI === '1';
const seconds = Number(env.FUZZ_API_SECONDS || 30);
const runs = env.FUZZ_API_RUNS === undefined ? Infinity : Number(env.FUZZ_API_RUNS);
const jobs = Number(env.FUZZ_API_JOBS || 2);
const childTimeout = Number(env.FUZZ_API_CHILD_TIMEOUT_MS || 20000);
const minimizing = env.FUZZ_API_MINIMIZE === '1' || process.argv.includes('--minimize');
const MINIMIZE_BUDGET = 150; // child runs per finding
const outputDirectory = path.join(os.tmpdir(), 'sendmsg-api-fuzz');

/**
 * How children run: 'netns' (each in its own namespace, made here), 'inherited' (this whole
 * process is already in one: SENDMSG_NETNS=1, as the Wine tier runs), or 'host' (no
 * namespace can be made: only strings safe on any host are sent to; never in CI).
 */
function isolationMode() {
  if (env.SENDMSG_NETNS === '1') return 'inherited';
  if (process.platform === 'linux' && spawnSync('unshare', ['-n', 'true']).status === 0) return 'netns';
  if (inCI) {
    console.error('fuzz-api: cannot make a network namespace (unshare -n needs root), which CI must allow');
    process.exit(1);
  }
  console.log('fuzz-api: no network namespace (unshare -n needs root): sending only to strings safe on any host');
  return 'host';
}

const mode = isolationMode();

/**
 * With FUZZ_API_ASAN=1: builds the addon with AddressSanitizer in a temporary copy of the
 * tracked files (as scripts/test-asan.sh does for mocha), so a memory error aborts the child
 * with a report instead of passing unseen. Returns the copy and the runtime to preload.
 */
function asanBuild() {
  if (env.FUZZ_API_ASAN !== '1') return undefined;
  const libasan = spawnSync('g++', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout.trim();
  if (!fs.existsSync(libasan)) throw new Error('fuzz-api: no libasan.so for g++ (apt-get install libgcc-12-dev)');
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'sendmsg-api-fuzz-asan-'));
  const tracked = spawnSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
  for (const file of tracked) fs.cpSync(path.join(root, file), path.join(copy, file));
  fs.cpSync(path.join(root, 'dist'), path.join(copy, 'dist'), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
  const flags = '-fsanitize=address -fno-omit-frame-pointer';
  const build = spawnSync('npx', ['node-gyp', 'rebuild'], {
    cwd: copy, encoding: 'utf8', env: { ...env, CXXFLAGS: flags, LDFLAGS: '-fsanitize=address' },
  });
  if (build.status !== 0) throw new Error(`fuzz-api: the AddressSanitizer build failed:\n${build.stdout}${build.stderr}`);
  console.log(`fuzz-api: AddressSanitizer build in ${copy}`);
  process.on('exit', () => fs.rmSync(copy, { recursive: true, force: true }));
  return { copy, libasan };
}

const asan = asanBuild();

function childCommand(args) {
  // Node itself is not instrumented: its runtime is preloaded, and leak checks are off (V8
  // keeps memory until exit on purpose).
  const prefix = asan ? ['env', `LD_PRELOAD=${asan.libasan}`, 'ASAN_OPTIONS=detect_leaks=0:abort_on_error=1'] : [];
  const node = [...prefix, process.execPath, '--expose-gc', CHILD, ...args];
  if (mode === 'netns') {
    return ['unshare', ['-n', 'sh', '-c', `sh "${NETNS_SETUP}" >&2 && exec "$@"`, 'sh', ...node]];
  }
  return [node[0], node.slice(1)];
}

/** Runs one program in a child; resolves with its report and how it ended. */
function runChild(args) {
  return new Promise((resolve) => {
    const [command, argv] = childCommand(args);
    const child = spawn(command, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, FUZZ_API_ISOLATED: mode === 'host' ? '0' : '1', ...(asan ? { FUZZ_API_PACKAGE: asan.copy } : {}) },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-20000); });
    let timedOut = false;
    const started = Date.now();
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, childTimeout);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((text) => text.startsWith(REPORT_MARK));
      let report;
      try {
        report = line && JSON.parse(line.slice(REPORT_MARK.length));
      } catch {
        report = undefined;
      }
      resolve({ status, signal, timedOut, stderr, report, elapsed: Date.now() - started });
    });
  });
}

/** AddressSanitizer's verdict and the first frame in the addon, when stderr has them. */
function sanitizerReport(stderr) {
  const kind = /AddressSanitizer: ([\w-]+)/.exec(stderr);
  if (!kind) return '';
  const frame = /#\d+ 0x[0-9a-f]+ in (.+?) \([^)\n]*sendmsg\.node/.exec(stderr);
  return `: AddressSanitizer ${kind[1]}${frame ? ` in ${frame[1].replace(/\([^()]*\)$/, '')}` : ''}`;
}

const tail = (text) => text.trim().split('\n').slice(-6).join(' | ').slice(-600);

/** The findings of a run: the report's, and those only the exit shows. */
function findingsOf(outcome) {
  const { status, signal, timedOut, stderr, report } = outcome;
  const findings = report ? [...report.findings] : [];
  if (timedOut) {
    findings.push(report
      ? { kind: 'did-not-exit', detail: `the process did not end within ${childTimeout} ms after its report (sockets closed)` }
      : { kind: 'timeout', detail: `no report within ${childTimeout} ms`, stderr: tail(stderr) });
  } else if (signal) {
    findings.push({ kind: 'crash', detail: `killed by ${signal}${sanitizerReport(stderr)}`, stderr: tail(stderr) });
  } else if (status !== 0) {
    findings.push({ kind: 'exit-status', detail: `exited with ${status}`, stderr: tail(stderr) });
  } else if (!report) {
    findings.push({ kind: 'no-report', detail: 'exited 0 without a report', stderr: tail(stderr) });
  }
  for (const text of (report && report.internal) || []) {
    findings.push({ kind: 'fuzzer-internal', detail: text.split('\n')[0], stderr: text });
  }
  return findings;
}

/** One name for findings that are the same bug: numbers and long strings do not count. */
function signature(finding) {
  const detail = String(finding.detail).replace(/\d+/g, '#').replace(/"[^"]{40,}"/g, '"…"');
  return `${finding.kind}: ${detail}`;
}

function replayCommand(seed) {
  return `FUZZ_API_SEED=${seed} npm run fuzz:api`;
}

function printFindings(findings, indent = '    ') {
  for (const finding of findings) {
    const where = `${finding.step !== undefined ? ` (step ${finding.step})` : ''}${finding.where ? ` in ${finding.where}` : ''}`;
    console.log(`${indent}${finding.kind}${where}: ${finding.detail}`);
    if (finding.stack) console.log(`${indent}  at ${finding.stack}`);
    if (finding.stderr) console.log(`${indent}  stderr: ${finding.stderr}`);
  }
}

function saveProgram(program, name) {
  fs.mkdirSync(outputDirectory, { recursive: true });
  const file = path.join(outputDirectory, `${name}.json`);
  fs.writeFileSync(file, `${JSON.stringify(program, null, 1)}\n`);
  return file;
}

async function runProgram(program) {
  const file = saveProgram(program, `candidate-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    return await runChild(['--program', file]);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

// ---- regressions ----

/** Replays test/api-fuzz/regressions.js: each must end with no finding and pass its check. */
async function runRegressions() {
  let failed = 0;
  const outcomes = await inParallel(regressions, (regression) =>
    runProgram({ seed: `regression: ${regression.name}`, inWorker: false, ending: 'close', ...regression.program }));
  regressions.forEach((regression, i) => {
    const outcome = outcomes[i];
    const findings = findingsOf(outcome);
    const problem = outcome.report && regression.check ? regression.check(outcome.report) : null;
    if (findings.length === 0 && !problem) return;
    failed++;
    console.log(`regression FAILED: ${regression.name}\n    expected: ${regression.expect}`);
    if (problem) console.log(`    check: ${problem}`);
    printFindings(findings);
  });
  console.log(`regressions: ${regressions.length - failed} of ${regressions.length} pass`);
  return failed;
}

/** run(item) for each item, `jobs` at a time; the results in order. */
async function inParallel(items, run) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const at = next++;
      results[at] = await run(items[at]);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  return results;
}

// ---- minimizing ----

/** Drops steps, reactions and the worker while the finding with this signature remains. */
async function minimize(program, wanted) {
  let budget = MINIMIZE_BUDGET;
  const holds = async (candidate) => {
    for (let attempt = 0; attempt < 2 && budget > 0; attempt++) {
      budget--;
      const findings = findingsOf(await runProgram(candidate));
      if (findings.some((finding) => signature(finding) === wanted)) return true;
    }
    return false;
  };
  let best = program;
  for (const change of [{ inWorker: false }, { ending: 'close' }]) {
    const candidate = { ...best, ...change };
    if (JSON.stringify(candidate) !== JSON.stringify(best) && (await holds(candidate))) best = candidate;
  }
  // Delta debugging over the steps: remove chunks, halving them when none can go.
  let steps = best.steps;
  let chunks = 2;
  while (steps.length > 1 && budget > 0) {
    const size = Math.ceil(steps.length / chunks);
    let reduced = false;
    for (let start = 0; start < steps.length && budget > 0; start += size) {
      const candidate = { ...best, steps: [...steps.slice(0, start), ...steps.slice(start + size)] };
      if (await holds(candidate)) {
        best = candidate;
        steps = candidate.steps;
        chunks = Math.max(chunks - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (size === 1) break;
      chunks = Math.min(steps.length, chunks * 2);
    }
  }
  // Then each reaction, and each pause.
  for (let i = 0; i < best.steps.length && budget > 0; i++) {
    for (let r = (best.steps[i].reactions || []).length - 1; r >= 0 && budget > 0; r--) {
      const reactions = best.steps[i].reactions.filter((_, at) => at !== r);
      const candidate = { ...best, steps: best.steps.map((step, at) => (at === i ? { ...step, reactions } : step)) };
      if (await holds(candidate)) best = candidate;
    }
    if (best.steps[i].gap !== 'sync' && budget > 0) {
      const candidate = { ...best, steps: best.steps.map((step, at) => (at === i ? { ...step, gap: 'sync' } : step)) };
      if (await holds(candidate)) best = candidate;
    }
  }
  return best;
}

// ---- the run ----

async function replaySeed(seed) {
  const program = generate(seed);
  console.log(formatProgram(program));
  const outcome = await runChild(['--seed', String(seed)]);
  const findings = findingsOf(outcome);
  if (outcome.report) console.log(`stats: ${JSON.stringify(outcome.report.stats)}`);
  if (outcome.stderr.trim()) console.log(`stderr:\n${outcome.stderr.trim()}`);
  console.log(findings.length ? `seed ${seed}: ${findings.length} findings` : `seed ${seed}: no findings`);
  printFindings(findings);
  if (minimizing) await minimizeAll([{ seed, program, findings }]);
  return findings.length;
}

async function replayFile(file) {
  const program = JSON.parse(fs.readFileSync(file, 'utf8'));
  console.log(formatProgram(program));
  const findings = findingsOf(await runChild(['--program', file]));
  console.log(findings.length ? `${findings.length} findings` : 'no findings');
  printFindings(findings);
  return findings.length;
}

async function minimizeAll(failures) {
  const done = new Set();
  let count = 0;
  for (const { seed, program, findings } of failures) {
    for (const finding of findings) {
      const wanted = signature(finding);
      if (done.has(wanted) || finding.kind === 'fuzzer-internal') continue;
      done.add(wanted);
      const smallest = await minimize(program, wanted);
      const file = saveProgram(smallest, `seed-${seed}-${++count}-${finding.kind}`);
      console.log(`\nminimized (seed ${seed}) ${wanted}\n  replay: node scripts/fuzz-api.js --program ${file}`);
      console.log(formatProgram(smallest).split('\n').map((line) => `  ${line}`).join('\n'));
    }
  }
}

async function fuzz() {
  const baseSeed = Number(env.FUZZ_API_BASE_SEED || (Date.now() % 1e9));
  console.log(`fuzz-api: isolation ${mode}, ${jobs} at a time, seeds from ${baseSeed}, ` +
    `${runs === Infinity ? `${seconds} s` : `${runs} runs`} (replay a run: FUZZ_API_BASE_SEED=${baseSeed})`);
  const failedRegressions = await runRegressions();
  const deadline = Date.now() + seconds * 1000;
  const bySignature = new Map();
  const failures = [];
  let next = 0;
  let finished = 0;
  const totals = {
    calls: 0, callbacks: 0, messages: 0, arrivals: 0, lookups: 0, connected: 0, joined: 0, maxQueued: 0, codes: {}, slowest: { elapsed: 0 },
  };
  const worker = async () => {
    while (next < runs && (runs !== Infinity || Date.now() < deadline)) {
      const seed = baseSeed + next++;
      const outcome = await runChild(['--seed', String(seed)]);
      finished++;
      if (outcome.elapsed > totals.slowest.elapsed) totals.slowest = { seed, elapsed: outcome.elapsed };
      const stats = outcome.report && outcome.report.stats;
      if (stats) {
        for (const key of ['calls', 'callbacks', 'messages', 'arrivals', 'lookups', 'connected', 'joined']) totals[key] += stats[key] || 0;
        totals.maxQueued = Math.max(totals.maxQueued, stats.maxQueued);
        for (const [code, count] of Object.entries(stats.codes)) totals.codes[code] = (totals.codes[code] || 0) + count;
      }
      const findings = findingsOf(outcome);
      if (findings.length === 0) continue;
      failures.push({ seed, program: generate(seed), findings });
      console.log(`seed ${seed}: ${findings.length} findings   replay: ${replayCommand(seed)}`);
      printFindings(findings);
      for (const finding of findings) {
        const key = signature(finding);
        const entry = bySignature.get(key) || { seeds: [], finding };
        entry.seeds.push(seed);
        bySignature.set(key, entry);
      }
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  console.log(`\nfuzz-api: ${finished} runs, ${failures.length} with findings; ${totals.calls} calls, ` +
    `${totals.callbacks} callbacks, ${totals.messages} messages, ${totals.arrivals} tagged arrivals, ` +
    `${totals.lookups} lookups, ${totals.connected} connects, ${totals.joined} group joins, ` +
    `deepest send queue ${totals.maxQueued}; slowest run ${totals.slowest.elapsed} ms (seed ${totals.slowest.seed})`);
  console.log(`error codes seen: ${Object.entries(totals.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ')}`);
  if (bySignature.size > 0) {
    console.log(`\n${bySignature.size} distinct findings:`);
    const sorted = [...bySignature.entries()].sort((a, b) => b[1].seeds.length - a[1].seeds.length);
    for (const [key, { seeds }] of sorted) {
      console.log(`  ${seeds.length}x ${key}\n      first seed ${seeds[0]}: ${replayCommand(seeds[0])}`);
    }
  }
  if (minimizing) await minimizeAll(failures);
  return failedRegressions + failures.length;
}

async function main() {
  const programAt = process.argv.indexOf('--program');
  let failures;
  if (programAt >= 0) failures = await replayFile(process.argv[programAt + 1]);
  else if (env.FUZZ_API_SEED !== undefined) failures = await replaySeed(Number(env.FUZZ_API_SEED));
  else failures = await fuzz();
  process.exitCode = failures > 0 ? 1 : 0;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
