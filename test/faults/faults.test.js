// Fault injection on the send path: each scenario runs fixtures/send-scenario.js in a child
// process under the LD_PRELOAD shim (shim.c), which makes sendmsg/sendmmsg fail as a plan
// says, and judges what the child saw. Linux only. Run: npm run test:faults (scripts/
// test-faults.sh), or npx mocha test/faults/faults.test.js once dist/ and the addon are built.
//
// What must hold, whatever the plan: no crash (in the main thread or a worker), every
// callback exactly once and in send order, the receiver got exactly what the callbacks say was
// sent, errors in Node's shape, a bounded number of system calls and event loop turns (counted
// by the shim, so that a spin shows as a count and not as a time), nothing left running once
// every send has settled, and the process ends by itself.
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { assert, platform } = require('../helpers');
const { buildShim, readCounts } = require('./shim');

const FIXTURE = path.join(__dirname, 'fixtures', 'send-scenario.js');
// A scenario takes well under a second; this only bounds a hang.
const CHILD_TIMEOUT_MS = 10000;
// After SIGTERM the fixture prints how far it got; a child that cannot (its loop blocked)
// gets SIGKILL after this.
const KILL_GRACE_MS = 1000;
// sendmsg + sendmmsg calls allowed per datagram. A send that succeeds at once costs one; a
// transient fault a few more; a send that never can must fail after a bounded number of
// retries, far below this. Today's ENOBUFS spin passes it within milliseconds.
const SYSCALLS_PER_DATAGRAM = 100;
// Event loop turns (epoll waits) a run may take besides those per datagram: Node's start-up,
// a worker's, the fixture's timers.
const LOOP_WAITS_BASE = 300;
// Loop turns allowed in the fixture's 100 ms idle window after every send settled: its own
// timer takes one or two; a socket still polling for writability takes thousands.
const IDLE_LOOP_WAITS = 20;
const WATCHDOG_INTERVAL_MS = 20;

// Every kind of send, in one burst: batches longer than the addon's 64 per call, and both
// send() forms, so that each has to queue behind the others.
const MIXED = [{ batch: 70 }, { send: 30, form: 'options' }, { batch: 200 }, { send: 30, form: 'positional' }];
const SENT = { outcome: 'sent' };
const ALL_OR_NOTHING = ['main', 'worker'].flatMap((thread) => [true, false].map((callbacks) => ({ thread, callbacks })));

// Plans under which every datagram must go out: faults the kernel gives only for a while, or
// a refused sendmmsg where single sends still work.
const TRANSIENT = [
  {
    title: 'sendmmsg refused with EPERM (as under a seccomp filter), single sends work',
    plan: 'sendmmsg:EPERM:always',
  },
  { title: 'sendmmsg fails with ENOBUFS, single sends work', plan: 'sendmmsg:ENOBUFS:always' },
  { title: 'EINTR on every 3rd sendmsg and sendmmsg', plan: 'sendmsg:EINTR:every=3,sendmmsg:EINTR:every=3' },
  {
    title: 'EAGAIN on the first 50 sendmsg and first 3 sendmmsg calls',
    plan: 'sendmsg:EAGAIN:first=50,sendmmsg:EAGAIN:first=3',
    udp6: true,
  },
  // Few enough in a row that no sane retry bound gives up on them.
  { title: 'ENOBUFS on the first 5 sendmsg and first 2 sendmmsg calls', plan: 'sendmsg:ENOBUFS:first=5,sendmmsg:ENOBUFS:first=2' },
  { title: 'ENOBUFS on every 4th sendmsg and every 2nd sendmmsg call', plan: 'sendmsg:ENOBUFS:every=4,sendmmsg:ENOBUFS:every=2' },
];

const PERMANENT_ENOBUFS = 'sendmsg:ENOBUFS:always,sendmmsg:ENOBUFS:always';

function describeOps(ops) {
  return ops.map((op) => (op.send !== undefined ? `${op.send} send() (${op.form}${op.ownTurns ? ', each in a turn of its own' : ''})`
    : `sendBatch(${op.batch})`)).join(' + ');
}

function variantTitle({ ops, thread, callbacks, type = 'udp4' }) {
  return `${describeOps(ops)}, ${callbacks ? 'with callbacks' : "without callbacks ('error' events)"}, ` +
    `in ${thread === 'worker' ? 'a worker thread' : 'the main thread'}${type === 'udp6' ? ', udp6 on ::1' : ''}`;
}

function totalDatagrams(ops) {
  return ops.reduce((sum, op) => sum + (op.send !== undefined ? op.send : op.batch), 0);
}

