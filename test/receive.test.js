// What arrives, and what rinfo says about it.
const { spawnSync } = require('child_process');
const { once } = require('events');
const path = require('path');
const sendmsg = require('..');
const { assert, platform, socketsClosedAfterEachTest, nextMessage, bound, sendAsync, nodeArgs } = require('./helpers');

describe('receive', function () {
  const open = socketsClosedAfterEachTest();

  it('reports the local address, destination and interface of an IPv4 datagram', async function () {
    const server = open('udp4');
    const port = await bound(server, 0, '0.0.0.0');
    const client = open('udp4');
    await bound(client, 0, '127.0.0.1');
    client.send('hello', port, '127.0.0.5');
    const [msg, rinfo] = await nextMessage(server);
    assert.strictEqual(msg.toString(), 'hello');
    assert.strictEqual(rinfo.address, '127.0.0.1');
    assert.strictEqual(rinfo.family, 'IPv4');
    assert.strictEqual(rinfo.port, client.address().port);
    assert.strictEqual(rinfo.size, 5);
    assert.strictEqual(rinfo.localAddress, '127.0.0.5');
    assert.strictEqual(rinfo.destinationAddress, '127.0.0.5');
    assert.ok(Number.isInteger(rinfo.interfaceIndex) && rinfo.interfaceIndex > 0, 'an interface index');
    assert.strictEqual(typeof rinfo.interfaceName, 'string');
    assert.strictEqual(rinfo.truncated, false);
  });

  it('reports IPv6 packet info on ::1', async function () {
    const server = open('udp6');
    const port = await bound(server, 0, '::');
    const client = open('udp6');
    client.send('six', port, '::1');
    const [msg, rinfo] = await nextMessage(server);
    assert.strictEqual(msg.toString(), 'six');
    assert.strictEqual(rinfo.address, '::1');
    assert.strictEqual(rinfo.family, 'IPv6');
    assert.strictEqual(rinfo.localAddress, '::1');
    assert.strictEqual(rinfo.destinationAddress, '::1');
    assert.ok(rinfo.interfaceIndex > 0);
  });

  it('a broadcast arrives with the broadcast destination and a unicast reply-from address', async function () {
    const server = open('udp4');
    const port = await bound(server, 0, '0.0.0.0');
    const client = open('udp4');
    await bound(client, 0, '127.0.0.1');
    client.setBroadcast(true);
    await sendAsync(client, 'to everyone', port, '127.255.255.255');
    const [, rinfo] = await nextMessage(server);
    assert.strictEqual(rinfo.destinationAddress, '127.255.255.255');
    assert.strictEqual(rinfo.localAddress, '127.0.0.1', 'a unicast address to reply from');
  });

  it('a dual-stack socket reports IPv4 peers as plain IPv4 and can reply to them', async function () {
    const server = open({ type: 'udp6', ipv6Only: false });
    const port = await bound(server, 0, '::');
    const client = open('udp4');
    await bound(client, 0, '127.0.0.1');
    client.send('mapped?', port, '127.0.0.7');
    const [, rinfo] = await nextMessage(server);
    assert.strictEqual(rinfo.address, '127.0.0.1');
    assert.strictEqual(rinfo.family, 'IPv4');
    assert.strictEqual(rinfo.localAddress, '127.0.0.7');
    assert.strictEqual(rinfo.destinationAddress, '127.0.0.7');
    // And the same socket still takes IPv6.
    const client6 = open('udp6');
    client6.send('native', port, '::1');
    const [, rinfo6] = await nextMessage(server);
    assert.strictEqual(rinfo6.family, 'IPv6');
    assert.strictEqual(rinfo6.localAddress, '::1');
    // A reply to the IPv4 peer, in plain or v4-mapped form, reaches it.
    server.reply(rinfo, 'answer');
    const [answer] = await nextMessage(client);
    assert.strictEqual(answer.toString(), 'answer');
    server.send('mapped form', { port: rinfo.port, address: '::ffff:127.0.0.1', localAddress: '::ffff:127.0.0.7' });
    const [mapped] = await nextMessage(client);
    assert.strictEqual(mapped.toString(), 'mapped form');
  });

  it('gathers a list of buffers and strings into one datagram', async function () {
    const server = open('udp4');
    const port = await bound(server, 0, '127.0.0.1');
    const client = open('udp4');
    const bytes = await sendAsync(client, ['ab', Buffer.from('cd'), new Uint8Array([101, 102]),
      new DataView(new Uint8Array([103]).buffer)], port, '127.0.0.1');
    assert.strictEqual(bytes, 7);
    const [msg, rinfo] = await nextMessage(server);
    assert.strictEqual(msg.toString(), 'abcdefg');
    assert.strictEqual(rinfo.size, 7);
  });

  it('cuts a datagram longer than maxMessageSize and says so', async function () {
    const server = open({ type: 'udp4', maxMessageSize: 100 });
    const port = await bound(server, 0, '127.0.0.1');
    const client = open('udp4');
    client.send(Buffer.alloc(300, 7), port, '127.0.0.1');
    const [msg, rinfo] = await nextMessage(server);
    assert.strictEqual(msg.length, 100);
    assert.strictEqual(rinfo.size, 100);
    assert.strictEqual(rinfo.truncated, true);
    // The next, shorter one is whole: the socket goes on.
    client.send(Buffer.alloc(50, 1), port, '127.0.0.1');
    const [next, nextInfo] = await nextMessage(server);
    assert.strictEqual(next.length, 50);
    assert.strictEqual(nextInfo.truncated, false);
  });

  it('cuts a datagram longer than a maxMessageSize of several KiB, keeping its first bytes', async function () {
    const server = open({ type: 'udp4', maxMessageSize: 5000 });
    const port = await bound(server, 0, '127.0.0.1');
    const client = open('udp4');
    const sent = Buffer.from(Array.from({ length: 6000 }, (_, i) => i % 251));
    client.send(sent, port, '127.0.0.1');
    const [msg, rinfo] = await nextMessage(server);
    assert.ok(msg.equals(sent.subarray(0, 5000)));
    assert.strictEqual(rinfo.truncated, true);
    client.send(sent.subarray(0, 4999), port, '127.0.0.1');
    const [whole, wholeInfo] = await nextMessage(server);
    assert.ok(whole.equals(sent.subarray(0, 4999)));
    assert.strictEqual(wholeInfo.truncated, false);
  });

  it('by default receives the largest UDP datagram whole', async function () {
    const server = open('udp4');
    const port = await bound(server, 0, '127.0.0.1');
    const client = open('udp4');
    const big = Buffer.alloc(65507, 3);
    big[65506] = 9;
    await sendAsync(client, big, port, '127.0.0.1');
    const [msg, rinfo] = await nextMessage(server);
    assert.strictEqual(msg.length, 65507);
    assert.strictEqual(msg[65506], 9);
    assert.strictEqual(rinfo.truncated, false);
  });

  it('keeps receiving after a send to a closed port draws an ICMP port unreachable', async function () {
    // Windows reports that ICMP as WSAECONNRESET on a later receive unless SIO_UDP_CONNRESET
    // is off; the backend turns it off and skips the error.
    platform.wineDiffers('connectionReset');
    const server = open('udp4');
    const port = await bound(server, 0, '127.0.0.1');
    const closed = open('udp4');
    const closedPort = await bound(closed, 0, '127.0.0.1');
    await new Promise((resolve) => closed.close(resolve));
    const errors = [];
    server.on('error', (error) => errors.push(error));
    for (let i = 0; i < 3; i++) await sendAsync(server, 'into the void', closedPort, '127.0.0.1');
    const client = open('udp4');
    client.send('still listening?', port, '127.0.0.1');
    const [msg] = await nextMessage(server);
    assert.strictEqual(msg.toString(), 'still listening?');
    assert.deepStrictEqual(errors, []);
  });

  it('delivers a burst of datagrams in order, each with its own buffer', async function () {
    const server = open({ type: 'udp4', recvBufferSize: 1 << 20 });
    const port = await bound(server, 0, '127.0.0.1');
    const client = open('udp4');
    const count = 500;
    const received = [];
    server.on('message', (msg) => received.push(msg));
    for (let i = 0; i < count; i++) client.send(String(i), port, '127.0.0.1');
    while (received.length < count) await once(server, 'message');
    assert.deepStrictEqual(received.map((m) => Number(m.toString())), [...Array(count).keys()]);
    // Each message owns its bytes: nothing a later datagram overwrites.
    assert.ok(received.every((m, i) => m.buffer !== received[(i + 1) % count].buffer || m.byteOffset !== received[(i + 1) % count].byteOffset));
  });

  it('gives every message a Buffer of its own bytes that pins at most 8 KiB, or its own size', async function () {
    // The addon packs small datagrams into shared 8 KiB arenas, as Buffer.allocUnsafe's pool
    // does, and gives one of 4 KiB or more an arena of its own: check both, across arena
    // boundaries, after later datagrams have arrived.
    const server = open({ type: 'udp4', recvBufferSize: 4 << 20 });
    const port = await bound(server, 0, '127.0.0.1');
    const client = open('udp4');
    const sizes = [0, 1, 7, 64, 511, 1400, 4095, 4096, 9000, 3000, 2000, 65507];
    const count = 240;
    const payload = (i) => Buffer.alloc(sizes[i % sizes.length], (i * 37) % 251);
    const received = [];
    server.on('message', (msg) => received.push(msg));
    // A round of sizes at a time, which fits the socket's buffer, so that none is dropped
    // (Wine is slow to drain): it arrives in a few batches, each with several arenas.
    for (let i = 0; i < count; i += sizes.length) {
      for (let j = i; j < i + sizes.length; j++) await sendAsync(client, payload(j), port, '127.0.0.1');
      while (received.length < i + sizes.length) await once(server, 'message');
    }
    received.forEach((msg, i) => {
      assert.ok(msg.equals(payload(i)), `message ${i} (${msg.length} bytes) keeps its bytes`);
      assert.strictEqual(Object.getPrototypeOf(msg), Buffer.prototype);
      if (msg.length >= 4096) assert.strictEqual(msg.buffer.byteLength, msg.length);
      else assert.ok(msg.buffer.byteLength <= 8192, `a ${msg.length}-byte message pins ${msg.buffer.byteLength}`);
    });
    // Small ones share arenas: not one allocation per datagram.
    const arenas = new Set(received.filter((m) => m.length < 4096).map((m) => m.buffer));
    assert.ok(arenas.size < received.filter((m) => m.length < 4096).length / 2, `${arenas.size} arenas`);
  });

  it('gives Buffers on a runtime whose Buffer has no Symbol.species class (the fallback)', function () {
    const child = spawnSync(process.execPath, nodeArgs(path.join(__dirname, 'fixtures', 'no-buffer-species.js')),
      { encoding: 'utf8', timeout: 15000 });
    assert.strictEqual(child.status, 0, child.stderr);
    assert.deepStrictEqual(JSON.parse(child.stdout), { buffers: true, texts: ['first', 'second'] });
  });
});
