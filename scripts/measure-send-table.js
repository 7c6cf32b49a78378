// Measures what one send does on this host's kernel, on the private network of
// test/wire.test.js (test/fixtures/wire-network.js: a server namespace with links A and B to two
// client namespaces, tcpdump on each client's end), and prints it as Markdown: the tables in
// README.md ("Which link and which source") come from here.
//
//   node scripts/measure-send-table.js      (root; Linux; needs unshare, nsenter, ip, tcpdump,
//                                            and a built addon and dist/)
//
// For each destination, a send from a socket on the wildcard address in the server namespace
// with neither option, localAddress only (link A's alias), interfaceIndex only (link B), and
// both: so the last column shows what each option keeps when both are given. Each cell is where the datagram was
// seen (the link and its IP source) or the send's error. Then the error cases, and what
// rinfo says of multicast and broadcast datagrams received.
//
// The network's routes (see wire-network.js): 255.255.255.255 and 224.0.0.0/4 go by link A;
// no default route; a decoy link (wd0, its peer wd0p captured here too) comes first for fe80::/64.
const { Capture, LINKS, cannotRun, startNetwork } = require('../test/fixtures/wire-network');

// How long a datagram may take to show on a capture, and how long a stray copy gets after.
const ARRIVAL_MS = 1000;
const SETTLE_MS = 100;
// Nothing listens there: the capture, not a socket, says where a datagram went.
const SINK_PORT = 40000;
const DECOY_PEER = 'wd0p';
// Link B's subnet-directed broadcast address (its subnet is a /24).
const LINK_B_BROADCAST = LINKS.B.v4.subnet.replace(/\.0\/24$/, '.255');

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const why = cannotRun();
  if (why) {
    console.error(`cannot measure here: ${why.reason}`);
    process.exit(2);
  }
  const network = await startNetwork();
  const decoy = new Capture(network.agents.server, DECOY_PEER);
  try {
    await decoy.ready;
    const out = [];
    const measurer = new Measurer(network, decoy);
    await sendTables(measurer, out);
    await sourceAlone(measurer, out);
    await errorCases(measurer, out);
    await withoutRoutes(measurer, out);
    await receivedInfo(network, out);
    console.log(out.join('\n'));
  } finally {
    await decoy.stop();
    await network.stop();
  }
}

class Measurer {
  constructor(network, decoy) {
    this.network = network;
    this.places = [['link A', network.captures.A], ['link B', network.captures.B], [`the decoy link ${DECOY_PEER}`, decoy]];
    this.serial = 0;
    this.sockets = {};
  }

  get indexB() {
    return this.network.interfaceIndex.B;
  }

  /** A socket on the wildcard address in the server namespace (one per type and broadcast). */
  async socket(type, broadcast) {
    const name = `${type}${broadcast ? ' broadcast' : ''}`;
    if (!this.sockets[name]) {
      await this.network.agents.server.call('open', {
        name, impl: 'sendmsg', type, address: type === 'udp4' ? '0.0.0.0' : '::', broadcast,
      });
      this.sockets[name] = true;
    }
    return name;
  }

  /**
   * Sends one datagram; returns where it was seen, or its error: { seen: [...] } / { error }.
   * An IPv6 unicast datagram that no link shows waits for a neighbour that never answers:
   * unresolved then names the links the kernel asked on.
   */
  async send(type, broadcast, options) {
    const name = await this.socket(type, broadcast);
    const text = `measure #${++this.serial}#`;
    const server = this.network.agents.server;
    const peer = options.address.split('%')[0];
    const unicast6 = type === 'udp6' && !peer.startsWith('ff');
    // A neighbour entry left by an earlier send would hide which link this one asked on.
    if (unicast6) server.ip([`neigh flush to ${peer}`]);
    let outcome;
    try {
      outcome = await server.call('send', { name, msg: text, options: { port: SINK_PORT, ...options } });
    } catch (thrown) {
      return { error: thrown.code, thrown: true, message: thrown.message.replace(/^server: /, '') };
    }
    if (outcome.error) return { error: outcome.error, address: outcome.errorAddress, message: outcome.errorMessage };
    const seen = () => this.places.flatMap(([place, capture]) =>
      capture.carrying(text).map((datagram) => `${place}, from ${datagram.source}`));
    for (const deadline = Date.now() + ARRIVAL_MS; seen().length === 0 && Date.now() < deadline;) await delay(10);
    await delay(SETTLE_MS);
    if (seen().length > 0 || !unicast6) return { seen: seen() };
    const unresolved = server.ip([`neigh show to ${peer}`]).split('\n')
      .filter((line) => /INCOMPLETE|FAILED/.test(line)).map((line) => line.match(/dev (\S+)/)[1]);
    return { seen: [], unresolved };
  }

  async cell(type, broadcast, options) {
    return describeOutcome(await this.send(type, broadcast, options), false);
  }
}

const COLUMNS = ['neither', '`localAddress` only', '`interfaceIndex` only', 'both'];

