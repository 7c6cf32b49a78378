// A DHCPv6 server for several links, on one socket ([::]:547).
//
//   node examples/dhcp6-server <interface> ...
//   e.g. node examples/dhcp6-server eth1 eth2
//
// It serves only the interfaces named. On each, it leases addresses (IA_NA) from the interface's
// /64 prefix: the prefix's host numbers 0x1000 and up, one per client and IA.
//
// What it shows: DHCPv6 clients send from their link-local address to ff02::1:2, a group
// joined on each link. One socket joins it on every served link, and rinfo.interfaceIndex says
// which link each message came in on, which picks the prefix; reply() answers the client's
// link-local address on that link (a link-local address means nothing without its link). It
// needs sendmsg's multicast API: addMembership(group, '::%<interface>'), as dgram takes it.
//
// Kept out, for a short example: CONFIRM, DECLINE, INFORMATION-REQUEST, relays, and leases that
// outlive the process.
//
// The messages are encoded here, by hand: a type, a transaction id and type-length-value options
// (RFC 8415). No DHCPv6 codec on npm is maintained; the hundred lines here are easy to check
// against the RFC.
const net = require('net');
const os = require('os');
// SENDMSG_EXAMPLE_MODULE=dgram runs this same program on Node's dgram: the control of
// `npm run test:clients` (see on-dgram.js).
const { createSocket } = process.env.SENDMSG_EXAMPLE_MODULE === 'dgram' ? require('./on-dgram') : require('sendmsg');
const { interfaceNamed } = require('./interfaces');

const SERVER_PORT = 547;
const ALL_SERVERS_AND_RELAYS = 'ff02::1:2';
const FIRST_HOST = 0x1000;
const PREFERRED_SECONDS = 3600;
const VALID_SECONDS = 7200;
// Message types.
const SOLICIT = 1;
const ADVERTISE = 2;
const REQUEST = 3;
const RENEW = 5;
const REBIND = 6;
const REPLY = 7;
const RELEASE = 8;
const TYPE_NAMES = { 1: 'SOLICIT', 2: 'ADVERTISE', 3: 'REQUEST', 4: 'CONFIRM', 5: 'RENEW', 6: 'REBIND', 7: 'REPLY', 8: 'RELEASE', 11: 'INFORMATION-REQUEST' };
// Options.
const CLIENT_ID = 1;
const SERVER_ID = 2;
const IA_NA = 3;
const IA_ADDRESS = 5;
const PREFERENCE = 7;
const STATUS_CODE = 13;

/** One option: code, length, value. */
function option(code, ...parts) {
  const value = Buffer.concat(parts);
  const header = Buffer.alloc(4);
  header.writeUInt16BE(code, 0);
  header.writeUInt16BE(value.length, 2);
  return Buffer.concat([header, value]);
}

const uint32 = (number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(number);
  return bytes;
};

/** Options as code -> the first value with that code; undefined if they do not parse. */
function parseOptions(bytes) {
  const options = new Map();
  for (let at = 0; at < bytes.length;) {
    if (at + 4 > bytes.length) return undefined;
    const end = at + 4 + bytes.readUInt16BE(at + 2);
    if (end > bytes.length) return undefined;
    const code = bytes.readUInt16BE(at);
    if (!options.has(code)) options.set(code, bytes.subarray(at + 4, end));
    at = end;
  }
  return options;
}

/** A client's message: { type, transactionId, clientId, serverId, iaid }, or undefined. */
function parse(message) {
  if (message.length < 4) return undefined;
  const options = parseOptions(message.subarray(4));
  if (!options || !options.has(CLIENT_ID)) return undefined; // every message we answer names its client
  const iaNa = options.get(IA_NA);
  return {
    type: message[0],
    transactionId: message.subarray(1, 4),
    clientId: options.get(CLIENT_ID),
    serverId: options.get(SERVER_ID),
    iaid: iaNa && iaNa.length >= 12 ? iaNa.subarray(0, 4) : undefined,
  };
}

/** This server's DUID: DUID-LL (type 3, Ethernet) from the first served interface's MAC. */
function duidOf(interfaceName) {
  const mac = os.networkInterfaces()[interfaceName][0].mac;
  return Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.from(mac.split(':').map((byte) => parseInt(byte, 16)))]);
}

/** One served link: its interface, its /64 prefix (8 bytes) and its leases. */
function linkFor(name) {
  const { index, addresses } = interfaceNamed(name);
  const prefixed = addresses.find((entry) => entry.family === 'IPv6' && entry.cidr && entry.cidr.endsWith('/64') &&
    !/^fe[89ab]/i.test(entry.address));
  if (!prefixed) throw new Error(`${name}: no global or unique local IPv6 address in a /64`);
  const prefix = bytesOf(prefixed.address).subarray(0, 8);
  return { name, index, prefix, leases: new Map(), nextHost: FIRST_HOST };
}

