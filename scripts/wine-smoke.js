'use strict';
// A smoke test of the raw binding, for a Windows build run under Wine (scripts/test-wine.sh)
// and, for comparison, for the native build on Linux:
//   node scripts/wine-smoke.js            # whatever node-gyp-build finds
//   PREBUILDS_ONLY=1 wine node.exe -r scripts/wine-stdio-shim.js scripts/wine-smoke.js
// "check" lines must hold everywhere and decide the exit code; "note" lines report what this
// OS (or Wine) did where platforms are known to differ.
// With --load-only it only loads the addon and opens, binds and closes a socket.
const path = require('path');

const root = path.resolve(__dirname, '..');
const binding = require('node-gyp-build')(root);
const { makeBindAddress, makeDestination, writeRecord } = require(path.join(root, 'dist', 'send-record'));
const underWine = process.env.SENDMSG_UNDER_WINE === '1';
const loadOnly = process.argv.includes('--load-only');

let failures = 0;
let passes = 0;
function check(name, ok, detail) {
  if (ok) passes++;
  else failures++;
  console.log(`${ok ? 'check ok  ' : 'check FAIL'} ${name}${detail === undefined ? '' : ': ' + detail}`);
}
function note(name, detail) {
  console.log(`note       ${name}: ${detail}`);
}

const stride = binding.metaStride;
// native-common/udp_handle.h, enum Meta.
const M = { length: 0, flags: 1, peerFamily: 2, peerPort: 3, peerAddress: 4, peerScope: 8,
  localFamily: 9, localAddress: 10, destinationFamily: 14, destinationAddress: 15, interfaceIndex: 19,
  arena: 20, arenaOffset: 21 };

function formatAddress(meta, base, family) {
  const bytes = Buffer.from(meta.buffer, meta.byteOffset + base * 4, 16);
  if (family === 4) return Array.from(bytes.subarray(0, 4)).join('.');
  if (family === 6) {
    const words = [];
    for (let i = 0; i < 16; i += 2) words.push(bytes.readUInt16BE(i).toString(16));
    return words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  }
  return undefined;
}

function open(family, { ipv6Only = false, maxMessageSize = 65535 } = {}) {
  const meta = new Int32Array(binding.receiveBatch * stride);
  const records = new Int32Array(binding.sendBatchSize * binding.sendRecordStride);
  const handle = new binding.UdpHandle(family, ipv6Only, false, maxMessageSize, meta, records, false);
  // The addon reads where to bind or send from a record that src/send-record.ts writes (the
  // package's one address parser); these keep the smoke test's calls short.
  const nativeBind = handle.bind.bind(handle);
  const nativeSend = handle.send.bind(handle);
  // (The class's methods are read-only properties: own ones are defined over them.)
  Object.defineProperty(handle, 'bind', {
    value: (address, port) => {
      writeRecord(records, 0, makeBindAddress(family, port, address));
      return nativeBind();
    },
  });
  Object.defineProperty(handle, 'send', {
    value: (msg, address, port, localAddress, interfaceIndex) => {
      writeRecord(records, 0, makeDestination(family, port, address, localAddress, interfaceIndex || undefined));
      return nativeSend(msg);
    },
  });
  const queue = [];
  let waiter = null;
  handle.onmessage = (count, ...arenas) => {
    Array.from({ length: count }, (_, i) => i).forEach((i) => {
      const r = i * stride;
      const buffer = Buffer.from(arenas[meta[r + M.arena]], meta[r + M.arenaOffset], meta[r + M.length]);
      const localFamily = meta[r + M.localFamily];
      const destinationFamily = meta[r + M.destinationFamily];
      queue.push({
        data: buffer,
        length: meta[r + M.length],
        truncated: (meta[r + M.flags] & 1) !== 0,
        controlTruncated: (meta[r + M.flags] & 2) !== 0,
        peerFamily: meta[r + M.peerFamily],
        peer: formatAddress(meta, r + M.peerAddress, meta[r + M.peerFamily]),
        peerPort: meta[r + M.peerPort],
        localFamily,
        local: formatAddress(meta, r + M.localAddress, localFamily),
        destinationFamily,
        destination: formatAddress(meta, r + M.destinationAddress, destinationFamily),
        interfaceIndex: meta[r + M.interfaceIndex],
      });
    });
    if (waiter) waiter();
  };
  handle.onerror = (info, where) => note('onerror', `${where} ${JSON.stringify(info)}`);
  handle.next = (ms = 1000) => new Promise((resolve) => {
    if (queue.length) return resolve(queue.shift());
    const timer = setTimeout(() => { waiter = null; resolve(null); }, ms);
    waiter = () => { clearTimeout(timer); waiter = null; resolve(queue.shift()); };
  });
  return handle;
}

