// Checks that a packed tarball holds a prebuilt binary for each target a release ships, as a
// user's install would find it: for each target, node-gyp-build resolves the binary with that
// target's platform, architecture and libc (npm_config_platform, npm_config_arch and LIBC, as
// it reads them), and the file it picks must be of that target's format and architecture
// (scripts/check-targets-helper.js inspect). Exits 1 when any target has none, or a wrong one.
//
//   node scripts/check-tarball.js <sendmsg-x.y.z.tgz> [target...]    (default: all 8)
//
// .github/workflows/release.yml runs it after npm pack, so that a release cannot go out with a
// platform missing; scripts/test-package.sh runs it for the targets this machine builds.
'use strict';

const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');

// target: platform, arch, libc (node-gyp-build says glibc wherever it is not musl), format
const TARGETS = {
  'linux-x64-glibc': ['linux', 'x64', 'glibc', 'elf'],
  'linux-arm64-glibc': ['linux', 'arm64', 'glibc', 'elf'],
  'linux-x64-musl': ['linux', 'x64', 'musl', 'elf'],
  'linux-arm64-musl': ['linux', 'arm64', 'musl', 'elf'],
  'darwin-x64': ['darwin', 'x64', 'glibc', 'macho'],
  'darwin-arm64': ['darwin', 'arm64', 'glibc', 'macho'],
  'win32-x64': ['win32', 'x64', 'glibc', 'pe'],
  'win32-arm64': ['win32', 'arm64', 'glibc', 'pe'],
};

const [tarball, ...wanted] = process.argv.slice(2);
if (!tarball) {
  console.error('usage: node scripts/check-tarball.js <tarball> [target...]');
  process.exit(2);
}
const unknown = wanted.filter((target) => !TARGETS[target]);
if (unknown.length > 0) {
  console.error(`check-tarball: no such target: ${unknown.join(', ')} (known: ${Object.keys(TARGETS).join(', ')})`);
  process.exit(2);
}
const targets = wanted.length > 0 ? wanted : Object.keys(TARGETS);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sendmsg-check-tarball-'));
let failures = 0;
try {
  execFileSync('tar', ['-xzf', path.resolve(tarball), '-C', work]);
  const packageDir = path.join(work, 'package');
  const nodeGypBuild = require.resolve('node-gyp-build', { paths: [root] });
  for (const target of targets) {
    const [platform, arch, libc, format] = TARGETS[target];
    // node-gyp-build reads the target when it is loaded: one process for each.
    const resolved = spawnSync(process.execPath, ['-e', 'console.log(require(process.argv[1]).path(process.argv[2]))',
      nodeGypBuild, packageDir], {
      encoding: 'utf8',
      env: { ...process.env, npm_config_platform: platform, npm_config_arch: arch, LIBC: libc, PREBUILDS_ONLY: '1' },
    });
    if (resolved.status !== 0) {
      const why = resolved.stderr.split('\n').find((line) => /^Error/.test(line)) || resolved.stderr.trim();
      console.log(`FAIL ${target}: no prebuild that node-gyp-build would load (${why.trim()})`);
      failures++;
      continue;
    }
    const file = resolved.stdout.trim();
    const inspected = spawnSync(process.execPath, [path.join(__dirname, 'check-targets-helper.js'), 'inspect', file, format, arch],
      { encoding: 'utf8' });
    const relative = path.relative(packageDir, file);
    if (inspected.status !== 0) {
      console.log(`FAIL ${target}: ${relative}: ${inspected.stderr.trim()}`);
      failures++;
    } else {
      console.log(`ok   ${target}: ${relative} (${format} ${arch})`);
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
if (failures > 0) {
  console.log(`check-tarball: ${failures} of ${targets.length} targets have no usable prebuild in ${tarball}`);
  process.exit(1);
}
console.log(`check-tarball: all ${targets.length} targets have their prebuild`);
