// npm run test:clients: the example servers (examples/) judged by real clients that nobody here
// wrote: dig, busybox udhcpc, ISC dhclient -6 and python3-zeroconf, from Debian.
//
// The network is test/fixtures/wire-network.js: a server namespace with two links, A and B, to
// two client namespaces, each link with IPv4 and IPv6 subnets, an alias address and link-local
// addresses, and routes that make the kernel's own source choice wrong for the aliases (and
// send a limited broadcast out link A only). Each case runs a client on both links at once, and
// passes on a link only if the client accepts the answer AND the capture on that client's link
// shows that every reply came from the right address and that nothing came from the other
// link's addresses: dig and udhcpc do not always complain about a wrong source.
//
// Each scenario runs twice, against the same example code: on sendmsg, where every case must
// pass, and on Node's dgram (SENDMSG_EXAMPLE_MODULE=dgram, examples/on-dgram.js), the control,
// whose result on each case must be the one written beside it: a failure where dgram cannot do
// the job, a pass where the kernel's own choice happens to be right. The controls' results are
// printed, so anyone can see that each check can fail.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { assert, platform } = require('./helpers');
const { LINKS, cannotRun, startNetwork } = require('./fixtures/wire-network');
const { missingClients, runClient, startExample } = require('./fixtures/real-clients');

const UDHCPC_SCRIPT = path.join(__dirname, 'fixtures', 'udhcpc-script.sh');

const MODULES = ['sendmsg', 'dgram'];
// After the clients are done, how long a late datagram gets to show on a capture.
const SETTLE_MS = 300;

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const otherLink = (link) => (link === 'A' ? 'B' : 'A');

/** The server's addresses on link: none of them may appear on the other link. */
function serverAddresses(link) {
  const { v4, v6, linkLocal } = LINKS[link];
  return [v4.server, v4.alias, v6.server, v6.alias, linkLocal.server];
}