function bind(handle, address, port = 0) {
  const error = handle.bind(address, port);
  if (error) throw new Error(`bind ${address}: ${JSON.stringify(error)}`);
  return handle.address().port;
}

async function roundTrip(name, receiver, sender, to, port, expect) {
  const sent = sender.send(Buffer.from(name), to, port);
  if (typeof sent !== 'number') {
    check(`${name}: send`, false, JSON.stringify(sent));
    return null;
  }
  const message = await receiver.next();
  check(`${name}: received`, message !== null && message.data.toString() === name);
  if (!message) return null;
  const got = { peer: message.peer, local: message.local, destination: message.destination };
  const ok = Object.keys(expect).every((key) => got[key] === expect[key]);
  check(`${name}: packet info`, ok && message.interfaceIndex > 0,
    `${JSON.stringify(got)} ifindex ${message.interfaceIndex}`);
  return message;
}

async function main() {
  console.log(`backend ${binding.backend}, node ${process.version} ${process.platform}, ` +
    `exe ${path.basename(process.execPath)}${underWine ? ', under Wine' : ''}`);
  if (process.platform === 'win32') check('backend name', binding.backend === 'win32');

  if (loadOnly) {
    const handle = open(4);
    const port = bind(handle, '127.0.0.1');
    check('socket opens and binds', port > 0, `127.0.0.1:${port}`);
    handle.close();
    return;
  }

  // IPv4: local and destination are the unicast address the datagram was sent to.
  const v4 = open(4);
  const v4Port = bind(v4, '127.0.0.1');
  const v4Sender = open(4);
  bind(v4Sender, '127.0.0.1');
  const v4Message = await roundTrip('ipv4', v4, v4Sender, '127.0.0.1', v4Port,
    { peer: '127.0.0.1', local: '127.0.0.1', destination: '127.0.0.1' });
  if (v4Message) {
    note('interfaceName', `${v4Message.interfaceIndex} -> ${binding.interfaceName(v4Message.interfaceIndex)}`);
  }

  // IPv6 ::1.
  const v6 = open(6, { ipv6Only: true });
  const v6Port = bind(v6, '::1');
  const v6Sender = open(6, { ipv6Only: true });
  bind(v6Sender, '::1');
  await roundTrip('ipv6', v6, v6Sender, '::1', v6Port, { peer: '::1', local: '::1', destination: '::1' });

  // Dual-stack: IPv4 arrives in the plain IPv4 form, IPv6 as IPv6.
  const dual = open(6, { ipv6Only: false });
  const dualPort = bind(dual, '::');
  await roundTrip('dual-stack ipv4', dual, v4Sender, '127.0.0.1', dualPort,
    { peer: '127.0.0.1', local: '127.0.0.1', destination: '127.0.0.1' });
  await roundTrip('dual-stack ipv6', dual, v6Sender, '::1', dualPort,
    { peer: '::1', local: '::1', destination: '::1' });
  // A dual-stack socket sending to an IPv4 peer from a chosen IPv4 source: IN_PKTINFO.
  const dualSend = dual.send(Buffer.from('dual-stack reply'), '127.0.0.1', v4Port, '127.0.0.1', 0);
  const dualReply = await v4.next();
  check('dual-stack send with IPv4 source', typeof dualSend === 'number' && dualReply !== null,
    dualReply ? `peer ${dualReply.peer}` : JSON.stringify(dualSend));

  // Gather list, and an empty datagram.
  v4Sender.send([Buffer.from('ga'), Buffer.from('th'), Buffer.from('er')], '127.0.0.1', v4Port);
  const gathered = await v4.next();
  check('gather send', gathered !== null && gathered.data.toString() === 'gather');
  v4Sender.send(Buffer.alloc(0), '127.0.0.1', v4Port);
  const empty = await v4.next();
  check('empty datagram', empty !== null && empty.length === 0);

  // Truncation: POSIX says MSG_TRUNC, Windows WSAEMSGSIZE; both become truncated = true.
  const small = open(4, { maxMessageSize: 4 });
  const smallPort = bind(small, '127.0.0.1');
  v4Sender.send(Buffer.from('0123456789'), '127.0.0.1', smallPort);
  const cut = await small.next();
  check('truncated datagram', cut !== null && cut.truncated && cut.length === 4 &&
    cut.data.toString() === '0123', cut && JSON.stringify({ length: cut.length, truncated: cut.truncated,
    peer: cut.peer, local: cut.local }));

  // Source selection. On Linux the datagram leaves from 127.0.0.2; Wine 8 ignores the control
  // data of WSASendMsg, so it leaves from the bound address.
  const unbound = open(4);
  bind(unbound, '0.0.0.0');
  const chosen = unbound.send(Buffer.from('from 127.0.0.2'), '127.0.0.1', v4Port, '127.0.0.2', 0);
  const chosenMessage = await v4.next();
  check('send with a source address', typeof chosen === 'number' && chosenMessage !== null,
    JSON.stringify(chosen));
  if (chosenMessage) note('chosen source 127.0.0.2 arrived from', chosenMessage.peer);
  const v6Chosen = dual.send(Buffer.from('v6 source'), '::1', v6Port, '::1', 0);
  const v6ChosenMessage = await v6.next();
  check('IPv6 send with a source address', typeof v6Chosen === 'number' && v6ChosenMessage !== null,
    JSON.stringify(v6Chosen));
  const foreign = unbound.send(Buffer.from('x'), '127.0.0.1', v4Port, '192.0.2.1', 0);
  note('send from a non-local source 192.0.2.1', JSON.stringify(foreign));
  await v4.next(200);

  // Broadcast: without SO_BROADCAST it is EACCES; with it, the subnet broadcast arrives.
  const broadcaster = open(4);
  bind(broadcaster, '127.0.0.1');
  const refused = broadcaster.send(Buffer.from('x'), '127.255.255.255', v4Port);
  check('broadcast without SO_BROADCAST', refused && refused.code === 'EACCES', JSON.stringify(refused));
  const wildcard = open(4);
  const wildcardPort = bind(wildcard, '0.0.0.0');
  broadcaster.setOption('broadcast', 1);
  check('getOption broadcast', broadcaster.getOption('broadcast') !== 0);
  const toBroadcast = broadcaster.send(Buffer.from('subnet broadcast'), '127.255.255.255', wildcardPort);
  const broadcastMessage = await wildcard.next();
  note('send to 127.255.255.255', broadcastMessage ? JSON.stringify({ local: broadcastMessage.local,
    destination: broadcastMessage.destination, ifindex: broadcastMessage.interfaceIndex })
    : `nothing arrived (send: ${JSON.stringify(toBroadcast)})`);
  // The limited broadcast could leave the machine: only inside a network namespace of our own
  // (scripts/test-wine.sh runs in `unshare -n`, where there is nothing but lo).
  if (process.env.SENDMSG_PRIVATE_NETNS === '1') {
    const limited = broadcaster.send(Buffer.from('limited broadcast'), '255.255.255.255', wildcardPort);
    const limitedMessage = await wildcard.next(500);
    note('send to 255.255.255.255', limitedMessage ? JSON.stringify({ local: limitedMessage.local,
      destination: limitedMessage.destination }) : `nothing arrived (send: ${JSON.stringify(limited)})`);
  }

  // ICMP port unreachable: no error may reach the receive path.
  const lonely = open(4);
  const lonelyPort = bind(lonely, '127.0.0.1');
  const closed = open(4);
  const closedPort = bind(closed, '127.0.0.1');
  closed.close();
  lonely.send(Buffer.from('to nobody'), '127.0.0.1', closedPort);
  await new Promise((resolve) => setTimeout(resolve, 200));
  v4Sender.send(Buffer.from('after icmp'), '127.0.0.1', lonelyPort);
  const afterIcmp = await lonely.next();
  check('receive after an ICMP port unreachable', afterIcmp !== null && afterIcmp.data.toString() === 'after icmp');

  // Options.
  v4.setOption('ttl', 17);
  check('ttl option', v4.getOption('ttl') === 17);
  v6.setOption('ttl', 18);
  check('ipv6 hop limit option', v6.getOption('ttl') === 18);
  note('recvBufferSize', v4.getOption('recvBufferSize'));

  // Errors.
  for (const osErrno of process.platform === 'win32' ? [10035, 10040, 10058, 10052, 10093, 10048, 12345] : [11, 90]) {
    note(`describeError(${osErrno})`, JSON.stringify(binding.describeError(osErrno)));
  }

  for (const handle of [v4, v4Sender, v6, v6Sender, dual, small, unbound, broadcaster, wildcard, lonely]) {
    handle.close();
  }
}

main().then(() => {
  console.log(`${passes} passed, ${failures} failed`);
  process.exitCode = failures ? 1 : 0;
}, (error) => {
  console.log(error.stack);
  process.exitCode = 2;
});