/**
 * Runs one scenario under the shim with plan. Resolves with the child's exit, its output
 * lines, the shim's final counts, and why the watchdog stopped it ('spin', 'timeout'), if it did.
 */
function runScenario(shim, plan, scenario) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sendmsg-faults-'));
  const countsFile = path.join(dir, 'counts');
  const datagrams = totalDatagrams(scenario.ops);
  const budget = {
    syscalls: SYSCALLS_PER_DATAGRAM * datagrams,
    loopWaits: LOOP_WAITS_BASE + SYSCALLS_PER_DATAGRAM * datagrams,
  };
  // An AddressSanitizer runtime, if one is preloaded, has to stay first.
  const preload = [process.env.LD_PRELOAD, shim].filter(Boolean).join(' ');
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify(scenario)], {
    env: { ...process.env, LD_PRELOAD: preload, SENDMSG_FAULT: plan, SENDMSG_FAULT_COUNTS: countsFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve) => {
    let stopReason;
    let countsAtStop;
    let killTimer;
    const stop = (reason) => {
      if (stopReason !== undefined) return;
      stopReason = reason;
      countsAtStop = readCounts(countsFile);
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    const watchdog = setInterval(() => {
      const counts = readCounts(countsFile);
      if (counts && (counts.sendmsgCalls + counts.sendmmsgCalls > budget.syscalls || counts.loopWaits > budget.loopWaits)) {
        stop('spin');
      }
    }, WATCHDOG_INTERVAL_MS);
    const timeout = setTimeout(() => stop('timeout'), CHILD_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearInterval(watchdog);
      clearTimeout(timeout);
      clearTimeout(killTimer);
      const counts = readCounts(countsFile);
      fs.rmSync(dir, { recursive: true, force: true });
      const lines = stdout.split('\n').filter(Boolean).map((line) => {
        try {
          return JSON.parse(line);
        } catch {
          return { unparsed: line };
        }
      });
      const find = (key) => lines.find((line) => key in line)?.[key];
      resolve({
        code, signal, stopReason, countsAtStop, counts, budget, datagrams, stderr,
        result: find('result'),
        killed: find('killed'),
        workerExit: find('workerExit'),
        fixtureError: find('fixtureError'),
      });
    });
  });
}

function formatCounts(c) {
  if (!c) return 'no counts';
  return `${c.sendmsgCalls} sendmsg calls (${c.sendmsgFaults} failed by the shim), ` +
    `${c.sendmmsgCalls} sendmmsg calls (${c.sendmmsgFaults} failed), ${c.loopWaits} loop turns`;
}

/** "3 of 100: 0, 1, 2" with at most a few listed. */
function someOf(list, of) {
  const shown = list.slice(0, 5).join(', ');
  return `${list.length} of ${of}: ${shown}${list.length > 5 ? ', ...' : ''}`;
}

function tail(text, lines = 8) {
  return text.trim().split('\n').slice(-lines).join('\n    ');
}

// What is wrong with an error that should be `code` from a send to loopback, in Node's shape.
function errorProblem(error, code, syscalls) {
  if (!error || error.notAnError !== undefined) return `not an Error: ${JSON.stringify(error)}`;
  const errno = os.constants.errno[code];
  const wrong = [];
  if (error.code !== code) wrong.push(`code ${error.code}`);
  if (error.errno !== -errno) wrong.push(`errno ${error.errno} (want ${-errno})`);
  if (error.osErrno !== errno) wrong.push(`osErrno ${error.osErrno} (want ${errno})`);
  if (!syscalls.includes(error.syscall)) wrong.push(`syscall ${error.syscall} (want ${syscalls.join(' or ')})`);
  if (typeof error.message !== 'string' || !error.message.startsWith(`${error.syscall} ${code}`)) {
    wrong.push(`message ${JSON.stringify(error.message)}`);
  }
  if (typeof error.address !== 'string' || !Number.isInteger(error.port)) wrong.push('no address and port');
  return wrong.length === 0 ? undefined : wrong.join(', ');
}

/**
 * Every way the run went wrong, as sentences; [] when it did what expect says. expect.outcome:
 * 'sent' (every datagram), 'failed' (every one, with expect.code) or 'either' (each one sent
 * or failed with expect.code: where the fix may choose). Optional: receivedInOrderOnly (the
 * receiver may drop datagrams: only order and no extras are checked) and drainProbe (the
 * event loop must turn while a long queue drains).
 */
