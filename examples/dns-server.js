// An authoritative DNS server for one small zone, on port 53 of every address of the host.
//
//   node examples/dns-server [port]          then: dig @<any address of this host> www.example.test
//
// What it shows: one socket on the wildcard address answers each query from the address the
// query was sent to, with reply(). On a host with several addresses (an alias, a service
// address, IPv6 privacy addresses, a link-local address), Node's dgram would let the kernel
// pick the source of the answer, often another address than the one the client asked, and
// the client drops it: dig says "reply from unexpected source". A link-local query
// (dig @fe80::1%eth0) is answered on the link it came in on.
//
// DNS messages are encoded and decoded by dns-packet: about 60 million downloads a month (it
// is the wire format of multicast-dns and bonjour), maintained, with types in
// @types/dns-packet.
const dnsPacket = require('dns-packet');
const rcodes = require('dns-packet/rcodes');
// SENDMSG_EXAMPLE_MODULE=dgram runs this same program on Node's dgram: the control of
// `npm run test:clients` (see on-dgram.js).
const { createSocket } = process.env.SENDMSG_EXAMPLE_MODULE === 'dgram' ? require('./on-dgram') : require('sendmsg');

const ZONE = 'example.test';
const TTL = 300;
const OPCODE_BITS = 0x7800;
// The zone's records by lower-case name. Documentation addresses (RFC 5737, RFC 3849).
const RECORDS = {
  'www.example.test': [
    { type: 'A', data: '203.0.113.80' },
    { type: 'AAAA', data: '2001:db8::80' },
  ],
};
// Every negative answer carries the zone's SOA, so resolvers can cache it (RFC 2308).
const SOA = {
  name: ZONE, type: 'SOA', ttl: TTL,
  data: { mname: `ns.${ZONE}`, rname: `hostmaster.${ZONE}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: TTL },
};

/** The response to one query, or undefined for what deserves no answer (responses, garbage). */
function answer(message) {
  let query;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return undefined; // not DNS: answering noise would make this server a reflector
  }
  if (query.type !== 'query') return undefined;
  const respond = (rcode, { answers = [], authorities = [], authoritative = true } = {}) => ({
    id: query.id,
    type: 'response',
    // dns-packet takes the rcode in the low bits of flags; the opcode and RD are echoed.
    flags: (query.flags & (OPCODE_BITS | dnsPacket.RECURSION_DESIRED)) |
      (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rcodes.toRcode(rcode),
    questions: query.questions,
    answers,
    authorities,
    // A query with EDNS gets EDNS back (RFC 6891); 1232 bytes fit any path without fragments.
    additionals: query.additionals.some((record) => record.type === 'OPT')
      ? [{ name: '.', type: 'OPT', udpPayloadSize: 1232, flags: 0, options: [] }] : [],
  });
  if (query.opcode !== 'QUERY' || query.questions.length !== 1) return respond('NOTIMP');
  const [question] = query.questions;
  const name = question.name.toLowerCase();
  if (name !== ZONE && !name.endsWith(`.${ZONE}`)) return respond('REFUSED', { authoritative: false });
  const records = RECORDS[name];
  if (!records && name !== ZONE) return respond('NXDOMAIN', { authorities: [SOA] });
  const answers = (records || [])
    .filter((record) => question.type === record.type || question.type === 'ANY')
    .map((record) => ({ name: question.name, ttl: TTL, ...record }));
  if (name === ZONE && (question.type === 'SOA' || question.type === 'ANY')) answers.push(SOA);
  // The name exists but has no record of this type: NOERROR with the SOA (NODATA).
  return respond('NOERROR', answers.length > 0 ? { answers } : { authorities: [SOA] });
}

const port = Number(process.argv[2] || 53);
// One udp6 socket on [::] takes IPv4 too (dual stack); rinfo reports IPv4 peers as plain IPv4.
const server = createSocket({ type: 'udp6' });

server.on('message', (message, rinfo) => {
  const response = answer(message);
  if (!response) return;
  // reply() sends from rinfo.localAddress, the address this query was sent to, and on its link.
  server.reply(rinfo, dnsPacket.encode(response), (error) => {
    if (error) console.error(`answer to ${rinfo.address} failed: ${error.code}`);
  });
  const where = rinfo.localAddress ? ` (to ${rinfo.localAddress} on ${rinfo.interfaceName})` : '';
  const asked = response.questions.map((question) => `${question.type} ${question.name}`).join(', ');
  console.log(`${rinfo.address} asked ${asked}${where}: ${rcodes.toString(response.flags & 0xf)}`);
});
server.on('error', (error) => {
  console.error(error);
  process.exitCode = 1;
  server.close();
});
server.bind(port, '::', () => console.log(`dns-server listening on [::]:${server.address().port}`));
process.on('SIGTERM', () => server.close());
process.on('SIGINT', () => server.close());
