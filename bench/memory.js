// npm run bench:memory: RSS while a sendmsg socket receives 10 million datagrams (64 B, with
// packet info, a 'message' listener that keeps nothing), fed by bench/.build/ref flood from
// another process. Prints RSS at every million and whether it stayed within 10% of the RSS
// after the first million (the warm-up: JIT, slabs, caches).
const { spawn, execFileSync } = require('child_process');
const path = require('path');
const sendmsg = require('..');

const TOTAL = Number(process.argv[2] || 10e6);
const STEP = 1e6;
const ref = path.join(__dirname, '.build', 'ref');
execFileSync('mkdir', ['-p', path.dirname(ref)]);
execFileSync('cc', ['-O2', '-o', ref, path.join(__dirname, 'ref.c')]);

const socket = sendmsg.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
let received = 0;
let feeder;
const samples = [];
const started = Date.now();
socket.on('message', (msg, rinfo) => {
  received++;
  if (rinfo.localAddress !== '127.0.0.1') throw new Error('no packet info');
  if (received % STEP === 0) {
    const rss = process.memoryUsage().rss;
    samples.push(rss);
    console.log(`${received / 1e6} M datagrams: RSS ${(rss / 2 ** 20).toFixed(1)} MiB`);
    if (received >= TOTAL) finish();
  }
});
// Bounded in time whatever happens: at most 120 s.
const deadline = setTimeout(() => finish(), 120000);

function finish() {
  clearTimeout(deadline);
  feeder.kill();
  socket.close();
  const base = samples[0];
  const worst = Math.max(...samples);
  const growth = (worst - base) / base;
  console.log(`received ${received} in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
    `RSS after 1 M ${(base / 2 ** 20).toFixed(1)} MiB, highest ${(worst / 2 ** 20).toFixed(1)} MiB ` +
    `(${(growth * 100).toFixed(1)}%): ${received >= TOTAL && growth <= 0.1 ? 'flat' : 'NOT flat or incomplete'}`);
  process.exitCode = received >= TOTAL && growth <= 0.1 ? 0 : 1;
}

socket.bind(0, '127.0.0.1', () => {
  feeder = spawn(ref, ['flood', String(socket.address().port), '64', '120'], { stdio: 'ignore' });
});
