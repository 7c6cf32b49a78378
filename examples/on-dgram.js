// The examples on Node's dgram: SENDMSG_EXAMPLE_MODULE=dgram makes each example load this
// module instead of sendmsg. It is the control of `npm run test:clients`: the same program, the
// same real clients, and only what dgram can do, so the tier shows where dgram fails and that
// its checks can fail. Nobody needs it to use sendmsg.
//
// A dgram socket has no reply() and takes no send options. This adds both, doing what a careful
// dgram program can and nothing more:
// - rinfo has no localAddress, destinationAddress or interface, except that the zone dgram
//   writes in a link-local sender's address (fe80::2%eth0) names the link: interfaceIndex and
//   interfaceName are taken from it there.
// - reply(rinfo, msg) sends to the sender; the kernel picks the source.
// - send(msg, { address, port, localAddress, interfaceIndex }) cannot choose a source, so
//   localAddress is dropped; interfaceIndex becomes the zone of a link-local destination, or the
//   multicast interface (setMulticastInterface) of a multicast send. A broadcast leaves by the
//   route the kernel picks: dgram cannot choose its link.
const dgram = require('dgram');
const net = require('net');
const { listInterfaces } = require('./interfaces');

const isMulticast = (address) => /^(2(2[4-9]|3\d)\.|ff)/i.test(address);
const isLinkLocal = (address) => /^fe[89ab]/i.test(address);

function interfaceByName(name) {
  return listInterfaces().find((candidate) => candidate.name === name);
}

function interfaceByIndex(index) {
  return listInterfaces().find((candidate) => candidate.index === index);
}

function withLinkFromZone(rinfo) {
  const zone = rinfo.address.split('%')[1];
  const link = zone === undefined ? undefined : interfaceByName(zone);
  return { ...rinfo, interfaceIndex: link && link.index, interfaceName: link && link.name };
}

function createSocket(options, listener) {
  const socket = dgram.createSocket(options);
  const emit = socket.emit.bind(socket);
  socket.emit = (event, ...args) => (event === 'message' ? emit(event, args[0], withLinkFromZone(args[1])) : emit(event, ...args));
  if (listener) socket.on('message', listener);

  const send = socket.send.bind(socket);
  socket.send = (msg, ...args) => {
    if (typeof args[0] !== 'object' || args[0] === null) return send(msg, ...args);
    const [{ address, port, interfaceIndex }, callback] = args;
    const link = interfaceIndex === undefined ? undefined : interfaceByIndex(interfaceIndex);
    let destination = address;
    if (link && isMulticast(address)) {
      // dgram names an IPv4 multicast interface by one of its addresses, an IPv6 one by a zone.
      const ipv4 = link.addresses.find((entry) => entry.family === 'IPv4');
      if (net.isIPv6(address)) socket.setMulticastInterface(`::%${link.name}`);
      else if (ipv4) socket.setMulticastInterface(ipv4.address);
    } else if (link && isLinkLocal(address) && !address.includes('%')) {
      destination = `${address}%${link.name}`;
    }
    return send(msg, port, destination, callback);
  };
  socket.reply = (rinfo, msg, callback) => send(msg, rinfo.port, rinfo.address, callback);
  return socket;
}

module.exports = { createSocket };
