// The host's network interfaces with their indexes: [{ name, index, addresses: [{ address,
// family, netmask, cidr }] }]. The DHCP and mDNS examples need it: a datagram says which
// interface it came in on by index (rinfo.interfaceIndex), and a server that sends first needs
// an index to send out of a given link. os.networkInterfaces() has the addresses but not the
// index.
//
// sendmsg's own listInterfaces() gives exactly this (it asks the OS for each index); until a
// build has it, the index is read from /sys/class/net/<name>/ifindex. That file is Linux's, and
// in a network namespace it is right only with /sys mounted for that namespace, as
// `ip netns exec` does.
const fs = require('fs');
const os = require('os');
const sendmsg = require('sendmsg');

function fromOs() {
  return Object.entries(os.networkInterfaces()).map(([name, addresses]) => ({
    name,
    index: Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')),
    addresses: addresses.map(({ address, family, netmask, cidr }) => ({ address, family, netmask, cidr })),
  }));
}

const listInterfaces = typeof sendmsg.listInterfaces === 'function' ? sendmsg.listInterfaces : fromOs;

/** The interface named name, or one that says in its error what there is. */
function interfaceNamed(name) {
  const found = listInterfaces().find((candidate) => candidate.name === name);
  if (!found) {
    const names = listInterfaces().map((candidate) => candidate.name).join(', ');
    throw new Error(`no interface named ${name} with an address (there are: ${names})`);
  }
  return found;
}

module.exports = { listInterfaces, interfaceNamed };
