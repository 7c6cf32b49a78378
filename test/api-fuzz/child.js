'use strict';
// One fuzz run: generates the program of a seed (or reads one from a file), runs it in this
// process or, as the program says, in a worker thread, and prints the report as one line of
// JSON after REPORT_MARK. scripts/fuzz-api.js starts it, normally inside a private network
// namespace (FUZZ_API_ISOLATED=1), and judges how it ended.
//
//   node --expose-gc test/api-fuzz/child.js --seed 123
//   node --expose-gc test/api-fuzz/child.js --program saved.json
//   node test/api-fuzz/child.js --print --seed 123      (the program, without running it)
const fs = require('fs');
const os = require('os');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

const REPORT_MARK = '@@api-fuzz-report@@';
// How long a worker may take to end once it reported, before it counts as hung.
const WORKER_EXIT_MS = 5000;
// A run that has not reported by then is stuck: report where, before the parent kills it.
const WATCHDOG_MS = Number(process.env.FUZZ_API_WATCHDOG_MS || 15000);

function loadProgram(argv) {
  const option = (name) => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  if (option('--program') !== undefined) return JSON.parse(fs.readFileSync(option('--program'), 'utf8'));
  if (option('--seed') !== undefined) return require('./generator').generate(Number(option('--seed')));
  throw new Error('usage: child.js (--seed N | --program file.json) [--print]');
}

// In the namespace lo is the only interface: that is what makes every string safe to send to.
function checkIsolation(isolated) {
  if (!isolated) return;
  const names = Object.keys(os.networkInterfaces());
  if (names.some((name) => name !== 'lo')) {
    process.stderr.write(`api-fuzz: FUZZ_API_ISOLATED=1 but this host has interfaces ${names.join(', ')}: refusing to run\n`);
    process.exit(3);
  }
}

// Where the run is (step and phase), for the watchdog; a worker posts it to the main thread.
let progress = { step: 'start', phase: 'starting' };

async function runHere(program, isolated, onProgress = (where) => { progress = where; }) {
  const { Runtime } = require('./runtime');
  return new Runtime({ isolated, onProgress }).run(program);
}

function startWatchdog() {
  const timer = setTimeout(() => {
    const finding = { kind: 'stuck', detail: `no report after ${WATCHDOG_MS} ms: ${progress.phase}`, step: progress.step };
    process.stdout.write(`${REPORT_MARK}${JSON.stringify({ findings: [finding], internal: [], stats: {}, calls: [] })}\n`, () => process.exit(4));
  }, WATCHDOG_MS);
  timer.unref();
}

function runInWorker(program, isolated) {
  return new Promise((resolve) => {
    const worker = new Worker(__filename, { workerData: { program, isolated } });
    let report;
    let terminated = false;
    let hung;
    const problem = (kind, detail) => {
      report = report || { findings: [], internal: [], stats: {}, calls: [] };
      report.findings.push({ kind, detail, step: 'worker' });
    };
    worker.on('message', (message) => {
      if (message.progress) {
        progress = message.progress;
        return;
      }
      report = message;
      if (program.ending === 'terminate') {
        terminated = true;
        worker.terminate();
      } else {
        hung = setTimeout(() => {
          problem('worker-did-not-exit', `the worker did not end within ${WORKER_EXIT_MS} ms of its last step (ending: ${program.ending})`);
          terminated = true;
          worker.terminate();
        }, WORKER_EXIT_MS);
      }
    });
    worker.on('error', (error) => problem('worker-error', `${error && error.name}: ${error && error.message}`));
    worker.on('exit', (code) => {
      clearTimeout(hung);
      if (report === undefined) problem('worker-no-report', `the worker exited with ${code} before it reported`);
      else if (code !== 0 && !terminated) problem('worker-exit-code', `the worker exited with ${code}`);
      resolve(report);
    });
  });
}

async function main() {
  const program = loadProgram(process.argv);
  if (process.argv.includes('--print')) {
    process.stdout.write(`${require('./generator').formatProgram(program)}\n`);
    return;
  }
  const isolated = process.env.FUZZ_API_ISOLATED === '1';
  checkIsolation(isolated);
  startWatchdog();
  const report = program.inWorker ? await runInWorker(program, isolated) : await runHere(program, isolated);
  report.seed = program.seed;
  process.stdout.write(`${REPORT_MARK}${JSON.stringify(report)}\n`, () => {
    // 'close': the process must end by itself, which shows that nothing keeps it alive.
    if (program.ending !== 'close') process.exit(0);
  });
}

if (isMainThread && require.main === module) {
  main().catch((error) => {
    process.stderr.write(`api-fuzz child: ${error && error.stack}\n`);
    process.exit(2);
  });
} else if (!isMainThread) {
  const { program, isolated } = workerData;
  runHere(program, isolated, (where) => parentPort.postMessage({ progress: where })).then((report) => {
    parentPort.postMessage(report);
    if (program.ending === 'exit') process.exit(0);
  });
}

module.exports = { REPORT_MARK };
