// npm run bench:memory: RSS of a sendmsg socket over 10 million datagrams, on two paths, each in
// a fresh process so that one's heap does not count in the other's RSS:
// - receive: the socket receives 64 B datagrams with packet info (a 'message' listener that keeps
//   nothing), fed by bench/.build/ref flood from another process. RSS at every million.
// - reply: the socket answers every query with reply(rinfo, msg), driven by bench/.build/ref load
//   (64 in flight). RSS after 1, 2, 4, 6, 8 and 10 million answers.
// Each prints whether RSS stayed within ±10% of the RSS after the first million (the warm-up: JIT,
// slabs, caches), and exits non-zero if it did not or did not get through in time.
//   node bench/memory.js [receive | reply] [TOTAL]     both paths when none is named
const { spawn, execFileSync, spawnSync } = require('child_process');
const path = require('path');

const PATHS = ['receive', 'reply'];
const only = PATHS.includes(process.argv[2]) ? process.argv[2] : undefined;
const TOTAL = Number(process.argv[only ? 3 : 2] || 10e6);
const MILLION = 1e6;
const ref = path.join(__dirname, '.build', 'ref');
execFileSync('mkdir', ['-p', path.dirname(ref)]);
execFileSync('cc', ['-O2', '-o', ref, path.join(__dirname, 'ref.c')]);

if (!only) {
  // Both paths, one process each.
  let failed = false;
  for (const name of PATHS) {
    console.log(`${name}:`);
    const child = spawnSync(process.execPath, [__filename, name, String(TOTAL)], { stdio: 'inherit' });
    failed ||= child.status !== 0;
  }
  process.exitCode = failed ? 1 : 0;
} else {
  measure(only);
}

function measure(name) {
  const sendmsg = require('..');
  const socket = sendmsg.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const checkpoints = name === 'receive'
    ? Array.from({ length: Math.floor(TOTAL / MILLION) }, (_, i) => (i + 1) * MILLION)
    : [1, 2, 4, 6, 8, 10].map((m) => m * MILLION).filter((n) => n <= TOTAL);
  const noun = name === 'receive' ? 'datagrams' : 'answers';
  let count = 0;
  let driver;
  const samples = [];
  const started = Date.now();
  socket.on('message', (msg, rinfo) => {
    if (rinfo.localAddress !== '127.0.0.1') throw new Error('no packet info');
    if (name === 'reply') socket.reply(rinfo, msg);
    if (++count === checkpoints[samples.length]) {
      const rss = process.memoryUsage().rss;
      samples.push(rss);
      console.log(`${count / MILLION} M ${noun}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB`);
      if (samples.length === checkpoints.length) finish();
    }
  });
  // Bounded in time whatever happens: at most 120 s.
  const deadline = setTimeout(() => finish(), 120000);

  function finish() {
    clearTimeout(deadline);
    driver?.kill();
    socket.close();
    // The sample farthest from the one after the first million, up or down.
    const base = samples[0];
    const worst = samples.reduce((far, rss) => (Math.abs(rss - base) > Math.abs(far - base) ? rss : far), base);
    const growth = (worst - base) / base;
    const flat = count >= TOTAL && Math.abs(growth) <= 0.1;
    console.log(`${name === 'receive' ? 'received' : 'answered'} ${count} in ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s; RSS after 1 M ${(base / 2 ** 20).toFixed(1)} MiB, ` +
      `farthest ${(worst / 2 ** 20).toFixed(1)} MiB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%): ` +
      `${flat ? 'flat' : 'NOT flat or incomplete'}`);
    process.exitCode = flat ? 0 : 1;
  }

  // reply binds where a server would, and answers from the address each query arrived on.
  socket.bind(0, name === 'receive' ? '127.0.0.1' : '0.0.0.0', () => {
    const port = String(socket.address().port);
    const args = name === 'receive' ? ['flood', port, '64', '120'] : ['load', port, '120', '64'];
    driver = spawn(ref, args, { stdio: 'ignore' });
  });
}