/** The 16 bytes of an IPv6 address. */
function bytesOf(address) {
  const [head, tail = ''] = address.split('%')[0].split('::');
  const groups = (text) => (text ? text.split(':').map((group) => parseInt(group, 16)) : []);
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  return Buffer.from(all.flatMap((group) => [group >> 8, group & 0xff]));
}

/** An IPv6 address in its canonical text form. */
function toText(bytes) {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** A lease is for one IA (identity association) of one client. */
const leaseKey = (request) => `${request.clientId.toString('hex')}/${request.iaid.toString('hex')}`;

/** The address leased to the client's IA on link: 16 bytes. */
function leaseOf(link, request) {
  const key = leaseKey(request);
  if (!link.leases.has(key)) {
    const address = Buffer.alloc(16);
    link.prefix.copy(address);
    address.writeUInt32BE(link.nextHost++, 12);
    link.leases.set(key, address);
  }
  return link.leases.get(key);
}

const names = process.argv.slice(2);
if (names.length === 0) {
  console.error('usage: node examples/dhcp6-server <interface> ...');
  process.exit(2);
}
const links = new Map(names.map((name) => {
  const link = linkFor(name);
  return [link.index, link];
}));
const serverId = duidOf(names[0]);

/** The answer to request on link, { message, address }, or undefined for silence. */
function answer(request, link) {
  // A SOLICIT names no server; a REQUEST, RENEW or RELEASE names the one it is for (RFC 8415 16).
  if (request.type === SOLICIT && request.serverId) return undefined;
  const ours = Boolean(request.serverId) && request.serverId.equals(serverId);
  if ([REQUEST, RENEW, RELEASE].includes(request.type) && !ours) return undefined;
  const header = Buffer.concat([Buffer.from([request.type === SOLICIT ? ADVERTISE : REPLY]), request.transactionId]);
  const ids = [option(CLIENT_ID, request.clientId), option(SERVER_ID, serverId)];
  if (request.type === RELEASE) {
    if (request.iaid) link.leases.delete(leaseKey(request));
    return { message: Buffer.concat([header, ...ids, option(STATUS_CODE, Buffer.from([0, 0]), Buffer.from('released'))]), address: '' };
  }
  if (![SOLICIT, REQUEST, RENEW, REBIND].includes(request.type) || !request.iaid) return undefined;
  const address = leaseOf(link, request);
  const iaNa = option(IA_NA, request.iaid, uint32(PREFERRED_SECONDS / 2), uint32(PREFERRED_SECONDS * 0.8),
    option(IA_ADDRESS, address, uint32(PREFERRED_SECONDS), uint32(VALID_SECONDS)));
  // Preference 255 tells the client to take this ADVERTISE at once instead of waiting for others.
  const preference = request.type === SOLICIT ? [option(PREFERENCE, Buffer.from([255]))] : [];
  return { message: Buffer.concat([header, ...ids, iaNa, ...preference]), address: toText(address) };
}

const server = createSocket({ type: 'udp6' });

server.on('message', (message, rinfo) => {
  const request = parse(message);
  if (!request) return;
  const link = links.get(rinfo.interfaceIndex);
  if (!link) {
    const where = rinfo.interfaceIndex === undefined ? 'no interface reported' : `interface ${rinfo.interfaceIndex}, not served`;
    console.log(`${TYPE_NAMES[request.type]} from ${rinfo.address} ignored: ${where}`);
    return;
  }
  const response = answer(request, link);
  if (!response) return;
  const { message: reply, address } = response;
  // The client's link-local address (with its zone) on the link the request came in on.
  server.reply(rinfo, reply, (error) => {
    if (error) console.error(`answer to ${rinfo.address} failed: ${error.code}`);
  });
  console.log(`${TYPE_NAMES[request.type]} from ${rinfo.address} on ${link.name} -> ${TYPE_NAMES[reply[0]]} ${address}`);
});
server.on('error', (error) => {
  console.error(error);
  process.exitCode = 1;
  server.close();
});
server.bind(SERVER_PORT, '::', () => {
  // Joined once bound: dgram binds an unbound socket to a random port to join.
  for (const link of links.values()) server.addMembership(ALL_SERVERS_AND_RELAYS, `::%${link.name}`);
  console.log(`dhcp6-server listening on [::]:${SERVER_PORT}, in ${ALL_SERVERS_AND_RELAYS} on ${names.join(', ')}`);
});
process.on('SIGTERM', () => server.close());
process.on('SIGINT', () => server.close());