/** One row: the four combinations of source (alias) and interface (index) for a destination. */
async function row(measurer, type, broadcast, label, address, source) {
  const interfaceIndex = measurer.indexB;
  const cells = [];
  for (const options of [{}, { localAddress: source }, { interfaceIndex }, { localAddress: source, interfaceIndex }]) {
    cells.push(await measurer.cell(type, broadcast, { address, ...options }));
  }
  return `| ${label} | ${cells.join(' | ')} |`;
}

function header(first) {
  return [`| ${first} | ${COLUMNS.join(' | ')} |`, `|${' --- |'.repeat(COLUMNS.length + 1)}`];
}

async function sendTables(measurer, out) {
  const { A, B } = LINKS;
  out.push('## udp4, bound to 0.0.0.0, with setBroadcast(true)', '',
    `\`localAddress\`: ${A.v4.alias} (link A's alias). \`interfaceIndex\`: link B (${measurer.indexB}).`, '',
    ...header('destination'));
  for (const [label, address] of [
    [`unicast, client on link B (${B.v4.client})`, B.v4.client],
    ['limited broadcast (255.255.255.255)', '255.255.255.255'],
    [`subnet-directed broadcast of link B (${LINK_B_BROADCAST})`, LINK_B_BROADCAST],
    ['multicast (224.0.0.251)', '224.0.0.251'],
  ]) {
    out.push(await row(measurer, 'udp4', true, label, address, A.v4.alias));
  }
  out.push('', '## udp6, bound to ::', '',
    `\`localAddress\`: ${A.v6.alias} (link A's alias). \`interfaceIndex\`: link B (${measurer.indexB}).`, '',
    ...header('destination'));
  for (const [label, address] of [
    [`unicast global, client on link B (${B.v6.client})`, B.v6.client],
    [`unicast link-local, no zone (${B.linkLocal.client})`, B.linkLocal.client],
    [`unicast link-local, zone naming link B (${B.linkLocal.client}%${B.serverInterface})`, `${B.linkLocal.client}%${B.serverInterface}`],
    [`unicast link-local, zone naming link A (${B.linkLocal.client}%${A.serverInterface})`, `${B.linkLocal.client}%${A.serverInterface}`],
    ['multicast, no zone (ff02::fb)', 'ff02::fb'],
  ]) {
    out.push(await row(measurer, 'udp6', false, label, address, A.v6.alias));
  }
  out.push('');
}

/** A send's outcome as a table cell; detailed: the error's address and message too. */
function describeOutcome(result, detailed) {
  if (!result.error) {
    if (result.seen.length) return result.seen.join('; ');
    if (result.unresolved && result.unresolved.length) {
      return `not on the wire: sent on ${result.unresolved.join(', ')}, where no neighbour answers`;
    }
    return 'sent, seen on no link';
  }
  const parts = [`\`${result.error}\``];
  if (result.thrown) parts.push('thrown by the call');
  if (detailed && result.address !== undefined) parts.push(`error.address \`${result.address}\``);
  if (detailed) parts.push(`message "${result.message}"`);
  return parts.join(', ');
}

/**
 * Link B's alias as the only option, to the destinations whose routes go by link A: whether the
 * source alone picks the link (the main table's alias is on link A, where the routes go too).
 */
async function sourceAlone(measurer, out) {
  const { B } = LINKS;
  out.push(`## udp4, \`localAddress\` ${B.v4.alias} (link B's alias) alone, where the routes go by link A`, '',
    '| destination | result |', '| --- | --- |');
  for (const address of ['255.255.255.255', '224.0.0.251']) {
    out.push(`| ${address} | ${describeOutcome(await measurer.send('udp4', true, { address, localAddress: B.v4.alias }), true)} |`);
  }
  out.push('');
}

async function errorCases(measurer, out) {
  const { A, B } = LINKS;
  const missingIndex = 9999;
  out.push('## Error cases', '', '| send | result |', '| --- | --- |');
  for (const [label, type, broadcast, options] of [
    [`udp4, interfaceIndex ${missingIndex} (no such interface), unicast to ${B.v4.client}`, 'udp4', true,
      { address: B.v4.client, interfaceIndex: missingIndex }],
    [`udp4, interfaceIndex ${missingIndex}, to 255.255.255.255`, 'udp4', true, { address: '255.255.255.255', interfaceIndex: missingIndex }],
    [`udp4, interfaceIndex ${missingIndex}, to 224.0.0.251`, 'udp4', true, { address: '224.0.0.251', interfaceIndex: missingIndex }],
    [`udp6, interfaceIndex ${missingIndex}, to ${B.v6.client}`, 'udp6', false, { address: B.v6.client, interfaceIndex: missingIndex }],
    [`udp6, interfaceIndex ${missingIndex}, to ff02::fb`, 'udp6', false, { address: 'ff02::fb', interfaceIndex: missingIndex }],
    ['udp4, interfaceName \'nosuch0\'', 'udp4', true, { address: B.v4.client, interfaceName: 'nosuch0' }],
    ['udp4, no setBroadcast, to 255.255.255.255 (a route covers it)', 'udp4', false, { address: '255.255.255.255' }],
    [`udp4, no setBroadcast, to ${LINK_B_BROADCAST}`, 'udp4', false, { address: LINK_B_BROADCAST }],
    [`udp4, no setBroadcast, to 255.255.255.255 with interfaceIndex B`, 'udp4', false,
      { address: '255.255.255.255', interfaceIndex: measurer.indexB }],
    ['udp4, localAddress 203.0.113.9 (not local)', 'udp4', true, { address: B.v4.client, localAddress: '203.0.113.9' }],
    ['udp4, localAddress 203.0.113.9, to 255.255.255.255', 'udp4', true, { address: '255.255.255.255', localAddress: '203.0.113.9' }],
    ['udp6, localAddress fd00:c::9 (not local)', 'udp6', false, { address: B.v6.client, localAddress: 'fd00:c::9' }],
    [`udp6, localAddress ${A.linkLocal.server} (link A's link-local) with interfaceIndex B`, 'udp6', false,
      { address: B.linkLocal.client, localAddress: A.linkLocal.server, interfaceIndex: measurer.indexB }],
  ]) {
    out.push(`| ${label} | ${describeOutcome(await measurer.send(type, broadcast, options), true)} |`);
  }
  out.push('');
}

