// One measurement in a fresh process, for bench/run.js. Prints datagrams per second and the CPU
// time per datagram of this process in ns: user, then system.
//   node worker.js send    IMPL SIZE PORT SECONDS WARMUP   IMPL: sendmsg | dgram | batch
//   node worker.js receive IMPL PORT SECONDS WARMUP        counts from WARMUP s after the first datagram
//   node worker.js reply   IMPL PORT                       answers until SIGTERM, counts from SIGUSR2
// The warm-up (JIT compilation, first allocations) is not counted: a server runs for long.
// BENCH_MAX_MESSAGE_SIZE=N sets the sendmsg sockets' maxMessageSize (default 65535).
const dgram = require('dgram');
const { once } = require('events');
const sendmsg = require('..');
const { binding } = require('../dist/native');

const [mode, impl, ...args] = process.argv.slice(2);
const BURST = 1024; // a multiple of the 32 datagrams of each sendBatch

function createSocket() {
  return impl === 'dgram' ? dgram.createSocket('udp4')
    : sendmsg.createSocket({ type: 'udp4', maxMessageSize: Number(process.env.BENCH_MAX_MESSAGE_SIZE) || undefined });
}

async function send(size, port, seconds, warmup) {
  const socket = createSocket();
  await new Promise((resolve) => socket.bind(0, '0.0.0.0', resolve));
  const payload = Buffer.alloc(size, 1);
  const options = { port, address: '127.0.0.1', localAddress: '127.0.0.1' };
  const batch = Array.from({ length: 32 }, () => ({ msg: payload, ...options }));
  const burst = () => new Promise((resolve) => {
    let pending = BURST;
    const done = () => { if (--pending === 0) resolve(); };
    if (impl === 'batch') {
      pending = BURST / 32;
      for (let i = 0; i < BURST / 32; i++) socket.sendBatch(batch, done);
    } else if (impl === 'dgram') {
      for (let i = 0; i < BURST; i++) socket.send(payload, port, '127.0.0.1', done);
    } else {
      for (let i = 0; i < BURST; i++) socket.send(payload, options, done);
    }
  });
  const warmEnd = Date.now() + warmup * 1000;
  while (Date.now() < warmEnd) await burst();
  const end = Date.now() + seconds * 1000;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let sent = 0;
  while (Date.now() < end) {
    await burst();
    sent += BURST;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  socket.close();
  return [sent / elapsed, (cpu.user * 1000) / sent, (cpu.system * 1000) / sent];
}

async function receive(port, seconds, warmup) {
  const socket = createSocket();
  let count = 0;
  let lastLocal;
  await new Promise((resolve) => socket.bind(port, '127.0.0.1', resolve));
  socket.setRecvBufferSize(4 << 20);
  console.error('ready');
  return new Promise((resolve) => {
    // The rate is datagrams per second of this process's CPU time (user + system): what one
    // core can take in. So that it measures draining rather than waking up for each datagram,
    // the loop sleeps 20 ms (no CPU) once a turn has emptied the socket's queue, while the
    // feeder fills it again: the same pattern as the C reference (recvmmsg until EAGAIN, then
    // sleep). A turn emptied the queue when it brought fewer datagrams than one wake-up reads
    // at most: sendmsg's budget (binding.receiveBatch), or libuv's 32 reads per poll event for
    // dgram. (Sleeping only after a turn that brought nothing kept Node waking for 2 or 3
    // datagrams at a time once it had caught up, while C slept: a cost C never paid.)
    const fullTurn = impl === 'dgram' ? 32 : binding.receiveBatch;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    let arrivedThisTurn = 0;
    let running = true;
    const turn = () => {
      if (!running) return;
      if (arrivedThisTurn < fullTurn && count > 0) Atomics.wait(sleeper, 0, 0, 20);
      arrivedThisTurn = 0;
      setImmediate(turn);
    };
    let cpuStart;
    let countAtStart;
    socket.on('message', (msg, rinfo) => {
      arrivedThisTurn++;
      if (count++ === 0) {
        turn();
        setTimeout(() => {
          cpuStart = process.cpuUsage();
          countAtStart = count;
          setTimeout(() => {
            const cpu = process.cpuUsage(cpuStart);
            running = false;
            socket.close();
            if (impl !== 'dgram' && lastLocal !== '127.0.0.1') throw new Error('no packet info');
            const received = count - countAtStart;
            resolve([received / ((cpu.user + cpu.system) / 1e6), (cpu.user * 1000) / received,
              (cpu.system * 1000) / received]);
          }, seconds * 1000);
        }, warmup * 1000);
      }
      lastLocal = rinfo.localAddress;
    });
  });
}

// Answers until SIGTERM, then prints answers per second of this process's CPU time and the CPU
// time per answer, counted from the last SIGUSR2 (bench/run.js sends it after the warm-up), as
// the C reference servers do. SIGUSR2, as SIGUSR1 belongs to Node's debugger.
async function reply(port) {
  const socket = createSocket();
  let answered = 0;
  if (impl === 'dgram') {
    socket.on('message', (msg, rinfo) => { socket.send(msg, rinfo.port, rinfo.address); answered++; });
  } else {
    socket.on('message', (msg, rinfo) => { socket.reply(rinfo, msg); answered++; });
  }
  let cpuStart = process.cpuUsage();
  process.on('SIGUSR2', () => {
    answered = 0;
    cpuStart = process.cpuUsage();
  });
  // Never outlive bench/run.js, even if it dies before it can kill this process.
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) process.exit(1); }, 1000).unref();
  const stopped = once(process, 'SIGTERM');
  await new Promise((resolve) => socket.bind(port, '0.0.0.0', resolve));
  console.error('ready');
  await stopped;
  const cpu = process.cpuUsage(cpuStart);
  socket.close();
  const perAnswer = (microseconds) => (microseconds * 1000) / Math.max(answered, 1);
  return [answered / ((cpu.user + cpu.system) / 1e6 || 1), perAnswer(cpu.user), perAnswer(cpu.system)];
}

(async () => {
  let result;
  if (mode === 'send') result = await send(Number(args[0]), Number(args[1]), Number(args[2]), Number(args[3]));
  else if (mode === 'receive') result = await receive(Number(args[0]), Number(args[1]), Number(args[2]));
  else if (mode === 'reply') result = await reply(Number(args[0]));
  console.log(result.map(Math.round).join(' '));
  process.exit(0);
})();