function problemsOf(run, scenario, expect) {
  const problems = [];
  const { counts } = run;
  if (!counts) return ['the shim never wrote its counts: it was not loaded, or the child did not start'];
  if (run.stopReason === 'spin') {
    problems.push(`spun: stopped at ${formatCounts(run.countsAtStop)} for ${run.datagrams} datagrams ` +
      `(budget ${run.budget.syscalls} calls, ${run.budget.loopWaits} turns); progress then: ` +
      `${run.killed ? JSON.stringify(run.killed) : 'not reported'}`);
  } else if (run.stopReason === 'timeout') {
    problems.push(run.result
      ? `printed its result but did not exit by itself within ${CHILD_TIMEOUT_MS} ms`
      : `did not settle within ${CHILD_TIMEOUT_MS} ms; progress then: ${run.killed ? JSON.stringify(run.killed) : 'not reported'}`);
  } else if (run.signal) {
    problems.push(`crashed: killed by ${run.signal}, at ${formatCounts(counts)}; stderr: ${tail(run.stderr) || '(empty)'}`);
  } else if (run.code !== 0) {
    problems.push(`exited with code ${run.code}; stderr: ${tail(run.stderr) || '(empty)'}`);
  }
  if (run.fixtureError) problems.push(`the fixture failed: ${run.fixtureError}`);
  if (scenario.thread === 'worker' && run.stopReason === undefined && !run.signal && run.workerExit !== 0) {
    problems.push(`the worker exited with ${run.workerExit}`);
  }
  if (counts.sendmsgFaults + counts.sendmmsgFaults === 0) {
    problems.push(`the plan injected no fault (${formatCounts(counts)}): the path under test was not reached`);
  }
  if (run.stopReason !== 'spin' && counts.sendmsgCalls + counts.sendmmsgCalls > run.budget.syscalls) {
    problems.push(`too many send calls: ${formatCounts(counts)} for ${run.datagrams} datagrams (budget ${run.budget.syscalls})`);
  }
  const result = run.result;
  if (!result) {
    if (problems.length === 0) problems.push(`no result printed; stderr: ${tail(run.stderr) || '(empty)'}`);
    return problems;
  }
  return problems.concat(resultProblems(result, scenario, expect));
}

