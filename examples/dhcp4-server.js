// A DHCPv4 server for several links, on one socket (0.0.0.0:67).
//
//   node examples/dhcp4-server <interface>[=<server address>] ...
//   e.g. node examples/dhcp4-server eth1 eth2=192.0.2.53
//
// It serves only the interfaces named (a DHCP server that answers on a link by mistake takes
// that link's clients). On each, it leases host numbers 100-199 of the interface's subnet, and
// its address there (the first IPv4 address of the interface, or the one given) is its server
// identifier, the router and the source of every reply on that link.
//
// What it shows: a client without an address broadcasts, and so must the server, out of the
// right link. One socket on 0.0.0.0 gets every link's broadcasts; rinfo.interfaceIndex says
// which link each came in on, which picks the subnet; the answer goes to 255.255.255.255 with
// { interfaceIndex, localAddress }, so it leaves by that link, from the server's address there.
// Node's dgram cannot tell the links apart, and its broadcast leaves wherever the kernel's route
// for 255.255.255.255 points. A renewing client unicasts to the server identifier, and reply()
// answers from the address the request came to.
//
// The packets are encoded here, by hand: a fixed 236-byte header, a magic cookie, and
// type-length-value options (RFC 2131, RFC 2132). The DHCP packages on npm are servers with
// sockets of their own, not codecs: `dhcp` (about 600 downloads a month, no types, its
// parser internal to its server) and `dhcpjs` (one release in years, no types). The hundred lines
// here are easier to check than either.
// SENDMSG_EXAMPLE_MODULE=dgram runs this same program on Node's dgram: the control of
// `npm run test:clients` (see on-dgram.js).
const { createSocket } = process.env.SENDMSG_EXAMPLE_MODULE === 'dgram' ? require('./on-dgram') : require('sendmsg');
const { interfaceNamed } = require('./interfaces');

const SERVER_PORT = 67;
const CLIENT_PORT = 68;
const LEASE_SECONDS = 3600;
const FIRST_HOST = 100;
const LAST_HOST = 199;
const MAGIC_COOKIE = 0x63825363;
const BOOTREQUEST = 1;
const BOOTREPLY = 2;
// A DHCP message type (option 53).
const DISCOVER = 1;
const OFFER = 2;
const REQUEST = 3;
const ACK = 5;
const NAK = 6;
const RELEASE = 7;
const TYPE_NAMES = { 1: 'DISCOVER', 2: 'OFFER', 3: 'REQUEST', 4: 'DECLINE', 5: 'ACK', 6: 'NAK', 7: 'RELEASE', 8: 'INFORM' };
// Options (RFC 2132).
const SUBNET_MASK = 1;
const ROUTER = 3;
const REQUESTED_ADDRESS = 50;
const LEASE_TIME = 51;
const MESSAGE_TYPE = 53;
const SERVER_ID = 54;
const END = 255;
const PAD = 0;

const toNumber = (address) => address.split('.').reduce((number, octet) => number * 256 + Number(octet), 0);
const toAddress = (number) => [24, 16, 8, 0].map((shift) => Math.floor(number / 2 ** shift) % 256).join('.');
const addressAt = (buffer, at) => [...buffer.subarray(at, at + 4)].join('.');
const addressBytes = (address) => Buffer.from(address.split('.').map(Number));

/** One served link: its interface, the server's address there, its subnet and its leases. */
function linkFor(argument) {
  const [name, chosen] = argument.split('=');
  const { index, addresses } = interfaceNamed(name);
  const ipv4 = addresses.filter((entry) => entry.family === 'IPv4');
  const serverAddress = chosen || (ipv4[0] && ipv4[0].address);
  // The subnet is the widest of the interface's that holds the server address: an alias may be
  // a host route (/32) beside it. Addresses are unsigned 32-bit numbers here.
  const subnets = ipv4
    .map(({ address, netmask }) => ({ mask: toNumber(netmask), network: (toNumber(address) & toNumber(netmask)) >>> 0 }))
    .filter(({ mask, network }) => serverAddress && ((toNumber(serverAddress) & mask) >>> 0) === network)
    .sort((a, b) => a.mask - b.mask);
  if (subnets.length === 0 || subnets[0].mask > 0xffffff00) {
    throw new Error(`${name}: no IPv4 subnet of /24 or wider holds ${serverAddress}`);
  }
  const { mask, network } = subnets[0];
  return { name, index, serverAddress, mask: toAddress(mask), network, leases: new Map() };
}

/** The address leased to the client with hardware address key on link, made if create. */
function leaseOf(link, key, create) {
  if (link.leases.has(key) || !create) return link.leases.get(key);
  const taken = new Set(link.leases.values());
  for (let host = FIRST_HOST; host <= LAST_HOST; host++) {
    const address = toAddress(link.network + host);
    if (!taken.has(address)) {
      link.leases.set(key, address);
      return address;
    }
  }
  return undefined; // the pool is full
}

/** A BOOTREQUEST's fields and options (code -> bytes), or undefined if it is not one. */
function parse(message) {
  if (message.length < 240 || message[0] !== BOOTREQUEST || message.readUInt32BE(236) !== MAGIC_COOKIE) return undefined;
  const options = new Map();
  for (let at = 240; at < message.length && message[at] !== END;) {
    if (message[at] === PAD) {
      at += 1;
      continue;
    }
    const end = at + 2 + message[at + 1];
    if (end > message.length) return undefined;
    options.set(message[at], message.subarray(at + 2, end));
    at = end;
  }
  const option = (code) => options.get(code) || Buffer.alloc(0);
  return {
    message,
    type: option(MESSAGE_TYPE)[0],
    ciaddr: addressAt(message, 12),
    giaddr: addressAt(message, 24),
    client: message.subarray(28, 28 + Math.min(message[2], 16)).toString('hex'),
    requested: option(REQUESTED_ADDRESS).length === 4 ? addressAt(option(REQUESTED_ADDRESS), 0) : undefined,
    serverId: option(SERVER_ID).length === 4 ? addressAt(option(SERVER_ID), 0) : undefined,
  };
}

