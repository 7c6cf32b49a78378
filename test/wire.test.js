// What a multihomed server's datagrams look like on the wire. A server namespace has two links,
// A and B, each to a client namespace (test/fixtures/wire-network.js builds them, and says how
// the routes make the kernel's own source choice wrong for the alias addresses). The server is
// one sendmsg socket on the wildcard address. Each datagram is judged twice on the client's
// side: by a dgram socket connect()ed to the exact address and port it must come from, as stub
// resolvers and DHCP clients are, and by tcpdump on the client's link, which shows the true
// source and that nothing went out the other link.
//
// Node's dgram runs the same scenario as a control wherever it can run it, and fails: that shows
// each check can fail.
const { assert } = require('./helpers');
const { LINKS, useNetwork } = require('./fixtures/wire-network');

// How long a datagram may take to show on a capture; then how long the client socket gets to
// take it once it showed; then how long a stray copy gets to show on the other link.
const ARRIVAL_MS = 1500;
const DELIVERY_MS = 300;
const SETTLE_MS = 100;
const POLL_MS = 10;

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const otherLink = (link) => (link === 'A' ? 'B' : 'A');
const withoutZone = (address) => address.split('%')[0];

describe('the wire: a server with two links, judged by a client and a capture on each link', function () {
  const network = useNetwork();
  let serial = 0;

  /** A socket in the server namespace on the wildcard address; its calls name it. */
  async function server({ type, impl = 'sendmsg', autoReply = true, broadcast = false }) {
    const name = `server ${++serial}`;
    const agent = network.agents.server;
    const address = type === 'udp4' ? '0.0.0.0' : '::';
    const { port } = await agent.call('open', { name, impl, type, address, autoReply, broadcast });
    return { port, call: (op, args) => agent.call(op, { name, ...args }) };
  }

  /** A dgram socket on link's client, bound to bindAddress, that accepts only address:port. */
  async function client(link, { type, bindAddress, address, port }) {
    const name = `client ${++serial}`;
    const agent = network.agents[link];
    const { port: localPort } = await agent.call('open', { name, impl: 'dgram', type, address: bindAddress });
    await agent.call('connect', { name, address, port });
    return { link, port: localPort, call: (op, args) => agent.call(op, { name, ...args }) };
  }

  // Unique text to find a datagram by; the closing # keeps #1 from matching #12.
  const token = (label) => `${label} #${++serial}#`;

  /**
   * Where the datagrams carrying text went: the sources the client socket accepted, and the
   * sources of those the captures saw arrive on the client's link and on the other link.
   */
  async function judge(receiver, text) {
    const { captures } = network;
    const seen = () => captures.A.carrying(text).length + captures.B.carrying(text).length > 0;
    for (const deadline = Date.now() + ARRIVAL_MS; !seen() && Date.now() < deadline;) await delay(POLL_MS);
    const accepted = await receiver.call('received', { contains: text, timeoutMs: seen() ? DELIVERY_MS : 0 });
    await delay(SETTLE_MS);
    return {
      accepted: accepted.map((item) => (item.socketError ? `error ${item.socketError}` : withoutZone(item.rinfo.address))),
      onLink: captures[receiver.link].carrying(text).map((datagram) => datagram.source),
      onOtherLink: captures[otherLink(receiver.link)].carrying(text).map((datagram) => datagram.source),
    };
  }

  /** What the server saw of the query carrying text, and whether its answer was sent. */
  async function queryAsSeen(srv, text) {
    const [query] = await srv.call('received', { contains: text, timeoutMs: ARRIVAL_MS });
    if (!query) return 'no query arrived';
    return {
      localAddress: query.rinfo.localAddress,
      interfaceIndex: query.rinfo.interfaceIndex,
      replyError: query.replyError === undefined ? null : query.replyError,
    };
  }

  const sent = (outcome) => (outcome.error ? `failed: ${outcome.error}` : 'sent');

  /** The server answers a query from the client on link; returns the query and the verdict. */
  async function exchange(srv, receiver, label) {
    const text = token(label);
    await receiver.call('send', { msg: text });
    const verdict = await judge(receiver, text);
    return { query: await queryAsSeen(srv, text), ...verdict };
  }

  describe('1. unicast: the client on each link queries the alias; the answer is from the alias, on that link', function () {
    for (const [type, family] of [['udp4', 'v4'], ['udp6', 'v6']]) {
      for (const link of ['A', 'B']) {
        const { alias, server: primary, client: clientAddress } = LINKS[link][family];

        it(`${type}, link ${link}: reply() answers ${alias} from ${alias}`, async function () {
          const srv = await server({ type });
          const receiver = await client(link, { type, bindAddress: clientAddress, address: alias, port: srv.port });
          assert.deepStrictEqual(await exchange(srv, receiver, `unicast ${link}`), {
            query: { localAddress: alias, interfaceIndex: network.interfaceIndex[link], replyError: null },
            accepted: [alias],
            onLink: [alias],
            onOtherLink: [],
          });
        });

        it(`5. control, ${type}, link ${link}: a dgram server answers ${alias} from the kernel's choice, ${primary}, and the client drops it`, async function () {
          const srv = await server({ type, impl: 'dgram' });
          const receiver = await client(link, { type, bindAddress: clientAddress, address: alias, port: srv.port });
          const { query, ...verdict } = await exchange(srv, receiver, `dgram unicast ${link}`);
          assert.strictEqual(query.replyError, null, 'the dgram server got the query and answered');
          assert.deepStrictEqual(verdict, { accepted: [], onLink: [primary], onOtherLink: [] });
        });
      }
    }
  });

  // The client of a broadcast binds the broadcast address: a socket bound to 0.0.0.0 would
  // take its local address from connect(), and then no longer match a broadcast.
  const broadcastClient = (srv) =>
    client('B', { type: 'udp4', bindAddress: '255.255.255.255', address: LINKS.B.v4.server, port: srv.port });

  describe('2. broadcast: 255.255.255.255 with { interfaceIndex: B } leaves on link B only, from B\'s address', function () {
    it('udp4: send() with setBroadcast(true) and { interfaceIndex: B }', async function () {
      const srv = await server({ type: 'udp4', autoReply: false, broadcast: true });
      const receiver = await broadcastClient(srv);
      const text = token('broadcast B');
      const outcome = await srv.call('send', {
        msg: text, options: { address: '255.255.255.255', port: receiver.port, interfaceIndex: network.interfaceIndex.B },
      });
      assert.deepStrictEqual({ send: sent(outcome), ...await judge(receiver, text) },
        { send: 'sent', accepted: [LINKS.B.v4.server], onLink: [LINKS.B.v4.server], onOtherLink: [] });
    });

    it('5. control, udp4: a dgram broadcast follows the kernel\'s route, out link A', async function () {
      const srv = await server({ type: 'udp4', impl: 'dgram', autoReply: false, broadcast: true });
      const receiver = await broadcastClient(srv);
      const text = token('dgram broadcast');
      const outcome = await srv.call('send', { msg: text, options: { address: '255.255.255.255', port: receiver.port } });
      assert.deepStrictEqual({ send: sent(outcome), ...await judge(receiver, text) },
        { send: 'sent', accepted: [], onLink: [], onOtherLink: [LINKS.A.v4.server] });
    });
  });

  // No dgram control here: dgram cannot choose a source or an interface per datagram.
  describe('3. a send after a send with other options: nothing of the first sticks to the second', function () {
    it('udp4: after reply() from A\'s alias, a broadcast with { interfaceIndex: B } and no localAddress leaves link B from B\'s address', async function () {
      const srv = await server({ type: 'udp4', broadcast: true });
      const { A, B } = LINKS;
      const first = await client('A', { type: 'udp4', bindAddress: A.v4.client, address: A.v4.alias, port: srv.port });
      const receiver = await broadcastClient(srv);
      const firstVerdict = await exchange(srv, first, 'first, on A');
      assert.deepStrictEqual(firstVerdict.onLink, [A.v4.alias], 'the first send, a reply, leaves link A from its alias');
      const text = token('then broadcast B');
      const outcome = await srv.call('send', {
        msg: text, options: { address: '255.255.255.255', port: receiver.port, interfaceIndex: network.interfaceIndex.B },
      });
      assert.deepStrictEqual({ send: sent(outcome), ...await judge(receiver, text) },
        { send: 'sent', accepted: [B.v4.server], onLink: [B.v4.server], onOtherLink: [] });
    });

    it('udp4, sendBatch(): after a datagram from A\'s alias, a broadcast with { interfaceIndex: B } leaves link B from B\'s address', async function () {
      const srv = await server({ type: 'udp4', autoReply: false, broadcast: true });
      const { A, B } = LINKS;
      const first = await client('A', { type: 'udp4', bindAddress: A.v4.client, address: A.v4.alias, port: srv.port });
      const receiver = await broadcastClient(srv);
      const firstText = token('first batch, on A');
      const firstOutcome = await srv.call('sendBatch', {
        messages: [{ msg: firstText, address: A.v4.client, port: first.port, localAddress: A.v4.alias }],
      });
      assert.strictEqual(firstOutcome.error, null);
      assert.deepStrictEqual((await judge(first, firstText)).onLink, [A.v4.alias],
        'the first batch leaves link A from its alias');
      const text = token('then batch broadcast B');
      const outcome = await srv.call('sendBatch', {
        messages: [{ msg: text, address: '255.255.255.255', port: receiver.port, interfaceIndex: network.interfaceIndex.B }],
      });
      assert.deepStrictEqual({ send: sent(outcome), ...await judge(receiver, text) },
        { send: 'sent', accepted: [B.v4.server], onLink: [B.v4.server], onOtherLink: [] });
    });

    it('udp6: after reply() from A\'s link-local address, { interfaceIndex: B } alone sends on link B', async function () {
      const srv = await server({ type: 'udp6' });
      const { A, B } = LINKS;
      const first = await client('A', {
        type: 'udp6', address: `${A.linkLocal.server}%${A.clientInterface}`, port: srv.port,
      });
      const receiver = await client('B', { type: 'udp6', bindAddress: B.v6.client, address: B.v6.server, port: srv.port });
      const firstVerdict = await exchange(srv, first, 'first, link-local on A');
      assert.deepStrictEqual(firstVerdict.onLink, [A.linkLocal.server], 'the first send, a reply, leaves link A from its link-local address');
      const text = token('then interfaceIndex B');
      const outcome = await srv.call('send', {
        msg: text, options: { address: B.v6.client, port: receiver.port, interfaceIndex: network.interfaceIndex.B },
      });
      assert.deepStrictEqual({ send: sent(outcome), ...await judge(receiver, text) },
        { send: 'sent', accepted: [B.v6.server], onLink: [B.v6.server], onOtherLink: [] });
    });
  });

  // No dgram control here: dgram answers a link-local query from the right address too.
  describe('4. IPv6 link-local: the client queries the server\'s link-local address on its link', function () {
    for (const link of ['A', 'B']) {
      const { linkLocal, serverInterface, clientInterface } = LINKS[link];
      const linkLocalClient = (srv) =>
        client(link, { type: 'udp6', address: `${linkLocal.server}%${clientInterface}`, port: srv.port });

      it(`udp6, link ${link}: reply() answers from ${linkLocal.server} on link ${link}`, async function () {
        const srv = await server({ type: 'udp6' });
        const receiver = await linkLocalClient(srv);
        assert.deepStrictEqual(await exchange(srv, receiver, `link-local ${link}`), {
          query: { localAddress: linkLocal.server, interfaceIndex: network.interfaceIndex[link], replyError: null },
          accepted: [linkLocal.server],
          onLink: [linkLocal.server],
          onOtherLink: [],
        });
      });

      it(`udp6, link ${link}: send() to rinfo.address, to its %<index> and to its %<name> form, answers from ${linkLocal.server} on link ${link}`, async function () {
        const srv = await server({ type: 'udp6', autoReply: false });
        const receiver = await linkLocalClient(srv);
        const queryText = token(`query link-local ${link}`);
        await receiver.call('send', { msg: queryText });
        const [query] = await srv.call('received', { contains: queryText, timeoutMs: ARRIVAL_MS });
        assert.ok(query, 'the query arrived');
        const { rinfo } = query;
        const [peer, zone] = rinfo.address.split('%');
        const index = network.interfaceIndex[link];
        assert.deepStrictEqual({ peer, zoneNamesTheLink: zone === String(index) || zone === serverInterface },
          { peer: linkLocal.client, zoneNamesTheLink: true }, `rinfo.address ${rinfo.address} names the link`);
        // One verdict a form, in order, each naming the address it was sent to.
        const verdicts = [];
        for (const [form, address] of [
          ['rinfo.address', rinfo.address],
          ['%<index>', `${peer}%${index}`],
          ['%<name>', `${peer}%${serverInterface}`],
        ]) {
          const text = token(`to ${address}`);
          const outcome = await srv.call('send', { msg: text, options: { address, port: rinfo.port } });
          verdicts.push({ to: `${form} ${address}`, send: sent(outcome), ...await judge(receiver, text) });
        }
        assert.deepStrictEqual(verdicts, verdicts.map(({ to }) =>
          ({ to, send: 'sent', accepted: [linkLocal.server], onLink: [linkLocal.server], onOtherLink: [] })));
      });
    }
  });
});
