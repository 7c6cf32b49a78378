// An mDNS responder (RFC 6762, RFC 6763) for a host name and one service, on every link.
//
//   node examples/mdns-responder [name]      default name: sendmsg-example
//
// It answers <name>.local (A, AAAA) and the service "<name>._http._tcp.local" (PTR from
// _http._tcp.local, SRV, TXT), always with the addresses of the link the query came in on:
// an address of another link is useless to the asker, and names a network it should not see.
//
// What it shows: one socket per family, joined to 224.0.0.251 or ff02::fb on every link, in
// place of one socket per interface (one per family, because dgram's forms of an interface
// cannot join an IPv4 group on a udp6 socket). rinfo.interfaceIndex says which link each query came in
// on; the answer is multicast out of that link only, with { interfaceIndex } on the send
// (RFC 6762 6). rinfo.destinationAddress tells a query sent to the group from one sent to this
// host's own address. A legacy query, from a port other than 5353 (dig @host -p 5353, a
// plain resolver), is answered by unicast with reply(), from the address it was sent to. It
// needs sendmsg's multicast API: addMembership(group, interface) as dgram takes it.
//
// Kept out, for a short example: probing and announcing (RFC 6762 8), known-answer
// suppression, response delays and interfaces that appear after the start.
//
// DNS messages are encoded and decoded by dns-packet: about 60 million downloads a month (it
// is the wire format of multicast-dns and bonjour), maintained, with types in
// @types/dns-packet.
const dnsPacket = require('dns-packet');
// SENDMSG_EXAMPLE_MODULE=dgram runs this same program on Node's dgram: the control of
// `npm run test:clients` (see on-dgram.js).
const { createSocket } = process.env.SENDMSG_EXAMPLE_MODULE === 'dgram' ? require('./on-dgram') : require('sendmsg');
const { listInterfaces } = require('./interfaces');

const PORT = 5353;
const GROUPS = { udp4: '224.0.0.251', udp6: 'ff02::fb' };
// RFC 6762 10: host records live 120 s, the others 75 minutes; a legacy answer at most 10 s.
const HOST_TTL = 120;
const OTHER_TTL = 4500;
const LEGACY_TTL = 10;

const label = process.argv[2] || 'sendmsg-example';
const host = `${label}.local`;
const serviceType = '_http._tcp.local';
const instance = `${label}.${serviceType}`;
const SERVICE_TYPES = '_services._dns-sd._udp.local'; // RFC 6763 9: service type enumeration

/** The records that answer question, with the addresses of link, and those that go with them. */
function recordsFor(question, link) {
  const name = question.name.toLowerCase();
  const wants = (type) => question.type === type || question.type === 'ANY';
  const addresses = (type, family) => link.addresses.filter((entry) => entry.family === family)
    .map((entry) => ({ name: host, type, ttl: HOST_TTL, flush: true, data: entry.address }));
  const hostRecords = [...addresses('A', 'IPv4'), ...addresses('AAAA', 'IPv6')];
  const srv = { name: instance, type: 'SRV', ttl: HOST_TTL, flush: true, data: { priority: 0, weight: 0, port: 8080, target: host } };
  const txt = { name: instance, type: 'TXT', ttl: OTHER_TTL, flush: true, data: ['path=/'] };
  if (name === SERVICE_TYPES && wants('PTR')) {
    return { answers: [{ name: SERVICE_TYPES, type: 'PTR', ttl: OTHER_TTL, data: serviceType }], additionals: [] };
  }
  if (name === serviceType && wants('PTR')) {
    return { answers: [{ name: serviceType, type: 'PTR', ttl: OTHER_TTL, data: instance }], additionals: [srv, txt, ...hostRecords] };
  }
  if (name === instance) {
    return { answers: [...(wants('SRV') ? [srv] : []), ...(wants('TXT') ? [txt] : [])], additionals: hostRecords };
  }
  if (name === host) {
    return { answers: hostRecords.filter((record) => wants(record.type)), additionals: [] };
  }
  return { answers: [], additionals: [] };
}

