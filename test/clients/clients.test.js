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
const { assert, platform } = require('../helpers');
const { LINKS, cannotRun, startNetwork } = require('../fixtures/wire-network');
const { PYTHON, missingClients, runClient, startExample } = require('./real-clients');
const { Socket } = require('../..');

const UDHCPC_SCRIPT = path.join(__dirname, 'udhcpc-script.sh');
const DHCLIENT_SCRIPT = path.join(__dirname, 'dhclient-script.sh');
const ZEROCONF_CLIENT = path.join(__dirname, 'zeroconf-client.py');

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
   * run is left): starts both before the cases and stops both after them. The example's output
   * is printed if a case failed.
   */
  function onNetwork(name, module, { args = () => [], ready, multicast = false }) {
    const context = { network: undefined, example: undefined };
    before(async function () {
      if (skipReason) {
        platform.skip(this, skipReason.reason, { allowedInCI: skipReason.allowedInCI });
        return;
      }
      if (multicast && module === 'sendmsg' && typeof Socket.prototype.addMembership !== 'function') {
        platform.skip(this, `examples/${name}.js needs sendmsg's multicast API (addMembership, issue 10), which this build lacks`);
        return;
      }
      context.network = await startNetwork();
      context.example = await startExample(context.network.agents.server, name, args(context.network),
        { module, ready });
    });
    after(async function () {
      const output = context.example ? await context.example.stop() : '';
      if (context.network) await context.network.stop();
      if (this.test.parent.tests.some((test) => test.state === 'failed')) {
        console.log(`        what examples/${name}.js on ${module} printed:\n${output.replace(/^/gm, '          ')}`);
      }
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
    // address than the one it asked it ignores, and then times out.
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

  describe('dhcp6-server, judged by ISC dhclient -6', function () {
    const inPrefix = (link, address) => address.startsWith(LINKS[link].v6.subnet.replace(/\/64$/, ''));

    let run = 0;
    // dhclient solicits from its link-local address to ff02::1:2, takes the ADVERTISE (whose
    // preference 255 lets it go on at once), requests, and is ended once bound. Each run has a
    // lease file of its own: with an earlier lease, dhclient would confirm it instead.
    async function dhclient(agent, link) {
      let ended = false;
      const files = path.join(directory, `dhclient6-${++run}-${link}`);
      const { output } = await runClient(agent, ['dhclient', '-6', '-1', '-d', '-v', '-cf', '/dev/null',
        '-lf', `${files}.leases`, '-pf', `${files}.pid`,
        '-sf', DHCLIENT_SCRIPT, LINKS[link].clientInterface], {
        timeoutS: 10,
        onOutput: (text, child) => {
          if (!ended && /^dhclient-event reason=BOUND6/m.test(text)) {
            ended = true;
            child.kill('SIGTERM'); // timeout passes it on to dhclient
          }
        },
      });
      const bound = /^dhclient-event reason=BOUND6 address=(\S+)/m.exec(output);
      return {
        accepted: Boolean(bound) && inPrefix(link, bound[1]),
        detail: `dhclient: ${bound ? `bound ${bound[1]}` : `no lease (${(output.match(/^(XMT|RCV): \S.*$/gm) || []).slice(-1)[0] || 'no exchange'})`}`,
      };
    }

    for (const module of MODULES) {
      describe(`on ${module}`, function () {
        const context = onNetwork('dhcp6-server', module, {
          args: () => ['A', 'B'].map((link) => LINKS[link].serverInterface),
          ready: /listening/,
          multicast: true,
        });
        it("dhclient -6 on both links gets an address of its link's prefix, answered from the server's link-local address on that link", async function () {
          const verdicts = await play(context.network, {
            serverPort: 547,
            client: (link) => dhclient(context.network.agents[link], link),
            expected: (link) => [LINKS[link].linkLocal.server],
          });
          judge(module, verdicts, {
            fails: false,
            because: "the client's link-local source carries its zone, which names the link (on-dgram.js reads it)",
          });
        });
      });
    }
  });

  describe('mdns-responder, judged by python3-zeroconf and by dig (legacy unicast)', function () {
    const NAME = 'sendmsg-example';

    // zeroconf browses for _http._tcp.local. by multicast on one interface and resolves what it
    // finds; it must find our instance, with only addresses of its own link.
    async function zeroconf(network, link, version) {
      const agent = network.agents[link];
      const where = version === 4 ? LINKS[link].v4.client : String(agent.interfaceIndex(LINKS[link].clientInterface));
      const { output } = await runClient(agent, [PYTHON, ZEROCONF_CLIENT, String(version), where, '3'], { timeoutS: 10 });
      let services = [];
      try {
        ({ services } = JSON.parse(output.trim().split('\n').pop()));
      } catch {
        return { accepted: false, detail: `zeroconf: ${output.trim().split('\n').pop()}` };
      }
      const ours = services.find((service) => service.name === `${NAME}._http._tcp.local.`);
      const own = serverAddresses(link);
      const accepted = Boolean(ours) && ours.resolved && ours.server === `${NAME}.local.` && ours.port === 8080 &&
        ours.txt.path === '/' && ours.addresses.length > 0 && ours.addresses.every((address) => own.includes(address));
      return { accepted, detail: `zeroconf: ${ours ? `resolved ${ours.server}:${ours.port} at [${ours.addresses.join(', ')}]` : 'found nothing'}` };
    }

    // A legacy query: dig sends from a random port, so the answer must come by unicast.
    async function legacyDig(agent, link, server, type) {
      const { status, output } = await runClient(agent,
        ['dig', '+time=2', '+tries=1', `@${server}`, '-p', '5353', `${NAME}.local`, type], { timeoutS: 10 });
      const answers = [...output.matchAll(new RegExp(`^${NAME}\\.local\\.\\s+\\d+\\s+IN\\s+${type}\\s+(\\S+)$`, 'gm'))].map((found) => found[1]);
      const own = serverAddresses(link);
      return {
        accepted: status === 0 && answers.length > 0 && answers.every((address) => own.includes(address)),
        detail: `dig: ${answers.length > 0 ? `[${answers.join(', ')}]` : (output.match(/timed out|status: \w+/) || [`exit ${status}`])[0]}`,
      };
    }

    const cases = [
      {
        title: 'zeroconf over IPv4 finds and resolves the service by multicast, with its link\'s addresses only',
        client: (network, link) => zeroconf(network, link, 4),
        expected: (link) => [LINKS[link].v4.server, LINKS[link].v4.alias],
        control: { fails: true, because: 'dgram does not say which link a multicast query from an IPv4 address came in on' },
      },
      {
        title: 'zeroconf over IPv6 finds and resolves the service by multicast, with its link\'s addresses only',
        client: (network, link) => zeroconf(network, link, 6),
        expected: (link) => [LINKS[link].linkLocal.server, LINKS[link].v6.server, LINKS[link].v6.alias],
        control: { fails: true, because: 'zeroconf queries from its global address, which has no zone: dgram cannot tell the link' },
      },
      ...[['v4', 'A'], ['v6', 'AAAA']].map(([family, type]) => ({
        title: `dig's legacy ${type} query to the link's ${family === 'v4' ? 'IPv4' : 'IPv6'} alias is answered by unicast from the alias`,
        client: (network, link) => legacyDig(network.agents[link], link, LINKS[link][family].alias, type),
        expected: (link) => [LINKS[link][family].alias],
        control: { fails: true, because: 'dgram does not say which link the query came in on, nor can it answer from the alias' },
      })),
      {
        title: "dig's legacy AAAA query to the link-local address is answered by unicast on its link",
        client: (network, link) => legacyDig(network.agents[link], link, `${LINKS[link].linkLocal.server}%${LINKS[link].clientInterface}`, 'AAAA'),
        expected: (link) => [LINKS[link].linkLocal.server],
        control: { fails: false, because: "the asker's link-local address carries its zone, which names the link (on-dgram.js reads it)" },
      },
    ];

    for (const module of MODULES) {
      describe(`on ${module}`, function () {
        const context = onNetwork('mdns-responder', module, { args: () => [NAME], ready: /udp6\) listening/, multicast: true });
        for (const scenario of cases) {
          it(scenario.title, async function () {
            const verdicts = await play(context.network, {
              serverPort: 5353,
              client: (link) => scenario.client(context.network, link),
              expected: scenario.expected,
            });
            judge(module, verdicts, scenario.control);
          });
        }
      });
    }
  });
});