/** A BOOTREPLY of type to request, giving yourAddress (or none, for a NAK). */
function build(request, type, yourAddress, link) {
  const header = Buffer.alloc(240);
  request.message.copy(header, 0, 0, 44); // op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr
  header[0] = BOOTREPLY;
  header[3] = 0; // hops
  header.writeUInt16BE(0, 8); // secs
  if (type !== ACK) header.fill(0, 12, 16); // ciaddr is echoed in an ACK only
  addressBytes(yourAddress || '0.0.0.0').copy(header, 16);
  header.fill(0, 20, 24); // siaddr: no boot server
  header.writeUInt32BE(MAGIC_COOKIE, 236);
  const options = [[MESSAGE_TYPE, Buffer.from([type])], [SERVER_ID, addressBytes(link.serverAddress)]];
  if (type !== NAK) {
    const leaseTime = Buffer.alloc(4);
    leaseTime.writeUInt32BE(LEASE_SECONDS);
    options.push([LEASE_TIME, leaseTime], [SUBNET_MASK, addressBytes(link.mask)], [ROUTER, addressBytes(link.serverAddress)]);
  }
  const encoded = options.map(([code, value]) => Buffer.concat([Buffer.from([code, value.length]), value]));
  const packet = Buffer.concat([header, ...encoded, Buffer.from([END])]);
  // BOOTP relays and some clients drop a message shorter than 300 bytes (RFC 1542 2.1).
  return packet.length >= 300 ? packet : Buffer.concat([packet, Buffer.alloc(300 - packet.length)]);
}

/** The answer to request on link: [type, address] or undefined for silence (RFC 2131 4.3). */
function decide(request, link) {
  if (request.type === DISCOVER) {
    const offered = leaseOf(link, request.client, true);
    return offered && [OFFER, offered];
  }
  if (request.type === REQUEST) {
    // SELECTING names the chosen server; if that is another, this one is not wanted.
    if (request.serverId && request.serverId !== link.serverAddress) return undefined;
    const wanted = request.requested || request.ciaddr;
    const leased = leaseOf(link, request.client, false);
    if (leased === undefined) return undefined; // no record of this client: stay silent
    return leased === wanted ? [ACK, leased] : [NAK, undefined];
  }
  if (request.type === RELEASE && leaseOf(link, request.client, false) === request.ciaddr) {
    link.leases.delete(request.client);
  }
  return undefined;
}

const links = new Map(process.argv.slice(2).map((argument) => {
  const link = linkFor(argument);
  return [link.index, link];
}));
if (links.size === 0) {
  console.error('usage: node examples/dhcp4-server <interface>[=<server address>] ...');
  process.exit(2);
}

const server = createSocket({ type: 'udp4' });

server.on('message', (message, rinfo) => {
  const request = parse(message);
  if (!request || request.giaddr !== '0.0.0.0') return; // not DHCP, or through a relay: not served here
  const link = links.get(rinfo.interfaceIndex);
  if (!link) {
    const where = rinfo.interfaceIndex === undefined ? 'no interface reported' : `interface ${rinfo.interfaceIndex}, not served`;
    console.log(`${TYPE_NAMES[request.type]} from ${request.client} ignored: ${where}`);
    return;
  }
  const decision = decide(request, link);
  if (!decision) return;
  const [type, address] = decision;
  const packet = build(request, type, address, link);
  const done = (error) => {
    if (error) console.error(`${TYPE_NAMES[type]} to ${request.client} on ${link.name} failed: ${error.code}`);
  };
  if (request.ciaddr !== '0.0.0.0' && type !== NAK) {
    // A client with an address is answered at that address. A renewing one unicasts to our
    // server identifier: reply() answers from the address its request came to. A rebinding one
    // (and udhcpc, when a renewal's answer is slow) broadcasts, and rinfo.localAddress is then
    // only the kernel's pick on that link: the answer comes from our server address there.
    if (rinfo.destinationAddress === rinfo.localAddress) server.reply(rinfo, packet, done);
    else server.send(packet, { address: request.ciaddr, port: CLIENT_PORT, localAddress: link.serverAddress }, done);
  } else {
    // A client without an address hears only broadcasts: out of its link, from our address there.
    server.send(packet, { address: '255.255.255.255', port: CLIENT_PORT, interfaceIndex: link.index, localAddress: link.serverAddress }, done);
  }
  console.log(`${TYPE_NAMES[request.type]} from ${request.client} on ${link.name} -> ${TYPE_NAMES[type]} ${address || ''}`);
});
server.on('error', (error) => {
  console.error(error);
  process.exitCode = 1;
  server.close();
});
server.bind(SERVER_PORT, '0.0.0.0', () => {
  server.setBroadcast(true);
  const served = [...links.values()].map((link) => `${link.name} from ${link.serverAddress}`).join(', ');
  console.log(`dhcp4-server listening on 0.0.0.0:${SERVER_PORT}, serving ${served}`);
});
process.on('SIGTERM', () => server.close());
process.on('SIGINT', () => server.close());