/** The limited broadcast and multicast rows again, once the routes that covered them are gone. */
async function withoutRoutes(measurer, out) {
  const { A } = LINKS;
  measurer.network.agents.server.ip([
    `route del 255.255.255.255/32 dev ${A.serverInterface}`,
    `route del 224.0.0.0/4 dev ${A.serverInterface}`,
  ]);
  out.push('## udp4 with no route for 255.255.255.255 or 224.0.0.0/4 (and no default route)', '',
    ...header('destination'));
  out.push(await row(measurer, 'udp4', true, 'limited broadcast (255.255.255.255)', '255.255.255.255', A.v4.alias));
  out.push(await row(measurer, 'udp4', true, 'multicast (224.0.0.251)', '224.0.0.251', A.v4.alias));
  out.push(await row(measurer, 'udp4', false, 'limited broadcast, no setBroadcast', '255.255.255.255', A.v4.alias));
  out.push('');
}

/**
 * What rinfo says of datagrams sent to the server (a sendmsg socket on the wildcard address,
 * joined to the groups on both links) by the client on link B: the fields that tell a
 * multicast or broadcast query from a unicast one, and the address to answer from.
 */
async function receivedInfo(network, out) {
  const { B } = LINKS;
  const port = 5353;
  const server = network.agents.server;
  const client = network.agents.B;
  // The client's own namespace has no route for a limited broadcast or a group: give it one.
  client.ip([`route add 255.255.255.255/32 dev ${B.clientInterface}`, `route add 224.0.0.0/4 dev ${B.clientInterface}`]);
  for (const [type, address, group] of [['udp4', '0.0.0.0', '224.0.0.251'], ['udp6', '::', 'ff02::fb']]) {
    const name = `receiver ${type}`;
    // reuseAddr: the udp6 socket is dual-stack, and would otherwise collide with the udp4 one.
    await server.call('open', { name, impl: 'sendmsg', type, address, port, reuseAddr: true });
    for (const link of ['A', 'B']) {
      await server.call('invoke', { name, method: 'addMembership', args: [group, { interfaceIndex: network.interfaceIndex[link] }] });
    }
    await client.call('open', { name: `sender ${type}`, impl: 'dgram', type, address: type === 'udp4' ? B.v4.client : '::', broadcast: type === 'udp4' });
  }
  out.push('## rinfo of what the server receives (from the client on link B)', '',
    `Link B is interface ${network.interfaceIndex.B} (${B.serverInterface}); its addresses ${B.v4.server} (primary), ` +
    `${B.v4.alias}/32, ${B.v6.server}, ${B.v6.alias}, ${B.linkLocal.server}.`, '',
    '| sent to | localAddress | destinationAddress | interfaceIndex | interfaceName |', '| --- | --- | --- | --- | --- |');
  let serial = 0;
  for (const [type, destination] of [
    ['udp4', B.v4.alias],
    ['udp4', LINK_B_BROADCAST],
    ['udp4', '255.255.255.255'],
    ['udp4', '224.0.0.251'],
    ['udp6', B.v6.alias],
    ['udp6', `ff02::fb%${B.clientInterface}`],
  ]) {
    const text = `rinfo #${++serial}#`;
    const sent = await client.call('send', { name: `sender ${type}`, msg: text, options: { port, address: destination } });
    let cells;
    if (sent.error) cells = [`send failed: ${sent.error}`, '', '', ''];
    else {
      const [received] = await server.call('received', { name: `receiver ${type}`, contains: text, timeoutMs: ARRIVAL_MS });
      const show = (value) => (value === undefined ? '`undefined`' : `\`${value}\``);
      cells = received
        ? ['localAddress', 'destinationAddress', 'interfaceIndex', 'interfaceName'].map((field) => show(received.rinfo[field]))
        : ['not received', '', '', ''];
    }
    out.push(`| ${type}: ${destination} | ${cells.join(' | ')} |`);
  }
  out.push('');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
