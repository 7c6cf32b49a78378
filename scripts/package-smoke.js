// The installed package, through its public API only: copied into a project that depends
// on sendmsg and run there (from this repository, 'sendmsg' would resolve to the work tree). Prints which binary was loaded and checks:
// bind, send with localAddress, receive with localAddress and interfaceIndex.
// Exits non-zero on any failure. Used by scripts/test-package.sh, on Linux (x64, and arm64 under qemu) and under Wine.
const path = require('path');

const project = __dirname;
const entry = require.resolve('sendmsg', { paths: [project] });
const packageDir = path.dirname(require.resolve('sendmsg/package.json', { paths: [project] }));
const sendmsg = require(entry);
const loaded = require(require.resolve('node-gyp-build', { paths: [packageDir] })).path(packageDir);
const expectPrebuild = process.argv.includes('--expect-prebuild');
const expectSource = process.argv.includes('--expect-source-build');

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

console.log(`loaded ${path.relative(packageDir, loaded)} (${sendmsg.backend}, ${process.platform}-${process.arch})`);
// This platform's own folder: a wrong-architecture prebuild cannot load, but a wrong folder
// that happens to hold the right file would show a packing mistake.
const prebuildFolder = path.join('prebuilds', `${process.platform}-${process.arch}`) + path.sep;
if (expectPrebuild) check(loaded.includes(prebuildFolder), `the prebuilt binary in ${prebuildFolder} was loaded`);
if (expectSource) check(loaded.includes(path.join('build', 'Release')), 'the source build was loaded');

const server = sendmsg.createSocket('udp4');
const timer = setTimeout(() => {
  check(false, 'a datagram arrived within 5 s');
  process.exit(1);
}, 5000);
server.on('message', (msg, rinfo) => {
  clearTimeout(timer);
  check(msg.toString() === 'smoke', 'the datagram arrived whole');
  check(rinfo.localAddress === '127.0.0.1', `rinfo.localAddress is 127.0.0.1 (${rinfo.localAddress})`);
  check(Number.isInteger(rinfo.interfaceIndex) && rinfo.interfaceIndex > 0, `rinfo.interfaceIndex is set (${rinfo.interfaceIndex})`);
  server.close();
  client.close();
  console.log(`${failures === 0 ? 'smoke test passed' : `${failures} checks failed`}`);
  process.exitCode = failures === 0 ? 0 : 1;
});
const client = sendmsg.createSocket('udp4');
server.bind(0, '0.0.0.0', () => {
  client.send('smoke', { port: server.address().port, address: '127.0.0.1', localAddress: '127.0.0.1' }, (error) => {
    check(!error, `send with localAddress (${error ? error.code : 'sent'})`);
  });
});
