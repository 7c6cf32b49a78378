// Every member of dgram.Socket exists on ours, or README.md's section "Where ours differs from
// dgram" says why not: issue 10's "a program using dgram's API runs unchanged on ours", kept true
// as Node adds to dgram. The deliberate omissions are listed here, and the README is read to
// check that the section names each one, so neither list can drift from the other.
const dgram = require('dgram');
const fs = require('fs');
const path = require('path');
const sendmsg = require('..');
const { assert } = require('./helpers');

const README_SECTION = 'Where ours differs from dgram';

// dgram.Socket.prototype members that ours leaves out on purpose; the README section says why.
const OMITTED_MEMBERS = [
  'sendto', // undocumented, a legacy form of send()
  // dgram's private members, deprecated for outside use (DEP0112)
  '_handle', '_receiving', '_bindState', '_queue', '_reuseAddr', '_healthCheck', '_stopReceiving',
];
// dgram module exports that ours leaves out.
const OMITTED_EXPORTS = ['_createSocketHandle']; // internal to Node's cluster support

// The options of dgram.createSocket() and socket.bind() in Node's documentation (Node 24), with
// those ours does not take. They cannot be read from dgram at run time, so they are listed.
const DGRAM_SOCKET_OPTIONS = ['type', 'reuseAddr', 'reusePort', 'ipv6Only', 'recvBufferSize', 'sendBufferSize',
  'lookup', 'signal', 'receiveBlockList', 'sendBlockList'];
const DGRAM_BIND_OPTIONS = ['port', 'address', 'exclusive', 'fd'];
const OMITTED_OPTIONS = ['receiveBlockList', 'sendBlockList', 'fd'];

/** Every own key of the prototype chain below Object.prototype, symbols by their description. */
function membersOf(prototype) {
  const members = new Map();
  for (let object = prototype; object !== null && object !== Object.prototype; object = Object.getPrototypeOf(object)) {
    for (const key of Reflect.ownKeys(object)) {
      const name = typeof key === 'symbol' ? key.toString() : key;
      if (!members.has(name)) members.set(name, Object.getOwnPropertyDescriptor(object, key));
    }
  }
  return members;
}

/** The text of one "## " section of README.md. */
function readmeSection(title) {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.notStrictEqual(start, -1, `README.md has a section "## ${title}"`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** The members of an interface in a declaration file of dist/. */
function declaredMembers(file, interfaceName) {
  const text = fs.readFileSync(path.join(__dirname, '..', 'dist', file), 'utf8');
  const match = text.match(new RegExp(`export interface ${interfaceName}(?: extends [^{]+)? \\{([\\s\\S]*?)\\n\\}`));
  assert.ok(match, `dist/${file} declares ${interfaceName}`);
  return [...match[1].matchAll(/^\s+(?:readonly\s+)?(\w+)\??:/gm)].map(([, name]) => name);
}

describe(`dgram's API on ours (omissions are named in README.md's "${README_SECTION}")`, function () {
  const ours = membersOf(sendmsg.Socket.prototype);
  const theirs = membersOf(dgram.Socket.prototype);

  it('every member of dgram.Socket.prototype is on ours, or is a deliberate omission', function () {
    const missing = [...theirs.keys()].filter((name) => !ours.has(name) && !OMITTED_MEMBERS.includes(name));
    assert.deepStrictEqual(missing, [], 'dgram members that ours lacks and the README does not explain');
  });

  it('a member both have is a method on both, or a property on both', function () {
    const kind = (descriptor) => (typeof descriptor.value === 'function' ? 'method' : 'property');
    const mismatched = [...theirs].filter(([name]) => ours.has(name))
      .filter(([name, descriptor]) => kind(descriptor) !== kind(ours.get(name)))
      .map(([name, descriptor]) => `${name}: dgram ${kind(descriptor)}, ours ${kind(ours.get(name))}`);
    assert.deepStrictEqual(mismatched, []);
  });

  it('every export of dgram is one of ours, or a deliberate omission', function () {
    const missing = Object.keys(dgram).filter((name) => !(name in sendmsg) && !OMITTED_EXPORTS.includes(name));
    assert.deepStrictEqual(missing, []);
  });

  it('every option of dgram.createSocket() and bind() is one of ours, or a deliberate omission', function () {
    const socketOptions = declaredMembers('socket.d.ts', 'SocketOptions');
    const bindOptions = declaredMembers('socket.d.ts', 'BindOptions');
    const missing = [
      ...DGRAM_SOCKET_OPTIONS.filter((name) => !socketOptions.includes(name)),
      ...DGRAM_BIND_OPTIONS.filter((name) => !bindOptions.includes(name)),
    ].filter((name) => !OMITTED_OPTIONS.includes(name));
    assert.deepStrictEqual(missing, []);
  });

  it('each omission is really absent from ours (the list holds nothing stale)', function () {
    const present = [
      ...OMITTED_MEMBERS.filter((name) => ours.has(name)),
      ...OMITTED_EXPORTS.filter((name) => name in sendmsg),
      ...OMITTED_OPTIONS.filter((name) => [...declaredMembers('socket.d.ts', 'SocketOptions'),
        ...declaredMembers('socket.d.ts', 'BindOptions')].includes(name)),
    ];
    assert.deepStrictEqual(present, []);
  });

  it(`README.md's "${README_SECTION}" names each omission`, function () {
    const section = readmeSection(README_SECTION);
    const unexplained = [...OMITTED_MEMBERS, ...OMITTED_EXPORTS, ...OMITTED_OPTIONS]
      .filter((name) => !section.includes(`\`${name}\``));
    assert.deepStrictEqual(unexplained, []);
  });
});
