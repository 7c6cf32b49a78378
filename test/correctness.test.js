// Regressions of the review "Safety and correctness": each case failed before its fix. Where
// dgram has the behaviour, the same assertion runs against dgram beside ours.
const { AsyncLocalStorage } = require('async_hooks');
const { spawnSync } = require('child_process');
const dgram = require('dgram');
const { once } = require('events');
const path = require('path');
const { MessageChannel } = require('worker_threads');
const sendmsg = require('..');
const { binding } = require('../dist/native');
const { parseIp } = require('../dist/address');
const {
  assert, platform, socketsClosedAfterEachTest, nextMessage, bound, sendAsync, nodeArgs, inNetworkNamespace,
} = require('./helpers');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a fixture as a plain child process and returns what it printed as JSON. */
function runFixture(name, ...args) {
  const child = spawnSync(process.execPath, nodeArgs(path.join(__dirname, 'fixtures', `${name}.js`),
    ...args.map((arg) => JSON.stringify(arg))), { encoding: 'utf8', timeout: 20000 });
  assert.strictEqual(child.status, 0, `${name} exited with ${child.status}: ${child.stderr}`);
  return JSON.parse(child.stdout);
}

describe('safety and correctness (review regressions)', function () {
  const open = socketsClosedAfterEachTest();

  async function serverAndClient(type = 'udp4') {
    const server = open(type);
    const port = await bound(server, 0, type === 'udp4' ? '0.0.0.0' : '::');
    const client = open(type);
    await bound(client, 0, type === 'udp4' ? '127.0.0.1' : '::1');
    return { server, port, client };
  }

  describe('memory handed to JavaScript', function () {
    it('a received message cannot be transferred away from under the addon (structuredClone, postMessage)', async function () {
      const { server, port, client } = await serverAndClient();
      client.send('first', port, '127.0.0.1');
      const [first] = await nextMessage(server);
      let moved;
      try {
        moved = structuredClone(first.buffer, { transfer: [first.buffer] });
      } catch (error) {
        assert.strictEqual(error.name, 'DataCloneError', 'Node 21+: an untransferable buffer refuses');
      }
      if (moved !== undefined) assert.notStrictEqual(moved, first.buffer, 'Node 20: a copy, not a move');
      const { port1, port2 } = new MessageChannel();
      try {
        port1.postMessage(first, [first.buffer]);
      } catch (error) {
        assert.strictEqual(error.name, 'DataCloneError');
      }
      port1.close();
      port2.close();
      assert.strictEqual(first.toString(), 'first', 'the message keeps its bytes');
      assert.ok(first.buffer.byteLength > 0, 'the arena is not detached');
      for (let i = 0; i < 5; i++) {
        client.send(`next ${i}`, port, '127.0.0.1');
        const [msg] = await nextMessage(server);
        assert.strictEqual(msg.toString(), `next ${i}`);
      }
      assert.strictEqual(first.toString(), 'first', 'later datagrams land elsewhere');
    });

    it('an arena detached by ArrayBuffer.prototype.transfer is never written again', async function () {
      const { server, port, client } = await serverAndClient();
      client.send('first', port, '127.0.0.1');
      const [first] = await nextMessage(server);
      if (typeof first.buffer.transfer !== 'function') {
        // Node 20 has no transfer(); the napi_is_detached_arraybuffer check still runs per batch.
        return platform.skip(this, `ArrayBuffer.prototype.transfer is not in Node ${process.version}`, { allowedInCI: true });
      }
      let moved;
      try {
        moved = first.buffer.transfer();
      } catch {
        return undefined; // refused: nothing was detached
      }
      const before = Buffer.from(moved).toString('latin1');
      client.send('second', port, '127.0.0.1');
      const [second] = await nextMessage(server);
      assert.strictEqual(second.toString(), 'second');
      assert.strictEqual(Buffer.from(moved).toString('latin1'), before, 'the new owner\'s memory is untouched');
      return undefined;
    });
  });

  describe('each send\'s options are its own', function () {
    it('a send without localAddress after one with it leaves from the kernel\'s choice, not the last source', async function () {
      if (platform.wineDiffers('sourceSelection')) return;
      const { server, port } = await serverAndClient();
      const client = open('udp4');
      await bound(client, 0, '0.0.0.0');
      await sendAsync(client, 'from .9', { port, address: '127.0.0.1', localAddress: '127.0.0.9' });
      assert.strictEqual((await nextMessage(server))[1].address, '127.0.0.9');
      await sendAsync(client, 'plain', { port, address: '127.0.0.1' });
      assert.strictEqual((await nextMessage(server))[1].address, '127.0.0.1');
      await sendAsync(client, 'interface only', { port, address: '127.0.0.1', interfaceIndex: 1 });
      assert.strictEqual((await nextMessage(server))[1].address, '127.0.0.1');
    });

    it('IPv6: { interfaceIndex } alone after a send with a localAddress is sent', async function () {
      const { server, port } = await serverAndClient('udp6');
      const client = open('udp6');
      await bound(client, 0, '::');
      const lo = (await (async () => { client.send('probe', port, '::1'); return (await nextMessage(server))[1].interfaceIndex; })());
      await sendAsync(client, 'with source', { port, address: '::1', localAddress: '::1' });
      await nextMessage(server);
      await sendAsync(client, 'interface only', { port, address: '::1', interfaceIndex: lo });
      assert.strictEqual((await nextMessage(server))[0].toString(), 'interface only');
    });
  });

  describe('one parser decides what an address is', function () {
    it('reads zones by index and by name, and v4-mapped literals in every spelling', function () {
      assert.deepStrictEqual({ ...parseIp('fe80::10%2') }, { family: 6, w0: parseIp('fe80::10').w0, w1: 0, w2: 0, w3: parseIp('fe80::10').w3, scope: 2, zoneName: undefined });
      assert.strictEqual(parseIp('fe80::10%eth7').zoneName, 'eth7');
      for (const text of ['::ffff:7f00:1', '::ffff:127.0.0.1', '0000:0000:0000:0000:0000:ffff:127.0.0.1', '0:0:0:0:0:FFFF:7F00:0001']) {
        assert.deepStrictEqual({ ...parseIp(text) }, { ...parseIp('127.0.0.1') }, text);
      }
    });

    it('refuses what is not one whole literal, the same way at every entry point', async function () {
      const { port, client } = await serverAndClient();
      const bad = ['127.0.0.1%lo', '0000:0000:0000:0000:0000:ffff:127.0.0.100%lo', '::1%', '1.2.3', ' 127.0.0.1',
        '::ffff:127.0.0.1%1', '127.0.0.1 ', 'fe80::1%99999999999'];
      for (const address of bad) {
        assert.throws(() => client.send('x', port, address), { code: 'ERR_INVALID_IP_ADDRESS' }, address);
        assert.throws(() => client.send('x', { port, address: '127.0.0.1', localAddress: address }),
          { code: 'ERR_INVALID_IP_ADDRESS' }, `localAddress ${address}`);
        assert.throws(() => client.sendBatch([{ msg: 'x', port, address }]), { code: 'ERR_INVALID_IP_ADDRESS' }, `batch ${address}`);
        assert.throws(() => open('udp4').bind(0, address), { code: 'ERR_INVALID_IP_ADDRESS' }, `bind ${address}`);
      }
    });

    it('a localAddress whose zone names no interface is ERR_INVALID_ARG_VALUE, as a destination\'s, also before a lookup', async function () {
      const { port } = await serverAndClient('udp6');
      const client = open({ type: 'udp6', lookup: (hostname, family, callback) => process.nextTick(callback, null, '::1', 6) });
      for (const address of ['::1', 'localhost']) {
        assert.throws(() => client.send('x', { port, address, localAddress: '::1%nosuch0' }),
          { code: 'ERR_INVALID_ARG_VALUE', message: /localAddress.*nosuch0/ }, address);
      }
      assert.throws(() => client.send('x', { port, address: '::1%nosuch0' }), { code: 'ERR_INVALID_ARG_VALUE' }, 'the destination\'s');
    });

    it('a 45-character v4-mapped literal goes to the host it names, whole', async function () {
      const { server, port } = await serverAndClient('udp6');
      const client = open('udp6');
      await sendAsync(client, 'mapped', port, '0000:0000:0000:0000:0000:ffff:127.0.0.100');
      const [, rinfo] = await nextMessage(server);
      assert.strictEqual(rinfo.localAddress, '127.0.0.100');
    });

    it('::ffff:7f00:1 is 127.0.0.1 on a udp4 socket, as on a udp6 one', async function () {
      const { server, port, client } = await serverAndClient();
      await sendAsync(client, 'hex mapped', port, '::ffff:7f00:1');
      assert.strictEqual((await nextMessage(server))[1].localAddress, '127.0.0.1');
    });

    it('inside a listener, a bad address throws at the call, and the batch\'s other sends all call back', async function () {
      const { server, port, client } = await serverAndClient();
      const results = [];
      const thrown = [];
      server.on('message', (msg, rinfo) => {
        server.reply(rinfo, 'one', (error) => results.push(error ? error.code : 'one'));
        try {
          server.send('bad', rinfo.port, '127.0.0.1%lo', () => results.push('bad called back'));
        } catch (error) {
          thrown.push(error.code);
        }
        server.reply(rinfo, 'two', (error) => results.push(error ? error.code : 'two'));
      });
      const answers = [];
      client.on('message', (msg) => answers.push(msg.toString()));
      client.send('query', port, '127.0.0.1');
      while (answers.length < 2) await nextMessage(client);
      await sleep(20);
      assert.deepStrictEqual(answers, ['one', 'two']);
      assert.deepStrictEqual(thrown, ['ERR_INVALID_IP_ADDRESS']);
      assert.deepStrictEqual(results, ['one', 'two']);
    });

    it('sendBatch checks every entry before it sends any (a bad 66th of 70)', async function () {
      const { server, port, client } = await serverAndClient();
      let received = 0;
      server.on('message', () => received++);
      const messages = Array.from({ length: 70 }, (_, i) => ({ msg: `${i}`, port, address: i === 65 ? '127.0.0.1%lo' : '127.0.0.1' }));
      let called = 0;
      assert.throws(() => client.sendBatch(messages, () => called++), { code: 'ERR_INVALID_IP_ADDRESS' });
      await sleep(50);
      assert.strictEqual(received, 0, 'nothing was sent');
      assert.strictEqual(called, 0, 'a call that threw never calls back');
    });
  });

  describe('peers that cannot be answered', function () {
    it('reply() refuses a sender with no address (a DHCP DISCOVER from 0.0.0.0:68) and port 0', async function () {
      const { client } = await serverAndClient();
      const rinfo = { address: '0.0.0.0', family: 'IPv4', port: 68, size: 1, localAddress: '127.0.0.1' };
      assert.throws(() => client.reply(rinfo, 'offer'), { code: 'ERR_INVALID_ARG_VALUE', message: /no peer to answer/ });
      assert.throws(() => client.reply({ ...rinfo, address: '::', family: 'IPv6' }, 'x'), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => client.reply({ ...rinfo, address: '127.0.0.1', port: 0 }, 'x'), { code: 'ERR_INVALID_ARG_VALUE' });
    });

    it('reply() refuses an rinfo that names no peer ({ port } alone)', async function () {
      const { client } = await serverAndClient();
      assert.throws(() => client.reply({ port: 5353 }, 'x'), { code: 'ERR_INVALID_ARG_TYPE', message: /rinfo\.address/ });
    });
  });

  describe('what a message is: one check, before anything is sent', function () {
    it('refuses a Proxy of a Uint8Array, a look-alike object and a gather list with a hole', async function () {
      const { port, client } = await serverAndClient();
      const proxy = new Proxy(Buffer.from('x'), {});
      const lookAlike = Object.create(Uint8Array.prototype);
      const holed = [Buffer.from('a'), , Buffer.from('c')]; // eslint-disable-line no-sparse-arrays
      for (const msg of [proxy, lookAlike, holed]) {
        assert.throws(() => client.send(msg, port, '127.0.0.1'), { code: 'ERR_INVALID_ARG_TYPE' });
        assert.throws(() => dgram.createSocket('udp4').send(msg, port, '127.0.0.1'), (error) => error instanceof TypeError,
          'dgram refuses it too');
      }
    });

    it('sends an empty datagram for a detached view of any kind, as dgram does', async function () {
      for (const make of [() => new Uint16Array(4), () => new DataView(new ArrayBuffer(8)), () => new Uint8Array(4)]) {
        for (const udp of [sendmsg, dgram]) {
          const server = udp.createSocket('udp4');
          server.bind(0, '127.0.0.1');
          await once(server, 'listening');
          const client = udp.createSocket('udp4');
          client.bind(0);
          await once(client, 'listening');
          const view = make();
          structuredClone(view.buffer, { transfer: [view.buffer] });
          await new Promise((resolve, reject) => client.send(view, server.address().port, '127.0.0.1',
            (error) => (error ? reject(error) : resolve())));
          const [msg] = await nextMessage(server);
          assert.strictEqual(msg.length, 0, `${udp === dgram ? 'dgram' : 'sendmsg'}: ${view.constructor.name}`);
          server.close();
          client.close();
        }
      }
    });

    it('a view whose own byteLength, byteOffset or buffer lies sends the bytes it really has; a revoked Proxy is ERR_INVALID_ARG_TYPE', async function () {
      // (dgram throws a bare RangeError from its Buffer.from for the first two.)
      const { server, port, client } = await serverAndClient();
      const bytes = () => new Uint16Array([0x0101, 0x0202, 0x0303, 0x0404]);
      const lies = [
        Object.defineProperty(bytes(), 'byteLength', { value: 2 ** 31 }),
        Object.defineProperty(bytes(), 'byteOffset', { value: 3 }),
        Object.defineProperty(bytes(), 'buffer', { value: new ArrayBuffer(1) }),
      ];
      for (const view of lies) {
        client.send(view, port, '127.0.0.1');
        const [msg] = await nextMessage(server);
        assert.deepStrictEqual([...msg], [1, 1, 2, 2, 3, 3, 4, 4]);
      }
      const { proxy, revoke } = Proxy.revocable(new Uint8Array(4), {});
      revoke();
      assert.throws(() => client.send(proxy, port, '127.0.0.1'), { code: 'ERR_INVALID_ARG_TYPE', message: /"buffer"/ });
      assert.throws(() => client.sendBatch(proxy), { code: 'ERR_INVALID_ARG_TYPE', message: /"messages"/ });
    });

    it('refuses a sparse sendBatch array with ERR_INVALID_ARG_TYPE, outside a listener and inside one', async function () {
      const { server, port, client } = await serverAndClient();
      const sparse = [{ msg: 'a', port, address: '127.0.0.1' }, , { msg: 'c', port, address: '127.0.0.1' }]; // eslint-disable-line no-sparse-arrays
      assert.throws(() => client.sendBatch(sparse), { code: 'ERR_INVALID_ARG_TYPE', message: /messages\[1\]/ });
      let inside;
      server.once('message', () => {
        try {
          server.sendBatch(sparse, () => { inside = 'called back'; });
        } catch (error) {
          inside = error.code;
        }
      });
      client.send('go', port, '127.0.0.1');
      await nextMessage(server);
      await sleep(20);
      assert.strictEqual(inside, 'ERR_INVALID_ARG_TYPE');
    });
  });

  describe('every callback exactly once, no event after close', function () {
    it('a throwing listener does not lose the rest of its batch (with an uncaughtException handler), as with dgram', function () {
      for (const moduleName of ['sendmsg', 'dgram']) {
        const result = runFixture('throwing-listener', moduleName);
        assert.deepStrictEqual(result.seen, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], moduleName);
        assert.strictEqual(result.uncaught, 10, `${moduleName}: every throw reported`);
      }
    });

    it('a failed automatic bind fails the send with its error; nothing stays queued', async function () {
      if (platform.underWine) {
        return platform.skip(this, 'the case changes the host with Linux\'s sysctl and ip, which the Wine tier (a Windows process in one prepared namespace) cannot run', { allowedInCI: true });
      }
      const result = await inNetworkNamespace(this, 'correctness', ['implicit-bind-fails']);
      if (!result) return;
      assert.deepStrictEqual(result.results, ['EADDRINUSE bind']);
      assert.deepStrictEqual(result.events, ['error EADDRINUSE bind']);
      assert.strictEqual(result.queued, 0);
    });

    it('close() with queued sends that have no callback emits nothing after "close"', async function () {
      const result = await inNetworkNamespace(this, 'correctness', ['close-without-callbacks']);
      if (!result) return;
      if (!platform.wineDiffers('sendBackpressure')) assert.ok(result.queuedAtClose >= 100);
      assert.deepStrictEqual(result.events, ['close']);
    });

    it('the send queue is bounded: past sendQueueLimit a send fails at once with ENOBUFS', async function () {
      if (platform.wineDiffers('sendBackpressure')) return;
      const result = await inNetworkNamespace(this, 'correctness', ['queue-limit']);
      if (!result) return;
      const refused = result.results.filter((r) => r === 'ENOBUFS send').length;
      assert.strictEqual(refused, 5, 'the five past the bound');
      assert.ok(result.results.filter((r) => r === 'sent').length >= 10, 'the queued ones are sent');
      assert.deepStrictEqual(result.results.slice(-5), Array(5).fill('ENOBUFS send'));
    });

    it('close() while a name is looked up calls back the send that waits for it, before "close" (dgram drops it)', async function () {
      const socket = open({ type: 'udp4', lookup: () => {} }); // a lookup that never answers
      const events = [];
      socket.send('named', 9, 'localhost', (error) => events.push(`named ${error && error.code}`));
      socket.send('held', 9, '127.0.0.1', (error) => events.push(`held ${error && error.code}`));
      socket.close(() => events.push('close'));
      await sleep(20);
      assert.deepStrictEqual(events, ['named ERR_SOCKET_CLOSED', 'held ERR_SOCKET_CLOSED', 'close']);
    });

    it('close() while an empty sendBatch() waits behind a lookup still calls it back (no datagram failed)', async function () {
      const socket = open({ type: 'udp4', lookup: () => {} }); // a lookup that never answers
      const events = [];
      socket.send('named', 9, 'localhost', (error) => events.push(`send ${error && error.code}`));
      socket.sendBatch([], (error, results) => events.push(`batch ${error && error.code} ${results.length}`));
      socket.close(() => events.push('close'));
      await sleep(20);
      assert.deepStrictEqual(events, ['send ERR_SOCKET_CLOSED', 'batch null 0', 'close']);
    });

    it('a connect() callback that closes the socket: no "connect" event follows', async function () {
      const socket = open('udp4');
      const events = [];
      socket.on('connect', () => events.push('connect'));
      socket.on('close', () => events.push('close'));
      socket.connect(9, '127.0.0.1', () => {
        events.push('callback');
        socket.close();
      });
      await once(socket, 'close');
      assert.deepStrictEqual(events, ['callback', 'close']);
    });

    it('bind() to a name whose lookup answers no address for the socket emits "error", and what waits behind it goes on', async function () {
      for (const [answer, code] of [['not an address', 'ERR_INVALID_IP_ADDRESS'], ['::1', 'ERR_INVALID_ARG_VALUE']]) {
        for (const when of ['at once', 'next tick']) {
          const lookup = (hostname, family, callback) => (when === 'at once' ? callback(null, answer, family) : process.nextTick(callback, null, answer, family));
          const socket = open({ type: 'udp4', lookup });
          const events = [];
          socket.on('error', (error) => events.push(`error ${error.code}`));
          socket.bind(0, 'localhost');
          socket.send('x', 9, '127.0.0.1', (error) => events.push(`send ${error ? error.code : 'sent'}`));
          await sleep(20);
          assert.deepStrictEqual(events, [`error ${code}`, 'send sent'], `${answer}, ${when}`);
        }
      }
    });

    it('sendBatch() calls back with the error of its first failed datagram in order, not the first to fail', async function () {
      if (platform.wineDiffers('sendBackpressure')) return;
      const result = await inNetworkNamespace(this, 'correctness', ['batch-first-error']);
      if (!result) return;
      assert.deepStrictEqual(result, { error: 'ERR_SOCKET_CLOSED', results: ['ERR_SOCKET_CLOSED', 'ENOBUFS', 'ENOBUFS'] });
    });

    it('a failed bind(port, callback) leaves no listener; a later bind calls only its own', async function () {
      const taken = open('udp4');
      const port = await bound(taken, 0, '127.0.0.1');
      const socket = open('udp4');
      const calls = [];
      const errors = [];
      socket.on('error', (error) => errors.push(error.code));
      for (let i = 0; i < 12; i++) {
        socket.bind(port, '127.0.0.1', () => calls.push(i));
        await sleep(1);
      }
      assert.strictEqual(errors.length, 12);
      assert.strictEqual(socket.listenerCount('listening'), 0);
      socket.bind(0, '127.0.0.1', () => calls.push('ok'));
      await once(socket, 'listening');
      assert.deepStrictEqual(calls, ['ok']);
    });

    it('a poll error says the socket stopped, closes it, and nothing follows "close"', async function () {
      const socket = open('udp4');
      await bound(socket, 0, '127.0.0.1');
      const events = [];
      socket.on('error', (error) => events.push(`error ${error.code} ${error.syscall}`));
      socket.on('close', () => events.push('close'));
      // What the addon calls when libuv reports a poll error (it then stops polling for good).
      socket.handle.onerror({ code: 'EBADF', errno: -9, osErrno: -9 }, 'poll');
      await sleep(10);
      assert.deepStrictEqual(events, ['error EBADF poll', 'close']);
      assert.throws(() => socket.send('x', 9), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
    });

    it('keeps AsyncLocalStorage in "message" listeners and send callbacks, as dgram does', async function () {
      for (const udp of [sendmsg, dgram]) {
        const storage = new AsyncLocalStorage();
        const seen = {};
        const server = storage.run('server', () => udp.createSocket('udp4', (msg) => { seen.listener = storage.getStore(); }));
        server.bind(0, '127.0.0.1');
        await once(server, 'listening');
        const client = udp.createSocket('udp4');
        await storage.run('sender', () => new Promise((resolve) => client.send('x', server.address().port, '127.0.0.1', () => {
          seen.callback = storage.getStore();
          resolve();
        })));
        await nextMessage(server);
        await sleep(5);
        assert.deepStrictEqual(seen, { listener: 'server', callback: 'sender' }, udp === dgram ? 'dgram' : 'sendmsg');
        server.close();
        client.close();
      }
    });

    it('a named zone is looked up at each send: after a rename, the old name fails and the new one works', async function () {
      if (platform.underWine) {
        return platform.skip(this, 'the case changes the host with Linux\'s sysctl and ip, which the Wine tier (a Windows process in one prepared namespace) cannot run', { allowedInCI: true });
      }
      const result = await inNetworkNamespace(this, 'correctness', ['renamed-interface']);
      if (!result) return;
      assert.deepStrictEqual(result, { before: 'sent', oldName: 'throws ERR_INVALID_ARG_VALUE', newName: 'sent' });
    });
  });

  it('the test-only exports survive hostile input (UBSan: no memcpy from null, no INT32_MIN negation)', function () {
    assert.deepStrictEqual(binding.decodeReceiveControl(new Uint8Array(0)), {});
    const detached = new Uint8Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    assert.deepStrictEqual(binding.decodeReceiveControl(detached), {});
    assert.strictEqual(typeof binding.describeError(-2147483648).code, 'string');
  });
});