/** The response to query on link: the records of all its questions, each once. */
function responseTo(query, link) {
  const answers = new Map();
  const additionals = new Map();
  const key = (record) => `${record.name}/${record.type}/${JSON.stringify(record.data)}`;
  for (const question of query.questions) {
    const records = recordsFor(question, link);
    for (const record of records.answers) answers.set(key(record), record);
    for (const record of records.additionals) additionals.set(key(record), record);
  }
  for (const known of answers.keys()) additionals.delete(known);
  return { answers: [...answers.values()], additionals: [...additionals.values()] };
}

// The links to serve: every interface with an address but the loopback.
const links = listInterfaces().filter((link) =>
  !link.addresses.some((entry) => entry.address === '127.0.0.1' || entry.address === '::1'));

function serve(type) {
  const group = GROUPS[type];
  const family = type === 'udp4' ? 'IPv4' : 'IPv6';
  // reuseAddr: the port is shared with any other mDNS stack on the host. ipv6Only: the udp4
  // socket takes the IPv4 queries.
  const socket = createSocket({ type, reuseAddr: true, ipv6Only: type === 'udp6' });

  socket.on('message', (message, rinfo) => {
    let query;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    if (query.type !== 'query') return; // other responders' answers
    const link = links.find((candidate) => candidate.index === rinfo.interfaceIndex);
    if (!link) {
      console.log(`query from ${rinfo.address} ignored: ${rinfo.interfaceIndex === undefined ? 'no interface reported' : 'not a served link'}`);
      return;
    }
    const { answers, additionals } = responseTo(query, link);
    if (answers.length === 0) return;
    const done = (error) => {
      if (error) console.error(`answer to ${rinfo.address} on ${link.name} failed: ${error.code}`);
    };
    const asked = query.questions.map((question) => `${question.type} ${question.name}`).join(', ');
    if (rinfo.port !== PORT) {
      // A legacy query (RFC 6762 6.7): a unicast answer that echoes the id and the questions,
      // with short TTLs and no cache-flush bits, from the address the query was sent to.
      const legacy = (record) => ({ ...record, ttl: Math.min(record.ttl, LEGACY_TTL), flush: false });
      socket.reply(rinfo, dnsPacket.encode({
        id: query.id, type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: query.questions,
        answers: answers.map(legacy), additionals: additionals.map(legacy),
      }), done);
      console.log(`legacy ${asked} from ${rinfo.address} on ${link.name}: unicast answer`);
      return;
    }
    const response = dnsPacket.encode({ id: 0, type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, answers, additionals });
    if (rinfo.destinationAddress !== undefined && rinfo.destinationAddress !== group) {
      // Sent to this host's own address, not the group (RFC 6762 5.5): answered the same way.
      socket.reply(rinfo, response, done);
      console.log(`${asked} from ${rinfo.address}, to ${rinfo.destinationAddress}: unicast answer`);
      return;
    }
    // Multicast, out of the link the query came in on and no other.
    socket.send(response, { address: group, port: PORT, interfaceIndex: link.index }, done);
    console.log(`${asked} from ${rinfo.address} on ${link.name}: multicast answer`);
  });
  socket.on('error', (error) => {
    console.error(error);
    process.exitCode = 1;
    socket.close();
  });
  socket.bind(PORT, type === 'udp4' ? '0.0.0.0' : '::', () => {
    socket.setMulticastTTL(255); // RFC 6762 11: receivers check that it is 255
    // Joined once bound: dgram binds an unbound socket to a random port to join.
    const joined = [];
    for (const link of links) {
      const own = link.addresses.find((entry) => entry.family === family);
      if (!own) continue;
      // dgram's forms of an interface: an IPv4 address of it on udp4, '::%<name>' on udp6.
      socket.addMembership(group, type === 'udp4' ? own.address : `::%${link.name}`);
      joined.push(link.name);
    }
    console.log(`mdns-responder (${type}) listening on port ${PORT}, in ${group} on ${joined.join(', ')}, for ${host}`);
  });
  return socket;
}

const sockets = [serve('udp4'), serve('udp6')];
const stop = () => sockets.forEach((socket) => socket.close());
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