describe('real clients judge the example servers (examples/), on two links at once', function () {
  this.timeout(60000);
  let skipReason;
  // The clients' pid and lease files; removed at the end.
  let directory;
  before(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sendmsg-clients-')); });
  after(() => directory && fs.rmSync(directory, { recursive: true, force: true }));

  before(function () {
    const why = cannotRun();
    if (why) {
      skipReason = why;
      return;
    }
    const missing = missingClients();
    if (missing) skipReason = { reason: missing, allowedInCI: false };
  });

  /**
   * One example on one module, in a network of its own (so no lease or address of an earlier
   * run is left): starts both in before, stops both in after, and gives each case a play().
   */
  function onNetwork(name, module, { args = () => [], ready, setup = () => {} }) {
    const context = { network: undefined, example: undefined };
    before(async function () {
      if (skipReason) {
        platform.skip(this, skipReason.reason, { allowedInCI: skipReason.allowedInCI });
        return;
      }
      context.network = await startNetwork();
      setup(context.network);
      context.example = await startExample(context.network.agents.server, name, args(context.network),
        { module, ready });
    });
    after(async function () {
      if (context.example) context.log = await context.example.stop();
      if (context.network) await context.network.stop();
    });
    return context;
  }

  /**
   * Runs a client on each link at once (client(link) resolves to { accepted, detail }), then
   * judges each link by its client and its capture: the datagrams from the server's port
   * (replies) must all come from one of expected(link), and none from the other link's server
   * addresses (strays).
   */
  async function play(network, { client, serverPort, expected }) {
    const marks = { A: network.captures.A.datagrams.length, B: network.captures.B.datagrams.length };
    const clients = Object.fromEntries(await Promise.all(['A', 'B'].map(async (link) => [link, await client(link)])));
    await delay(SETTLE_MS);
    const verdicts = {};
    for (const link of ['A', 'B']) {
      const arrived = network.captures[link].datagrams.slice(marks[link]);
      const replies = arrived.filter((datagram) => datagram.sourcePort === serverPort).map((datagram) => datagram.source);
      const strangers = serverAddresses(otherLink(link));
      const strays = arrived.filter((datagram) => strangers.includes(datagram.source)).map((datagram) => datagram.source);
      const rightSource = replies.length > 0 && replies.every((source) => expected(link).includes(source));
      verdicts[link] = {
        passed: clients[link].accepted && rightSource && strays.length === 0,
        accepted: clients[link].accepted,
        replies: [...new Set(replies)],
        strays: [...new Set(strays)],
        detail: clients[link].detail,
        // Every datagram seen on the link, for the message of a failed assertion.
        datagrams: arrived.map((datagram) =>
          `${datagram.source}:${datagram.sourcePort} -> ${datagram.destination}:${datagram.destinationPort}`),
      };
    }
    return verdicts;
  }

  /**
   * The assertion of one case on one module: on sendmsg every link passes; on dgram each link
   * ends as control says ({ fails, because }), and the result is printed.
   */
  function judge(module, verdicts, control) {
    if (module === 'sendmsg') {
      for (const link of ['A', 'B']) {
        assert.ok(verdicts[link].passed, `link ${link} failed: ${JSON.stringify(verdicts[link], null, 2)}`);
      }
      return;
    }
    for (const link of ['A', 'B']) {
      const { passed, accepted, replies, strays, detail } = verdicts[link];
      const seen = `client ${accepted ? 'accepted' : 'refused or got nothing'}; ` +
        `replies on the link from [${replies.join(', ')}]; from the other link's addresses [${strays.join(', ')}]; ${detail}`;
      console.log(`        control, dgram, link ${link}: ${passed ? 'passes' : 'FAILS'} (${control.because}): ${seen}`);
      assert.strictEqual(!passed, control.fails,
        `the dgram control on link ${link} was expected to ${control.fails ? 'fail' : 'pass'}: ${seen}`);
    }
  }

  describe('dns-server, judged by dig', function () {
    // dig's own verdict: it prints an answer only for a reply it accepts; a reply from another
    // address than the one it asked it reports as from an "unexpected source" and ignores.
    async function dig(agent, server, type, expectedData) {
      const { status, output } = await runClient(agent,
        ['dig', '+time=2', '+tries=1', `@${server}`, '-p', '53', 'www.example.test', type], { timeoutS: 10 });
      const answered = new RegExp(`^www\\.example\\.test\\.\\s+\\d+\\s+IN\\s+${type}\\s+${expectedData}$`, 'm').test(output);
      const rcode = /status: (\w+)/.exec(output);
      const complaints = output.split('\n').filter((line) => /unexpected source|timed out/.test(line));
      return {
        accepted: status === 0 && Boolean(rcode) && rcode[1] === 'NOERROR' && answered,
        detail: `dig: ${rcode ? rcode[1] : complaints.join(' | ').replace(/^;; /, '') || `exit ${status}`}`,
      };
    }

    const cases = [
      ...[['v4', 'A', '203.0.113.80'], ['v6', 'AAAA', '2001:db8::80']].flatMap(([family, type, data]) => [
        {
          title: `${type} from the link's primary ${family === 'v4' ? 'IPv4' : 'IPv6'} address`,
          target: (link) => LINKS[link][family].server,
          type,
          data,
          control: { fails: false, because: "the kernel's own source choice is the address asked" },
        },
        {
          title: `${type} from the link's ${family === 'v4' ? 'IPv4' : 'IPv6'} alias`,
          target: (link) => LINKS[link][family].alias,
          type,
          data,
          control: { fails: true, because: 'dgram cannot choose the source; the kernel picks the primary' },
        },
      ]),
      {
        title: "AAAA from the link's link-local address",
        target: (link) => `${LINKS[link].linkLocal.server}%${LINKS[link].clientInterface}`,
        type: 'AAAA',
        data: '2001:db8::80',
        control: { fails: false, because: "dgram's zone in the sender's address keeps the answer on its link" },
      },
    ];

    for (const module of MODULES) {
      describe(`on ${module}`, function () {
        const context = onNetwork('dns-server', module, { ready: /listening/ });
        for (const scenario of cases) {
          it(`${scenario.title}: dig on both links accepts the answer, from the address it asked`, async function () {
            const verdicts = await play(context.network, {
              serverPort: 53,
              client: (link) => dig(context.network.agents[link], scenario.target(link), scenario.type, scenario.data),
              expected: (link) => [scenario.target(link).split('%')[0]],
            });
            judge(module, verdicts, scenario.control);
          });
        }
      });
    }
  });

  describe('dhcp4-server, judged by busybox udhcpc', function () {
    // The server identifier on each link is its alias: the server broadcasts from it and a
    // renewing client unicasts to it, while the kernel's own source choice is the primary.
    const serverId = (link) => LINKS[link].v4.alias;
    const inSubnet = (link, address) => address.startsWith(LINKS[link].v4.subnet.replace(/0\/24$/, ''));

    // udhcpc gets a lease by broadcast (DISCOVER, OFFER, REQUEST, ACK), is then told to renew
    // (SIGUSR1), which it does by unicast to the server identifier, and is ended once renewed.
    async function udhcpc(agent, link) {
      const pidFile = path.join(directory, `udhcpc-${link}.pid`);
      let renewAsked = false;
      let ended = false;
      const { output } = await runClient(agent, ['busybox', 'udhcpc', '-f', '-n', '-t', '3', '-T', '1',
        '-i', LINKS[link].clientInterface, '-p', pidFile, '-s', UDHCPC_SCRIPT], {
        timeoutS: 15,
        onOutput: (text, child) => {
          if (!renewAsked && /^udhcpc-event bound/m.test(text)) {
            renewAsked = true;
            process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGUSR1');
          }
          if (!ended && /^udhcpc-event renew/m.test(text)) {
            ended = true;
            child.kill('SIGTERM'); // timeout passes it on to udhcpc
          }
        },
      });
      const event = (name) => {
        const found = new RegExp(`^udhcpc-event ${name} ip=(\\S*) serverid=(\\S*)`, 'm').exec(output);
        return found && { ip: found[1], serverId: found[2] };
      };
      const bound = event('bound');
      const renewed = event('renew');
      const good = (lease) => Boolean(lease) && inSubnet(link, lease.ip) && lease.serverId === serverId(link);
      return {
        accepted: good(bound) && good(renewed) && renewed.ip === bound.ip,
        detail: `udhcpc: ${bound ? `bound ${bound.ip} from ${bound.serverId}` : 'no lease'}` +
          `${renewed ? `, renewed ${renewed.ip} from ${renewed.serverId}` : ''}`,
      };
    }

    for (const module of MODULES) {
      describe(`on ${module}`, function () {
        const context = onNetwork('dhcp4-server', module, {
          args: () => ['A', 'B'].map((link) => `${LINKS[link].serverInterface}=${serverId(link)}`),
          ready: /listening/,
        });
        it("udhcpc on both links gets a lease of its link's subnet by broadcast, from the link's server address, and renews it by unicast", async function () {
          const verdicts = await play(context.network, {
            serverPort: 67,
            client: (link) => udhcpc(context.network.agents[link], link),
            expected: (link) => [serverId(link)],
          });
          judge(module, verdicts, {
            fails: true,
            because: 'dgram does not say which link a broadcast came in on, so the server cannot pick the subnet',
          });
        });
      });
    }
  });
});
