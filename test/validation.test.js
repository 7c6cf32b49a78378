// Bad input gets a clear TypeError or RangeError with Node's ERR_* code; nothing crashes, and
// the socket still works afterwards.
const dgram = require('dgram');
const sendmsg = require('..');
const { binding } = require('../dist/native');
const { assert, nextMessage, bound, closeAll } = require('./helpers');

const longList = Array.from({ length: binding.maxGatherBuffers + 1 }, () => Buffer.from('x'));

// [what, call(socket, port), error class, code, words the message must contain, dgram too]
// Where the last column is true, the same call on a dgram socket must throw the same: the
// suite itself shows the two agree.
const BAD_CALLS = [
  ['msg of a wrong type', (s, p) => s.send(42, p, '127.0.0.1'), TypeError, 'ERR_INVALID_ARG_TYPE', '"buffer', true],
  ['msg gather list with a number in it', (s, p) => s.send(['a', 1], p, '127.0.0.1'), TypeError, 'ERR_INVALID_ARG_TYPE', '"buffer', true],
  ['a gather list too long', (s, p) => s.send(longList, p, '127.0.0.1'), RangeError, 'ERR_OUT_OF_RANGE', 'buffer.length'],
  ['port out of range', (s) => s.send('x', 70000, '127.0.0.1'), RangeError, 'ERR_SOCKET_BAD_PORT', '70000', true],
  ['port 0', (s) => s.send('x', 0, '127.0.0.1'), RangeError, 'ERR_SOCKET_BAD_PORT', 'Port', true],
  ['port not an integer', (s) => s.send('x', 1.5, '127.0.0.1'), RangeError, 'ERR_SOCKET_BAD_PORT', '1.5', true],
  ['port of a wrong type', (s) => s.send('x', { port: {} }), TypeError, 'ERR_INVALID_ARG_TYPE', '"Port"'],
  ['an unparsable address', (s, p) => s.send('x', p, 'not an ip'), TypeError, 'ERR_INVALID_IP_ADDRESS', 'not an ip'],
  ['a dotted address that is no IPv4 literal (not resolved as 1.2.0.3)', (s, p) => s.send('x', p, '1.2.3'), TypeError, 'ERR_INVALID_IP_ADDRESS', '1.2.3'],
  ['an address of a wrong type', (s, p) => s.send('x', p, 7), TypeError, 'ERR_INVALID_ARG_TYPE', '"address"', true],
  ['an address of false, which is no loopback', (s, p) => s.send('x', p, false), TypeError, 'ERR_INVALID_ARG_TYPE', '"address"', true],
  ['an address of 0, which is no loopback', (s, p) => s.send('x', p, 0), TypeError, 'ERR_INVALID_ARG_TYPE', '"address"', true],
  ['an IPv6 destination on udp4', (s, p) => s.send('x', p, '::1'), TypeError, 'ERR_INVALID_ARG_VALUE', 'udp4'],
  ['a localAddress of the other family', (s, p) => s.send('x', { port: p, address: '127.0.0.1', localAddress: '::1' }), TypeError, 'ERR_INVALID_ARG_VALUE', 'localAddress'],
  ['an unparsable localAddress', (s, p) => s.send('x', { port: p, address: '127.0.0.1', localAddress: '1.2.3' }), TypeError, 'ERR_INVALID_IP_ADDRESS', 'localAddress'],
  ['interfaceIndex negative', (s, p) => s.send('x', { port: p, address: '127.0.0.1', interfaceIndex: -1 }), RangeError, 'ERR_OUT_OF_RANGE', 'interfaceIndex'],
  ['interfaceIndex of a wrong type', (s, p) => s.send('x', { port: p, address: '127.0.0.1', interfaceIndex: '1' }), TypeError, 'ERR_INVALID_ARG_TYPE', 'interfaceIndex'],
  ['an interfaceName no interface has', (s, p) => s.send('x', { port: p, address: '127.0.0.1', interfaceName: 'nosuch0' }), TypeError, 'ERR_INVALID_ARG_VALUE', 'nosuch0'],
  ['interfaceIndex and interfaceName both', (s, p) => s.send('x', { port: p, interfaceIndex: 1, interfaceName: 'lo' }), TypeError, 'ERR_INVALID_ARG_VALUE', 'interfaceName'],
  ['a callback that is no function', (s, p) => s.send('x', p, '127.0.0.1', 'cb'), TypeError, 'ERR_INVALID_ARG_TYPE', '"callback"'],
  ['offset past the end', (s, p) => s.send(Buffer.from('abc'), 5, 1, p, '127.0.0.1'), RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', '"offset"', true],
  ['length past the end', (s, p) => s.send(Buffer.from('abc'), 1, 5, p, '127.0.0.1'), RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', '"length"', true],
  ['a negative offset', (s, p) => s.send(Buffer.from('abc'), -1, 1, p, '127.0.0.1'), RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', '"offset"', true],
  ['reply without rinfo', (s) => s.reply(null, 'x'), TypeError, 'ERR_INVALID_ARG_TYPE', '"rinfo"'],
  ['bind twice', (s) => s.bind(0), Error, 'ERR_SOCKET_ALREADY_BOUND', 'already bound', true],
  ['setTTL out of range', (s) => s.setTTL(1000), Error, 'EINVAL', 'setTTL', true],
  ['setTTL of a wrong type', (s) => s.setTTL('64'), TypeError, 'ERR_INVALID_ARG_TYPE', 'ttl', true],
  ['setMulticastTTL out of range', (s) => s.setMulticastTTL(1000), Error, 'EINVAL', 'setMulticastTTL', true],
  ['setRecvBufferSize negative', (s) => s.setRecvBufferSize(-1), TypeError, 'ERR_SOCKET_BAD_BUFFER_SIZE', 'positive', true],
  ['setSendBufferSize of a wrong type', (s) => s.setSendBufferSize('big'), TypeError, 'ERR_SOCKET_BAD_BUFFER_SIZE', 'positive', true],
  ['bind with an fd (not supported: refused, not ignored)', (s) => s.bind({ fd: 3 }), TypeError, 'ERR_INVALID_ARG_VALUE', 'fd'],
  ['connect to null', (s, p) => s.connect(p, null), TypeError, 'ERR_INVALID_ARG_TYPE', '"address"', true],
  ['connect to false', (s, p) => s.connect(p, false), TypeError, 'ERR_INVALID_ARG_TYPE', '"address"', true],
  ['connect to a dotted address that is no IPv4 literal, at once', (s, p) => s.connect(p, '1.2.3'), TypeError, 'ERR_INVALID_IP_ADDRESS', '1.2.3'],
  ['connect to an IPv4 literal with a zone, at once', (s, p) => s.connect(p, '127.0.0.1%lo'), TypeError, 'ERR_INVALID_IP_ADDRESS', '127.0.0.1%lo'],
  ['connect to an IPv6 peer on udp4, at once', (s, p) => s.connect(p, '::1'), TypeError, 'ERR_INVALID_ARG_VALUE', 'udp4'],
  ['disconnect when not connected', (s) => s.disconnect(), Error, 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected', true],
  ['remoteAddress when not connected', (s) => s.remoteAddress(), Error, 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected', true],
  ['addMembership of a non-address', (s) => s.addMembership('nope'), TypeError, 'ERR_INVALID_IP_ADDRESS', 'nope'],
  ['addMembership with no group', (s) => s.addMembership(''), TypeError, 'ERR_MISSING_ARGS', 'multicastAddress', true],
  ['addMembership without arguments', (s) => s.addMembership(), TypeError, 'ERR_MISSING_ARGS', 'multicastAddress', true],
  ['dropMembership of null', (s) => s.dropMembership(null), TypeError, 'ERR_MISSING_ARGS', 'multicastAddress', true],
  ['addMembership of a group of a wrong type (dgram: EINVAL)', (s) => s.addMembership(5), TypeError, 'ERR_INVALID_ARG_TYPE', 'multicastAddress'],
  ['sendmsg() with no socket', () => sendmsg.sendmsg({}, 'x', { port: 9 }), TypeError, 'ERR_INVALID_ARG_TYPE', '"socket"'],
];

const BAD_SOCKETS = [
  ['no options', (udp) => udp.createSocket(), TypeError, 'ERR_SOCKET_BAD_TYPE', 'udp4', true],
  ['a number', (udp) => udp.createSocket(1), TypeError, 'ERR_SOCKET_BAD_TYPE', 'udp4', true],
  ['null', (udp) => udp.createSocket(null), TypeError, 'ERR_SOCKET_BAD_TYPE', 'udp4', true],
  ['true', (udp) => udp.createSocket(true), TypeError, 'ERR_SOCKET_BAD_TYPE', 'udp4', true],
  ['a bad type', (udp) => udp.createSocket('udp5'), TypeError, 'ERR_SOCKET_BAD_TYPE', 'udp4, udp6', true],
  ['maxMessageSize 0', (udp) => udp.createSocket({ type: 'udp4', maxMessageSize: 0 }), RangeError, 'ERR_OUT_OF_RANGE', 'maxMessageSize'],
  ['maxMessageSize too large', (udp) => udp.createSocket({ type: 'udp4', maxMessageSize: 70000 }), RangeError, 'ERR_OUT_OF_RANGE', 'maxMessageSize'],
  ['recvBufferSize of a wrong type', (udp) => udp.createSocket({ type: 'udp4', recvBufferSize: 'big' }), TypeError, 'ERR_SOCKET_BAD_BUFFER_SIZE', 'positive'],
  ['a lookup that is no function', (udp) => udp.createSocket({ type: 'udp4', lookup: 5 }), TypeError, 'ERR_INVALID_ARG_TYPE', 'lookup', true],
  ['a listener that is no function', (udp) => udp.createSocket('udp4', 5), TypeError, 'ERR_INVALID_ARG_TYPE', 'listener'],
  ['a receiveBlockList (not supported: refused, not ignored)', (udp) => udp.createSocket({ type: 'udp4', receiveBlockList: {} }), TypeError, 'ERR_INVALID_ARG_VALUE', 'receiveBlockList'],
];

function expectError(call, ErrorClass, code, words) {
  assert.throws(call, (error) => {
    assert.ok(error instanceof ErrorClass, `${error.name}: ${error.message} is a ${ErrorClass.name}`);
    assert.strictEqual(error.code, code, error.message);
    assert.ok(error.message.includes(words), `"${error.message}" names ${words}`);
    return true;
  });
}

describe('bad input', function () {
  let server, socket, port;
  let dgramSocket;
  before(async () => {
    server = sendmsg.createSocket('udp4');
    port = await bound(server, 0, '127.0.0.1');
    socket = sendmsg.createSocket('udp4');
    await bound(socket, 0, '127.0.0.1');
    dgramSocket = dgram.createSocket('udp4');
    await bound(dgramSocket, 0, '127.0.0.1');
  });
  after(() => closeAll(server, socket, dgramSocket));

  for (const [what, call, ErrorClass, code, words, dgramToo] of BAD_CALLS) {
    it(`${what}: ${ErrorClass.name} ${code}, and the socket still works${dgramToo ? ' (as dgram)' : ''}`, async function () {
      expectError(() => call(socket, port), ErrorClass, code, words);
      if (dgramToo) expectError(() => call(dgramSocket, port), ErrorClass, code, words);
      socket.send(what, port, '127.0.0.1');
      const [msg] = await nextMessage(server);
      assert.strictEqual(msg.toString(), what);
    });
  }

  for (const [what, call, ErrorClass, code, words, dgramToo] of BAD_SOCKETS) {
    it(`createSocket with ${what}: ${ErrorClass.name} ${code}${dgramToo ? ' (as dgram)' : ''}`, function () {
      expectError(() => call(sendmsg), ErrorClass, code, words);
      if (dgramToo) expectError(() => call(dgram), ErrorClass, code, words);
    });
  }

  it('use after close: ERR_SOCKET_DGRAM_NOT_RUNNING for every call', async function () {
    const closed = sendmsg.createSocket('udp4');
    await bound(closed, 0, '127.0.0.1'); // bound: nothing may rely on an implicit bind failing
    await new Promise((resolve) => closed.close(resolve));
    for (const call of [() => closed.send('x', port), () => closed.bind(0), () => closed.address(),
      () => closed.setBroadcast(true), () => closed.close(), () => closed.reply({ port, address: '127.0.0.1' }, 'x'),
      () => closed.sendBatch([])]) {
      expectError(call, Error, 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    }
  });

  it('the addon checks types again: misuse of the native layer throws and never crashes', function () {
    const meta = new Int32Array(binding.receiveBatch * binding.metaStride);
    const records = new Int32Array(binding.sendBatchSize * binding.sendRecordStride);
    assert.throws(() => new binding.UdpHandle('4', false, false, 100, meta, records), TypeError);
    assert.throws(() => new binding.UdpHandle(5, false, false, 100, meta, records), RangeError);
    assert.throws(() => new binding.UdpHandle(4, false, false, 100, new Int32Array(1), records), TypeError);
    assert.throws(() => new binding.UdpHandle(4, false, false, 100, meta, new Int32Array(1)), TypeError);
    assert.throws(() => new binding.UdpHandle(4, false, false, 1e9, meta, records), RangeError);
    assert.throws(() => new binding.UdpHandle(4, false, false, 100), TypeError);
    const handle = new binding.UdpHandle(4, false, false, 100, meta, records);
    // A record that src/ would never write: each must be refused, never sent or crashed on.
    const record = (fields) => {
      records.fill(0);
      Object.assign(records, { 0: port, 1: 4, 2: 0x0100007f, ...fields });
    };
    try {
      record({ 1: 0 });
      assert.throws(() => handle.bind(), TypeError, 'no family');
      record({ 0: -1 });
      assert.throws(() => handle.bind(), TypeError, 'a negative port');
      record({ 1: 6 });
      assert.throws(() => handle.bind(), TypeError, 'IPv6 on an IPv4 socket');
      record({});
      assert.throws(() => handle.send('text'), TypeError, 'a string is no Uint8Array');
      assert.throws(() => handle.send([Buffer.from('x'), 'y']), TypeError);
      assert.throws(() => handle.send(new Array(1000).fill(Buffer.from('x'))), RangeError);
      record({ 0: 0 });
      assert.throws(() => handle.send(Buffer.from('x')), TypeError, 'port 0');
      record({ 1: 7 });
      assert.throws(() => handle.send(Buffer.from('x')), TypeError, 'family 7');
      record({ 7: 6 });
      assert.throws(() => handle.send(Buffer.from('x')), TypeError, 'an IPv6 source for IPv4');
      record({ 7: 9 });
      assert.throws(() => handle.send(Buffer.from('x')), TypeError, 'a source of family 9');
      record({ 12: -5 });
      assert.throws(() => handle.send(Buffer.from('x')), RangeError, 'a negative interface');
      record({});
      assert.throws(() => handle.setOption('nope', 1), TypeError);
      assert.throws(() => handle.setOption('ttl', 'x'), TypeError);
      assert.throws(() => handle.sendBatch(new Int32Array(1), Buffer.from('x')), TypeError);
      assert.throws(() => handle.sendBatch(new Float64Array(1), Buffer.from('x'), Buffer.from('y')), TypeError, 'a result per message');
      assert.throws(() => handle.sendBatch(new Float64Array(1000), ...Array(1000).fill(Buffer.from('x'))), RangeError);
      assert.throws(() => handle.sendBatch(new Float64Array(1), null), TypeError);
      assert.throws(() => handle.sendBatch(new Float64Array(1), undefined), TypeError, 'a missing message');
      assert.throws(() => handle.sendBatch(), TypeError, 'no results array');
      assert.strictEqual(handle.sendBatch(new Float64Array(0)), 0, 'no message: none sent');
      assert.throws(() => handle.sendBatch.call({}, new Float64Array(0)), TypeError, 'not on a handle');
      assert.throws(() => binding.decodeReceiveControl('x'), TypeError);
      assert.throws(() => binding.sourceControlBytes(4, 'x'), TypeError);
      assert.throws(() => binding.sourceControlBytes(4, new Int32Array(1)), TypeError);
      assert.throws(() => binding.describeError('x'), TypeError);
      assert.throws(() => binding.interfaceIndex(1), TypeError);
      assert.strictEqual(binding.interfaceIndex('no\0such'), 0);
    } finally {
      handle.close();
    }
    assert.throws(() => handle.send(Buffer.from('x')), /Not running/);
  });
});