function resultProblems(result, scenario, expect) {
  const problems = [];
  const loopback = scenario.type === 'udp6' ? '::1' : '127.0.0.1';
  const maySucceed = expect.outcome !== 'failed';
  const mayFail = expect.outcome !== 'sent';
  const want = { sent: 'sent', failed: `to fail with ${expect.code}`, either: `sent or failed with ${expect.code}` }[expect.outcome];
  const byteLength = (i) => Buffer.byteLength(`d:${i}`);
  // What is wrong with one datagram's reported outcome ({ bytes } or { error }), if anything.
  const outcomeProblem = (outcome, i, syscalls) => {
    if (outcome.error !== undefined) {
      return mayFail ? errorProblem(outcome.error, expect.code, syscalls) : `failed: ${outcome.error.code} ${outcome.error.message}`;
    }
    if (!maySucceed) return `sent ${outcome.bytes} bytes`;
    return outcome.bytes === byteLength(i) ? undefined : `reported ${outcome.bytes} bytes of ${byteLength(i)}`;
  };
  // Each datagram's outcome as its (first) callback reported it.
  const outcomes = new Array(result.total);
  const received = result.received;
  let sent;

  if (scenario.callbacks) {
    const notOnce = result.calls.map((n, u) => (n === 1 ? -1 : u)).filter((u) => u >= 0);
    if (notOnce.length > 0) {
      problems.push(`callbacks not called exactly once: units ${someOf(notOnce.map((u) => `${u} (${result.calls[u]}x)`), result.units.length)}`);
    }
    const firstCompletions = result.completions.filter((c, k) =>
      result.completions.findIndex((other) => other.unit === c.unit) === k);
    const outOfOrder = firstCompletions.findIndex((c, k) => k > 0 && c.unit < firstCompletions[k - 1].unit);
    if (outOfOrder >= 0) {
      problems.push(`callbacks out of send order: unit ${firstCompletions[outOfOrder].unit} completed after unit ${firstCompletions[outOfOrder - 1].unit}`);
    }
    const badOutcomes = [];
    for (const completion of firstCompletions) {
      const unit = result.units[completion.unit];
      if (unit.kind === 'send') {
        outcomes[unit.first] = { ...completion, syscalls: ['sendmsg'] };
        continue;
      }
      if (!Array.isArray(completion.results) || completion.results.length !== unit.count) {
        problems.push(`sendBatch(${unit.count}) called back with results ${JSON.stringify(completion.results).slice(0, 80)}`);
        continue;
      }
      completion.results.forEach((r, k) => { outcomes[unit.first + k] = { ...r, syscalls: ['sendmsg', 'sendmmsg'] }; });
      // firstError is the first failed datagram's error, or null when none failed.
      const firstFailed = completion.results.find((r) => r.error !== undefined);
      const firstProblem = firstFailed === undefined
        ? completion.firstError && `${JSON.stringify(completion.firstError)} with no datagram failed`
        : completion.firstError ? errorProblem(completion.firstError, firstFailed.error.code, ['sendmsg', 'sendmmsg'])
          : 'null although datagrams failed';
      if (firstProblem) badOutcomes.push(`sendBatch(${unit.count}) at ${unit.first}: firstError ${firstProblem}`);
    }
    outcomes.forEach((outcome, i) => {
      const problem = outcome && outcomeProblem(outcome, i, outcome.syscalls);
      if (problem) badOutcomes.push(`datagram ${i} ${problem}`);
    });
    if (badOutcomes.length > 0) {
      problems.push(`want every datagram ${want}; ${badOutcomes.length} not: ${badOutcomes.slice(0, 3).join('; ')}`);
    }
    if (result.errorEvents.length > 0) {
      problems.push(`'error' events although every send has a callback: ${result.errorEvents.length}, first ${JSON.stringify(result.errorEvents[0])}`);
    }
    sent = outcomes.map((o, i) => (o && o.bytes !== undefined ? i : -1)).filter((i) => i >= 0);
  } else {
    // Without callbacks a datagram's fate shows only as an 'error' event or an arrival.
    const errors = result.errorEvents.length;
    if (expect.outcome === 'sent' && errors > 0) {
      problems.push(`'error' events: ${errors}, first ${JSON.stringify(result.errorEvents[0])}`);
    } else if (expect.outcome === 'failed' && errors !== result.total) {
      problems.push(`want one '${expect.code}' 'error' event per datagram (${result.total}); got ${errors}`);
    } else if (expect.outcome === 'either' && errors + received.length !== result.total) {
      problems.push(`want each of ${result.total} datagrams to arrive or be an 'error' event; ${received.length} arrived, ${errors} 'error' events`);
    }
    const bad = mayFail ? result.errorEvents.map((e) => errorProblem(e, expect.code, ['sendmsg', 'sendmmsg'])).filter(Boolean) : [];
    if (bad.length > 0) problems.push(`'error' events not in Node's shape: ${bad.length}, first: ${bad[0]}`);
    // 'either' without callbacks: which ones went is unknown, so only their order is checked.
    if (expect.outcome !== 'either') sent = maySucceed ? [...Array(result.total).keys()] : [];
  }

  // The receiver got exactly what was reported sent, in send order.
  if (sent === undefined || expect.receivedInOrderOnly) {
    const sentSet = new Set(sent || received);
    const extra = received.filter((i) => !sentSet.has(i));
    const disorder = received.findIndex((i, k) => k > 0 && i <= received[k - 1]);
    if (extra.length > 0) problems.push(`received datagrams not reported sent: ${someOf(extra, received.length)}`);
    if (disorder >= 0) problems.push(`received out of order or twice: ${received[disorder]} after ${received[disorder - 1]}`);
  } else if (JSON.stringify(received) !== JSON.stringify(sent)) {
    const receivedSet = new Set(received);
    const missing = sent.filter((i) => !receivedSet.has(i));
    problems.push(`the receiver got ${received.length} datagrams where ${sent.length} were reported sent` +
      (missing.length > 0 ? `; missing ${someOf(missing, sent.length)}` : '; order or duplicates differ') +
      `; first received: ${received.slice(0, 5).join(', ')}`);
  }

  const { before, after } = result.idle;
  if (before && after) {
    const sends = after.sendmsgCalls + after.sendmmsgCalls - before.sendmsgCalls - before.sendmmsgCalls;
    const turns = after.loopWaits - before.loopWaits;
    if (sends > 0 || turns > IDLE_LOOP_WAITS) {
      problems.push(`not idle once every send had settled: ${sends} send calls and ${turns} loop turns in 100 ms (allowed 0 and ${IDLE_LOOP_WAITS})`);
    }
  }
  if (result.closeCallbacks !== 1) problems.push(`close() callback called ${result.closeCallbacks} times`);
  if (result.afterClose.length > 0) problems.push(`events after 'close': ${JSON.stringify(result.afterClose.slice(0, 3))}`);
  if (expect.drainProbe && result.drainProbe.mostCallbacksInOneTurn >= result.units.length) {
    problems.push(`a queue of ${result.queuedAfterBurst} drained within one event loop turn: all ` +
      `${result.units.length} callbacks ran between two immediates (${result.drainProbe.turns} turns in all)`);
  }
  if (expect.drainProbe && result.queuedAfterBurst < result.units.length - 1) {
    problems.push(`the burst did not queue (${result.queuedAfterBurst} queued): the drain was not exercised`);
  }
  // Loopback is what the scenario talks to; an error naming another address is a bug too.
  const wrongAddress = result.errorEvents.find((e) => e.address !== undefined && e.address !== loopback);
  if (wrongAddress) problems.push(`an error names address ${wrongAddress.address}`);
  return problems;
}

