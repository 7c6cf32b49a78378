// Close, garbage collection, worker threads and process exit.
const { spawnSync } = require('child_process');
const { once } = require('events');
const fs = require('fs');
const path = require('path');
const v8 = require('v8');
const vm = require('vm');
const { Worker } = require('worker_threads');
const sendmsg = require('..');
const { binding } = require('../dist/native');
const { assert, platform, nodeArgs, nextMessage, bound, closeAll, inNetworkNamespace } = require('./helpers');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

async function collectGarbage() {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const openDescriptors = () => (process.platform === 'linux' ? fs.readdirSync('/proc/self/fd').length : 0);

describe('lifecycle', function () {
  it('close() emits "close" once and calls its callback; a second close throws', async function () {
    const socket = sendmsg.createSocket('udp4');
    await bound(socket);
    let closes = 0;
    socket.on('close', () => closes++);
    await new Promise((resolve) => socket.close(resolve));
    assert.throws(() => socket.close(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.strictEqual(closes, 1);
  });

  it('close() with sends still queued fails each of them with ERR_SOCKET_CLOSED (shaped loopback)', async function () {
    const result = await inNetworkNamespace(this, 'backpressure', ['close-with-queued']);
    if (!result) return;
    if (!platform.wineDiffers('sendBackpressure')) {
      assert.ok(result.queuedAtClose > 100, `sends were queued at close (${result.queuedAtClose})`);
    }
    assert.strictEqual(result.calledOnce, true, 'every callback exactly once');
    assert.strictEqual(result.completed, result.count);
    assert.strictEqual(result.errors.ERR_SOCKET_CLOSED || 0, result.queuedAtClose, 'the queued ones fail with ERR_SOCKET_CLOSED');
    assert.deepStrictEqual(Object.keys(result.errors).filter((code) => code !== 'ERR_SOCKET_CLOSED'), [], 'no other errors');
  });

  it('a socket garbage-collected without close() releases its descriptor', async function () {
    await collectGarbage();
    const sockets = binding.openSocketCount();
    const descriptors = openDescriptors();
    for (let i = 0; i < 200; i++) sendmsg.createSocket(i % 2 ? 'udp4' : 'udp6');
    assert.strictEqual(binding.openSocketCount(), sockets + 200);
    await collectGarbage();
    assert.strictEqual(binding.openSocketCount(), sockets, 'every dropped socket was closed');
    if (process.platform === 'linux') assert.ok(openDescriptors() <= descriptors + 2, 'descriptors given back');
  });

  // Node 26 holds the resource given to napi_async_init strongly until napi_async_destroy
  // (nodejs/node#59828; Node 24 and earlier held it weakly): an addon that gives its own
  // handle there and destroys the context only when the handle is collected keeps every
  // socket, closed or not, for the life of the process.
  it('a closed socket with no reference left is garbage-collected', async function () {
    const COUNT = 50;
    let collected = 0;
    const registry = new FinalizationRegistry(() => { collected++; });
    for (let i = 0; i < COUNT; i++) {
      const socket = sendmsg.createSocket(i % 2 ? 'udp4' : 'udp6');
      await bound(socket, 0, i % 2 ? '127.0.0.1' : '::1');
      await new Promise((resolve) => socket.close(resolve));
      registry.register(socket, i);
    }
    // Finalization callbacks run in tasks of their own after a collection: a few rounds.
    for (let round = 0; round < 20 && collected < COUNT; round++) {
      await collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.strictEqual(collected, COUNT, 'every closed socket was collected');
  });

  it('a bound socket with no reference left keeps serving, as a dgram server does', async function () {
    const port = await new Promise((resolve) => {
      const server = sendmsg.createSocket('udp4', (msg, rinfo) => {
        if (msg.toString() === 'stop') server.close();
        else server.reply(rinfo, msg);
      });
      server.bind(0, '127.0.0.1', () => resolve(server.address().port));
    });
    await collectGarbage();
    const client = sendmsg.createSocket('udp4');
    client.send('still there?', port, '127.0.0.1');
    const [answer] = await nextMessage(client);
    assert.strictEqual(answer.toString(), 'still there?');
    client.send('stop', port, '127.0.0.1');
    await closeAll(client);
  });

  it('works in worker threads, several at once, and a worker may end with sockets open', async function () {
    const run = (id, mode) => {
      const worker = new Worker(path.join(__dirname, 'fixtures', 'worker.js'), { workerData: { id, mode } });
      return { worker, message: once(worker, 'message'), exit: once(worker, 'exit') };
    };
    const workers = [run(1, 'exit-with-open-sockets'), run(2, 'exit-with-open-sockets'), run(3, 'terminate')];
    try {
      for (const [i, { message }] of workers.entries()) {
        const [result] = await message;
        assert.strictEqual(result.answer, `worker ${i + 1} back`);
        assert.strictEqual(result.localAddress, '127.0.0.1');
        if (!platform.wineDiffers('sourceSelection')) assert.strictEqual(result.from, '127.0.0.4');
      }
    } finally {
      await workers[2].worker.terminate();
    }
    for (const { exit } of workers) {
      const [code] = await exit;
      assert.ok(code === 0 || code === 1, `worker exit code ${code}`);
    }
    // The addon still works here after the workers' environments went away.
    const server = sendmsg.createSocket('udp4');
    const port = await bound(server, 0, '127.0.0.1');
    const client = sendmsg.createSocket('udp4');
    client.send('after workers', port, '127.0.0.1');
    const [msg] = await nextMessage(server);
    assert.strictEqual(msg.toString(), 'after workers');
    await closeAll(server, client);
  });

  for (const mode of ['exit', 'unref']) {
    it(`the process ends cleanly with sockets open (${mode})`, function () {
      const child = spawnSync(process.execPath, nodeArgs(path.join(__dirname, 'fixtures', 'exit-with-open-sockets.js'), mode),
        { encoding: 'utf8', timeout: 10000 });
      assert.strictEqual(child.signal, null, `no crash: ${child.stderr}`);
      assert.strictEqual(child.status, 0, child.stderr);
    });
  }
});
