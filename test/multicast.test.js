// Multicast, connected sockets and reusePort: dgram's API on ours, judged on the wire. The
// network is test/wire.test.js's (test/fixtures/wire-network.js): a server namespace with two
// links, A and B, to two client namespaces, with tcpdump on each client's link. The clients are
// dgram sockets; where dgram can be the server too, it runs the same case beside ours.
const dgram = require('dgram');
const { once } = require('events');
const path = require('path');
const { Worker } = require('worker_threads');
const sendmsg = require('..');
const { assert, platform, socketsClosedAfterEachTest, bound, nextMessage, inNetworkNamespace } = require('./helpers');
const { LINKS, useNetwork } = require('./fixtures/wire-network');

const ARRIVAL_MS = 1500;
const SETTLE_MS = 150;
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const GROUPS = { udp4: '224.0.0.251', udp6: 'ff02::fb' };
const SSM_GROUP = '232.1.1.1';

describe('multicast on two links (one socket joined on both)', function () {
  beforeEach(function () {
    if (platform.emulationDiffers('multicastOptions')) {
      platform.skip(this, 'the emulator cannot join a group (test/helpers.js, EMULATION_DIFFERENCES.multicastOptions)', { allowedInCI: true });
    }
  });
  const network = useNetwork();
  let serial = 0;
  const port = 5353;

  const serverInterfaceName = (link) => LINKS[link].serverInterface;

  async function open(agentName, args) {
    const name = `${agentName} ${++serial}`;
    const agent = network.agents[agentName];
    const opened = await agent.call('open', { name, port, reuseAddr: true, ...args });
    const call = (op, more) => agent.call(op, { name, ...more });
    return { name, port: opened.port, call, invoke: (method, ...rest) => call('invoke', { method, args: rest }) };
  }

  // A dgram client on link's own namespace, joined to the group there, sending by that link.
  async function client(link, type) {
    const c = await open(link, { impl: 'dgram', type, address: type === 'udp4' ? '0.0.0.0' : '::' });
    const own = type === 'udp4' ? LINKS[link].v4.client : `::%${LINKS[link].clientInterface}`;
    await c.invoke('addMembership', GROUPS[type], own);
    await c.invoke('setMulticastInterface', own);
    c.group = type === 'udp4' ? GROUPS[type] : `${GROUPS[type]}%${LINKS[link].clientInterface}`;
    c.link = link;
    return c;
  }

  // Where the answer to text went: accepted by the client (from which address), and the
  // sources of its copies on the client's link and on the other link.
  async function judge(receiver, text) {
    const answer = `answer to ${text}`;
    const { captures } = network;
    for (const deadline = Date.now() + ARRIVAL_MS;
      captures.A.carrying(answer).length + captures.B.carrying(answer).length === 0 && Date.now() < deadline;) {
      await delay(10);
    }
    await delay(SETTLE_MS);
    const accepted = await receiver.call('received', { contains: answer, timeoutMs: 0 });
    const other = receiver.link === 'A' ? 'B' : 'A';
    return {
      accepted: accepted.map((item) => item.rinfo.address.split('%')[0]),
      onLink: captures[receiver.link].carrying(answer).map((d) => d.source),
      onOtherLink: captures[other].carrying(answer).map((d) => d.source),
    };
  }

  const sourceOn = (link, type) => (type === 'udp4' ? LINKS[link].v4.server : LINKS[link].linkLocal.server);

  for (const type of ['udp4', 'udp6']) {
    it(`${type}: a query from each link arrives with its link and group; the multicast answer leaves by that link only`, async function () {
      const server = await open('server', { impl: 'sendmsg', type, address: type === 'udp4' ? '0.0.0.0' : '::', autoReply: 'multicast-by-index' });
      // Both of our forms, and dgram's: by index, by name, and (udp6) '::%name'.
      await server.invoke('addMembership', GROUPS[type], { interfaceIndex: network.interfaceIndex.A });
      await server.invoke('addMembership', GROUPS[type], type === 'udp4' ? { interfaceName: serverInterfaceName('B') } : `::%${serverInterfaceName('B')}`);
      for (const link of ['A', 'B']) {
        const c = await client(link, type);
        const text = `${link} query #${++serial}#`;
        await c.call('send', { msg: text, options: { port, address: c.group } });
        const [query] = await server.call('received', { contains: text, timeoutMs: ARRIVAL_MS });
        assert.ok(query, `the query from link ${link} arrived`);
        assert.strictEqual(query.rinfo.interfaceIndex, network.interfaceIndex[link]);
        assert.strictEqual(query.rinfo.interfaceName, serverInterfaceName(link));
        assert.strictEqual(query.rinfo.destinationAddress, GROUPS[type], 'a multicast query, told from a unicast one');
        if (type === 'udp4') assert.strictEqual(query.rinfo.localAddress, LINKS[link].v4.server, 'an address of the receiving interface');
        assert.deepStrictEqual(await judge(c, text),
          { accepted: [sourceOn(link, type)], onLink: [sourceOn(link, type)], onOtherLink: [] }, `link ${link}`);
      }
    });
  }

  it('control: a dgram server joined on both links cannot answer each by its own link', async function () {
    const server = await open('server', { impl: 'dgram', type: 'udp4', address: '0.0.0.0', autoReply: 'multicast-default', interfaces: { group: GROUPS.udp4 } });
    await server.invoke('addMembership', GROUPS.udp4, LINKS.A.v4.server);
    await server.invoke('addMembership', GROUPS.udp4, LINKS.B.v4.server);
    const verdicts = [];
    for (const link of ['A', 'B']) {
      const c = await client(link, 'udp4');
      const text = `${link} query #${++serial}#`;
      await c.call('send', { msg: text, options: { port, address: c.group } });
      verdicts.push((await judge(c, text)).onLink.length === 1);
    }
    assert.deepStrictEqual(verdicts.filter(Boolean).length, 1, 'one link got its answer, the other did not');
  });

  for (const impl of ['sendmsg', 'dgram']) {
    it(`${impl}: setMulticastInterface then send, query by query, in one received batch: each answer leaves by the interface set for it`, async function () {
      const interfaces = {
        A: { interface: LINKS.A.v4.server, group: GROUPS.udp4 },
        B: { interface: LINKS.B.v4.server, group: GROUPS.udp4 },
      };
      const server = await open('server', { impl, type: 'udp4', address: '0.0.0.0', autoReply: 'multicast-by-interface', interfaces });
      await server.invoke('addMembership', GROUPS.udp4, LINKS.A.v4.server);
      await server.invoke('addMembership', GROUPS.udp4, LINKS.B.v4.server);
      const clients = { A: await client('A', 'udp4'), B: await client('B', 'udp4') };
      const texts = { A: `A query #${++serial}#`, B: `B query #${++serial}#` };
      // The server's loop is held while both queries arrive, so it reads them as one batch.
      const paused = server.call('pause', { ms: 400 });
      await delay(50);
      await Promise.all(['A', 'B'].map((link) => clients[link].call('send', { msg: texts[link], options: { port, address: GROUPS.udp4 } })));
      await paused;
      for (const link of ['A', 'B']) {
        assert.deepStrictEqual(await judge(clients[link], texts[link]),
          { accepted: [LINKS[link].v4.server], onLink: [LINKS[link].v4.server], onOtherLink: [] }, `${impl}, link ${link}`);
      }
    });
  }

  it('after dropMembership on link A, nothing more arrives from link A; link B still arrives', async function () {
    const server = await open('server', { impl: 'sendmsg', type: 'udp4', address: '0.0.0.0' });
    await server.invoke('addMembership', GROUPS.udp4, LINKS.A.v4.server);
    await server.invoke('addMembership', GROUPS.udp4, { interfaceIndex: network.interfaceIndex.B });
    await server.invoke('dropMembership', GROUPS.udp4, LINKS.A.v4.server);
    const arrived = {};
    for (const link of ['A', 'B']) {
      const c = await client(link, 'udp4');
      const text = `${link} after drop #${++serial}#`;
      await c.call('send', { msg: text, options: { port, address: GROUPS.udp4 } });
      arrived[link] = (await server.call('received', { contains: text, timeoutMs: link === 'B' ? ARRIVAL_MS : 500 })).length;
    }
    assert.deepStrictEqual(arrived, { A: 0, B: 1 });
  });

  it('source-specific membership: only the named source\'s datagrams to the group arrive', async function () {
    const server = await open('server', { impl: 'sendmsg', type: 'udp4', address: '0.0.0.0' });
    // On link A, from client A only; on link B, from an address no one has.
    await server.invoke('addSourceSpecificMembership', LINKS.A.v4.client, SSM_GROUP, LINKS.A.v4.server);
    await server.invoke('addSourceSpecificMembership', '198.51.100.99', SSM_GROUP, { interfaceName: serverInterfaceName('B') });
    const arrived = {};
    for (const link of ['A', 'B']) {
      const c = await client(link, 'udp4');
      const text = `${link} ssm #${++serial}#`;
      await c.call('send', { msg: text, options: { port, address: SSM_GROUP } });
      const [query] = await server.call('received', { contains: text, timeoutMs: link === 'A' ? ARRIVAL_MS : 500 });
      arrived[link] = query ? query.rinfo.destinationAddress : 'nothing';
    }
    assert.deepStrictEqual(arrived, { A: SSM_GROUP, B: 'nothing' });
    await server.invoke('dropSourceSpecificMembership', LINKS.A.v4.client, SSM_GROUP, LINKS.A.v4.server);
  });
});

