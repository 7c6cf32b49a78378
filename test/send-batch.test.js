// The Linux backend's send_batch beyond the common case: datagrams whose gather lists fill its
// iovec pool before its message array, and sendmmsg refused while single sends work (a seccomp
// filter, an emulator without the system call), where every datagram takes the single-send
// path, which must neither lose one nor need more stack than a worker thread has.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { binding } = require('../dist/native');
const { assert, platform, bound, nextMessage, socketsClosedAfterEachTest } = require('./helpers');

describe('sendBatch: long gather lists, and sendmmsg refused', function () {
  this.timeout(30000);
  const open = socketsClosedAfterEachTest();

  it('sends a full batch of datagrams with the longest gather lists, whole and in order', async function () {
    const server = open({ type: 'udp4', recvBufferSize: 1 << 20 });
    const port = await bound(server, 0, '127.0.0.1');
    const client = open('udp4');
    const count = binding.sendBatchSize;
    // One byte a buffer: datagram i is its number in decimal, padded to the most buffers.
    const texts = Array.from({ length: count }, (_, i) => String(i).padStart(binding.maxGatherBuffers, '.'));
    const messages = texts.map((text) => ({ msg: [...text].map((c) => Buffer.from(c)), port, address: '127.0.0.1' }));
    const received = [];
    server.on('message', (msg) => received.push(msg.toString()));
    const [error, results] = await new Promise((resolve) => client.sendBatch(messages, (...args) => resolve(args)));
    assert.strictEqual(error, null);
    assert.deepStrictEqual(results, texts.map((text) => text.length));
    while (received.length < count) await nextMessage(server);
    assert.deepStrictEqual(received, texts);
  });

  it('sends a full batch from a worker thread, one by one, in order, when sendmmsg is refused', function () {
    if (binding.backend !== 'linux') {
      return platform.skip(this, 'sendmmsg exists only in the Linux backend', { allowedInCI: true });
    }
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sendmsg-refuse-'));
    try {
      const shim = path.join(work, 'refuse-sendmmsg.so');
      // $CC as make reads it (it may hold arguments): the library must match node's
      // architecture, which under emulation is not the host's (scripts/test-arm64.sh sets it).
      platform.emulationDiffers('preloadArchitecture');
      const compile = spawnSync('sh', ['-c', '${CC:-cc} -shared -fPIC -O1 -o "$0" "$1"', shim,
        path.join(__dirname, 'fixtures', 'refuse-sendmmsg.c')], { encoding: 'utf8' });
      if (compile.error || compile.status !== 0) {
        return platform.skip(this, `no C compiler to build the sendmmsg shim: ${compile.error || compile.stderr}`);
      }
      // After any preload already there (AddressSanitizer's runtime must stay first).
      const preload = [process.env.LD_PRELOAD, shim].filter(Boolean).join(' ');
      const child = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'sendmmsg-refused.js')],
        { encoding: 'utf8', timeout: 20000, env: { ...process.env, LD_PRELOAD: preload } });
      assert.strictEqual(child.signal, null, `the child died of ${child.signal}:\n${child.stderr}`);
      assert.strictEqual(child.status, 0, child.stderr);
      assert.match(child.stderr, /refuse-sendmmsg: refused/, 'the shim was not called: the test would prove nothing');
      const { results, received } = JSON.parse(child.stdout);
      const expected = Array.from({ length: binding.sendBatchSize }, (_, i) => `datagram ${i}`);
      assert.deepStrictEqual(results, expected.map((text) => text.length));
      assert.deepStrictEqual(received, expected);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
