// The reason this package exists: a server bound to a wildcard address on a host with several
// addresses must answer from the address each query was sent to.
const sendmsg = require('..');
const { assert, platform, inNetworkNamespace } = require('./helpers');
const { runProof } = require('./fixtures/multihomed');

function assertProof(results, clients) {
  // sendmsg: every client gets its answer, from the address it queried.
  for (const [i, result] of results.sendmsg.entries()) {
    assert.deepStrictEqual(result.queries.map((q) => q.localAddress), [clients[i].serverAddress],
      `the server sees the query for ${clients[i].serverAddress} arrive there`);
    if (platform.wineDiffers('sourceSelection')) continue;
    assert.deepStrictEqual(result.answers,
      [{ text: `answer to query for ${clients[i].serverAddress}`, from: clients[i].serverAddress }],
      `the client of ${clients[i].serverAddress} gets its answer`);
  }
  // dgram, the control case: the server answered, but from the kernel's choice of source, and
  // every connected client dropped the answer. This shows the test can fail.
  for (const result of results.dgram) {
    assert.strictEqual(result.queries.length, 1, 'the dgram server got the query');
    assert.deepStrictEqual(result.answers, [], 'the dgram answer is dropped by the client');
  }
}

describe('the multihomed proof', function () {
  it('IPv4: a server on 0.0.0.0 answers 127.0.0.2 and 127.0.0.3 from those addresses', async function () {
    const clients = [
      { clientAddress: '127.0.0.1', serverAddress: '127.0.0.2' },
      { clientAddress: '127.0.0.1', serverAddress: '127.0.0.3' },
    ];
    assertProof(await runProof({ sendmsg, type: 'udp4', clients }), clients);
  });

  it('IPv6: a server on :: answers fd00::1 and fd00::2 from those addresses (private network namespace)', async function () {
    // Each client sits on the other address than the one it queries: otherwise the kernel's
    // own source choice would already be right and the test would prove nothing.
    const clients = [
      { clientAddress: 'fd00::1', serverAddress: 'fd00::2' },
      { clientAddress: 'fd00::2', serverAddress: 'fd00::1' },
    ];
    const results = await inNetworkNamespace(this, 'multihomed', ['udp6', clients]);
    if (results) assertProof(results, clients);
  });
});