describe('connected sockets and reusePort (loopback)', function () {
  const open = socketsClosedAfterEachTest();

  for (const [label, udp] of [['sendmsg', sendmsg], ['dgram', dgram]]) {
    it(`${label}: a connected socket gets only its peer's datagrams, and sends to it without a destination`, async function () {
      const server = udp.createSocket('udp4');
      const peer = udp.createSocket('udp4');
      const stranger = udp.createSocket('udp4');
      try {
        await bound(server, 0, '127.0.0.1');
        const peerPort = await bound(peer, 0, '127.0.0.1');
        await bound(stranger, 0, '127.0.0.1');
        const connected = new Promise((resolve, reject) => server.connect(peerPort, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
        await connected;
        assert.deepStrictEqual(server.remoteAddress(), { address: '127.0.0.1', family: 'IPv4', port: peerPort });
        assert.throws(() => server.connect(peerPort, '127.0.0.1'), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
        // (dgram takes send(msg, port, address) on a connected socket as send(msg) and sends to
        // the peer; ours refuses it: README, "Where ours differs from dgram".)
        if (udp === sendmsg) assert.throws(() => server.send('x', peerPort, '127.0.0.1'), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
        const got = [];
        server.on('message', (msg, rinfo) => got.push([msg.toString(), rinfo]));
        stranger.send('from a stranger', server.address().port, '127.0.0.1');
        peer.send('from the peer', server.address().port, '127.0.0.1');
        while (got.length < 1) await nextMessage(server);
        await delay(50);
        assert.deepStrictEqual(got.map(([text]) => text), ['from the peer']);
        if (udp === sendmsg) assert.strictEqual(got[0][1].localAddress, '127.0.0.1', 'packet info on a connected socket');
        await new Promise((resolve, reject) => server.send('to the peer', (error) => (error ? reject(error) : resolve())));
        assert.strictEqual((await nextMessage(peer))[0].toString(), 'to the peer');
        server.disconnect();
        assert.throws(() => server.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
      } finally {
        for (const s of [server, peer, stranger]) s.close();
      }
    });
  }

  it('a connected socket that draws an ICMP port unreachable reports it and keeps receiving', async function () {
    const server = open('udp4');
    await bound(server, 0, '127.0.0.1');
    const closed = dgram.createSocket('udp4');
    await bound(closed, 0, '127.0.0.1');
    const closedPort = closed.address().port;
    closed.close();
    const connectError = await new Promise((resolve) => server.connect(closedPort, '127.0.0.1', resolve));
    assert.strictEqual(connectError, undefined);
    const errors = [];
    server.on('error', (error) => errors.push(`${error.code} ${error.syscall}`));
    server.send('to no one');
    for (let i = 0; i < 50 && errors.length === 0; i++) await delay(10);
    if (!platform.wineDiffers('connectionReset')) assert.deepStrictEqual(errors, ['ECONNREFUSED recvmsg']);
    // The peer's port comes back to life: the connected socket still polls, and receives.
    if (platform.wineDiffers('connectedAfterIcmp')) return;
    const revived = dgram.createSocket('udp4');
    await bound(revived, closedPort, '127.0.0.1');
    revived.send('still receiving', server.address().port, '127.0.0.1');
    const [msg] = await nextMessage(server).catch((error) => { throw new Error(`${error.message}; errors: ${errors}`); });
    assert.strictEqual(msg.toString(), 'still receiving');
    revived.close();
  });

  it('connect() to a host name looks it up with the lookup option; sends to a name keep their order', async function () {
    const server = open('udp4');
    const serverPort = await bound(server, 0, '127.0.0.1');
    const asked = [];
    const lookup = (hostname, family, callback) => {
      asked.push(`${hostname}/${family}`);
      setTimeout(() => callback(null, '127.0.0.1', 4), 20);
    };
    const client = open({ type: 'udp4', lookup });
    const got = [];
    server.on('message', (msg) => got.push(msg.toString()));
    client.send('1 by name', serverPort, 'slow.example');
    client.send('2 by literal', serverPort, '127.0.0.1');
    client.send('3 by name', serverPort, 'localhost');
    while (got.length < 3) await nextMessage(server);
    assert.deepStrictEqual(got, ['1 by name', '2 by literal', '3 by name']);
    assert.deepStrictEqual(asked, ['slow.example/4', 'localhost/4']);
    const failing = open({ type: 'udp4', lookup: (h, f, cb) => cb(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' })) });
    const error = await new Promise((resolve) => failing.send('x', serverPort, 'nowhere.example', resolve));
    assert.strictEqual(error.code, 'ENOTFOUND');
  });

  for (const [label, udp] of [['sendmsg', sendmsg], ['dgram', dgram]]) {
    it(`${label}: connect() while an earlier connect() waits for its lookup throws ERR_SOCKET_DGRAM_IS_CONNECTED`, async function () {
      const lookup = (hostname, family, callback) => setTimeout(() => callback(null, '127.0.0.1', 4), 10);
      const socket = udp.createSocket({ type: 'udp4', lookup });
      try {
        const connected = new Promise((resolve, reject) => socket.connect(9, 'localhost', (error) => (error ? reject(error) : resolve())));
        assert.throws(() => socket.connect(10, '127.0.0.1'), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
        await connected;
        assert.strictEqual(socket.remoteAddress().port, 9, 'connected to the first peer');
      } finally {
        socket.close();
      }
    });
  }

  for (const [label, udp] of [['sendmsg', sendmsg], ['dgram', dgram]]) {
    it(`${label}: until connect() calls back, disconnect() and remoteAddress() throw ERR_SOCKET_DGRAM_NOT_CONNECTED`, async function () {
      const socket = udp.createSocket('udp4');
      try {
        const events = [];
        socket.on('connect', () => events.push('connect'));
        const connected = new Promise((resolve) => socket.connect(9, '127.0.0.1', (error) => {
          events.push(`callback ${error ? error.code : 'ok'}`);
          resolve();
        }));
        assert.throws(() => socket.disconnect(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
        assert.throws(() => socket.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
        await connected;
        assert.strictEqual(socket.remoteAddress().port, 9);
        socket.disconnect();
        await delay(10);
        assert.deepStrictEqual(events.sort(), ['callback ok', 'connect']);
      } finally {
        socket.close();
      }
    });
  }

  it('dgram and ours both send to "localhost" with the default lookup', async function () {
    for (const udp of [sendmsg, dgram]) {
      const server = udp.createSocket('udp4');
      const serverPort = await bound(server, 0, '127.0.0.1');
      const client = udp.createSocket('udp4');
      client.send('by name', serverPort, 'localhost');
      assert.strictEqual((await nextMessage(server))[0].toString(), 'by name');
      server.close();
      client.close();
    }
  });

  it('reusePort: two sockets in two worker threads share one port\'s datagrams', async function () {
    if (process.platform !== 'linux') return platform.skip(this, 'SO_REUSEPORT balances load on Linux (FreeBSD: _LB) only', { allowedInCI: true });
    const probe = sendmsg.createSocket({ type: 'udp4', reusePort: true });
    const port = await bound(probe, 0, '127.0.0.1');
    const workers = [0, 1].map(() => new Worker(path.join(__dirname, 'fixtures', 'reuse-port-worker.js'), { workerData: { port } }));
    try {
      await Promise.all(workers.map((worker) => once(worker, 'message')));
      probe.close();
      const senders = Array.from({ length: 32 }, () => open('udp4'));
      for (const sender of senders) sender.send('x', port, '127.0.0.1');
      await delay(300);
      const counts = await Promise.all(workers.map((worker) => {
        worker.postMessage('count');
        return once(worker, 'message').then(([count]) => count);
      }));
      assert.strictEqual(counts[0] + counts[1], 32, `every datagram arrived once (${counts})`);
      assert.ok(counts[0] > 0 && counts[1] > 0, `both workers got some (${counts})`);
    } finally {
      await Promise.all(workers.map((worker) => worker.terminate()));
    }
    return undefined;
  });

  it('signal: aborting closes the socket; [Symbol.asyncDispose] closes it too, as dgram', async function () {
    for (const udp of [sendmsg, dgram]) {
      const controller = new AbortController();
      const socket = udp.createSocket({ type: 'udp4', signal: controller.signal });
      await bound(socket, 0, '127.0.0.1');
      const closed = once(socket, 'close');
      controller.abort();
      await closed;
      const disposable = udp.createSocket('udp4');
      const dispose = disposable[Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose')];
      if (typeof dispose === 'function') {
        await dispose.call(disposable);
        assert.throws(() => disposable.address(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
      }
    }
  });

  it('getSendQueueSize() and getSendQueueCount() are 0 when nothing waits, as dgram', async function () {
    for (const udp of [sendmsg, dgram]) {
      const socket = udp.createSocket('udp4');
      await bound(socket, 0, '127.0.0.1');
      assert.strictEqual(socket.getSendQueueSize(), 0);
      assert.strictEqual(socket.getSendQueueCount(), 0);
      socket.close();
    }
  });
});

describe('multicast on loopback (private namespace; runs under Wine too)', function () {
  beforeEach(function () {
    if (platform.emulationDiffers('multicastOptions')) {
      platform.skip(this, 'the emulator cannot join a group (test/helpers.js, EMULATION_DIFFERENCES.multicastOptions)', { allowedInCI: true });
    }
  });
  it('joins and drops by address and by index, and sends by the socket\'s or the send\'s interface', async function () {
    const steps = await inNetworkNamespace(this, 'multicast-loopback', []);
    if (!steps) return;
    const expected = {
      'join by address, interface set by address': ['by address'],
      'send by interfaceIndex': ['by index'],
      'drop, then send': [],
      'join by interfaceIndex': ['joined by index'],
      'interface by name': ['interface by name'],
    };
    for (const [step, texts] of Object.entries(expected)) {
      const outcome = steps[step];
      const byIndex = step === 'join by interfaceIndex' || step === 'interface by name';
      if (byIndex && typeof outcome === 'string' && platform.wineDiffers('multicastByIndex')) continue;
      assert.ok(Array.isArray(outcome), `${step}: ${outcome}`);
      assert.deepStrictEqual(outcome.map((m) => m.text), texts, step);
      for (const message of outcome) assert.strictEqual(message.destinationAddress, GROUPS.udp4, step);
    }
  });
});

describe('bindSync and connectSync (dgram, Node 24 and later)', function () {
  it('bind and connect at once, throwing what fails, with the events on the next tick', async function () {
    const socket = sendmsg.createSocket('udp4');
    const peer = sendmsg.createSocket('udp4');
    try {
      const events = [];
      socket.on('listening', () => events.push('listening'));
      socket.on('connect', () => events.push('connect'));
      const bound = socket.bindSync({ address: '127.0.0.1' });
      assert.deepStrictEqual(bound, socket.address());
      assert.throws(() => socket.bindSync(), { code: 'ERR_SOCKET_ALREADY_BOUND' });
      assert.throws(() => peer.bindSync({ address: 'localhost' }), { code: 'ERR_INVALID_IP_ADDRESS' });
      const peerAddress = peer.bindSync({ address: '127.0.0.1' });
      socket.connectSync(peerAddress.port, '127.0.0.1');
      assert.deepStrictEqual(socket.remoteAddress(), peerAddress);
      assert.throws(() => socket.connectSync(peerAddress.port), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
      assert.deepStrictEqual(events, [], 'nothing before the next tick');
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepStrictEqual(events, ['listening', 'connect']);
      const inUse = sendmsg.createSocket('udp4');
      assert.throws(() => inUse.bindSync({ address: '127.0.0.1', port: peerAddress.port }), { code: 'EADDRINUSE', syscall: 'bind' });
      inUse.close();
    } finally {
      socket.close();
      peer.close();
    }
  });
});
