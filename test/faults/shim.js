// Builds the fault-injection shim (shim.c) and reads the counts it keeps. Run as a script
// (`node test/faults/shim.js`) it builds the shim and prints its path.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const source = path.join(__dirname, 'shim.c');
// build/ is per work tree and ignored by git; node-gyp rebuild empties it, so the shim is
// rebuilt whenever it is missing or older than its source.
const library = path.join(__dirname, '..', '..', 'build', 'test-faults', 'sendmsg-fault-shim.so');

// The counters after the 8-byte magic, in the order of struct Counts in shim.c.
const FIELDS = [
  'sendmsgCalls',
  'sendmsgFaults',
  'sendmmsgCalls',
  'sendmmsgFaults',
  'sendmmsgDatagrams',
  'loopWaits',
  'otherSends',
];
const MAGIC = 'SMFAULT1';
const SIZE = 8 + 8 * FIELDS.length;

/** The shim's path, compiled first if it is missing or stale. Throws with cc's output. */
function buildShim() {
  const stale = !fs.existsSync(library) || fs.statSync(library).mtimeMs < fs.statSync(source).mtimeMs;
  if (!stale) return library;
  fs.mkdirSync(path.dirname(library), { recursive: true });
  const args = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-o', library, source, '-ldl'];
  const result = spawnSync('cc', args, { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Error(`cannot build the fault shim: cc ${args.join(' ')}\n${result.error || result.stderr}`);
  }
  return library;
}

/**
 * The counters in a counts file, as numbers, or undefined when the shim has not written the
 * file (it was not loaded, or has not started yet).
 */
function readCounts(file) {
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  if (bytes.length < SIZE || bytes.toString('latin1', 0, 8) !== MAGIC) return undefined;
  const counts = {};
  FIELDS.forEach((name, i) => { counts[name] = Number(bytes.readBigUInt64LE(8 + 8 * i)); });
  return counts;
}

module.exports = { buildShim, readCounts };

if (require.main === module) console.log(buildShim());