describe('send path under injected faults (LD_PRELOAD shim)', function () {
  this.timeout(CHILD_TIMEOUT_MS + KILL_GRACE_MS + 5000);
  let shim;

  before(function () {
    if (process.platform !== 'linux') {
      platform.skip(this, `the fault shim interposes glibc's sendmsg/sendmmsg through LD_PRELOAD: Linux only, this is ${process.platform}`,
        { allowedInCI: true });
    }
    try {
      shim = buildShim();
    } catch (error) {
      platform.skip(this, `${error.message} (apt-get install gcc libc6-dev)`);
    }
  });

  async function check(plan, scenario, expect) {
    const run = await runScenario(shim, plan, scenario);
    const problems = problemsOf(run, scenario, expect);
    assert.ok(problems.length === 0, `SENDMSG_FAULT=${plan}\n  - ${problems.join('\n  - ')}\n  (${formatCounts(run.counts)})`);
  }

  for (const { title, plan, udp6 } of TRANSIENT) {
    describe(`${title} [${plan}]: every datagram is sent, in order`, function () {
      const variants = ALL_OR_NOTHING.map((v) => ({ ...v, ops: MIXED }));
      if (udp6) variants.push({ thread: 'main', callbacks: true, ops: MIXED, type: 'udp6' });
      for (const variant of variants) {
        it(variantTitle(variant), async function () {
          await check(plan, { type: 'udp4', ...variant }, SENT);
        });
      }
    });
  }

  // Single sends never work, sendmmsg does. Which datagrams get out is the implementation's
  // choice (a queue drained with sendmmsg gets through, one drained with sendmsg does not),
  // so each may go either way; order, exactly-once, the bound and the exit must hold. The
  // burst leaves in batches; the lone sends after it, one per turn, take sendmsg.
  describe('ENOBUFS on every sendmsg for good, sendmmsg works [sendmsg:ENOBUFS:always]: each datagram is sent or fails with ENOBUFS, in order, after a bounded number of calls', function () {
    const ops = [...MIXED, { send: 5, form: 'options', ownTurns: true }];
    for (const variant of ALL_OR_NOTHING.map((v) => ({ ...v, ops }))) {
      it(variantTitle(variant), async function () {
        await check('sendmsg:ENOBUFS:always', { type: 'udp4', ...variant }, { outcome: 'either', code: 'ENOBUFS' });
      });
    }
  });

  describe(`ENOBUFS on every call, for good [${PERMANENT_ENOBUFS}]: every send fails with ENOBUFS after a bounded number of calls, and the process ends`, function () {
    const variants = [[{ send: 100, form: 'options' }], [{ batch: 70 }, { batch: 200 }]]
      .flatMap((ops) => ALL_OR_NOTHING.map((v) => ({ ...v, ops })));
    variants.push({ thread: 'main', callbacks: true, ops: [{ send: 100, form: 'positional' }], type: 'udp6' });
    for (const variant of variants) {
      it(variantTitle(variant), async function () {
        await check(PERMANENT_ENOBUFS, { type: 'udp4', ...variant }, { outcome: 'failed', code: 'ENOBUFS' });
      });
    }
  });

  // The burst's first batch meets EAGAIN (the sends of one turn leave together, 256 at a time;
  // after a refused sendmmsg the addon sends one datagram alone to learn its error: EAGAIN too),
  // so it and the rest queue and go out when the socket is writable. The receiver may drop some
  // of a burst this size, so only the order of what arrives is checked.
  describe('a queue of 10,000 sends drains in order, and lets the event loop turn while it does [sendmsg:EAGAIN:first=1,sendmmsg:EAGAIN:first=1]', function () {
    for (const thread of ['main', 'worker']) {
      const variant = { thread, callbacks: true, ops: [{ send: 10000, form: 'options' }], drainProbe: true };
      it(variantTitle(variant), async function () {
        await check('sendmsg:EAGAIN:first=1,sendmmsg:EAGAIN:first=1', { type: 'udp4', ...variant },
          { outcome: 'sent', receivedInOrderOnly: true, drainProbe: true });
      });
    }
  });
});
