// Helpers for scripts/check-targets.sh, which cross-builds the addon with zig.
//
//   node scripts/check-targets-helper.js flags <gyp OS>
//     What binding.gyp says for that OS ("mac", "linux", "win"), after its conditions, one
//     item a line: "source <file>", "define <NAME[=value]>", "include <dir>", "library <-lx>".
//     The cross build reads the same file as node-gyp, so a define or source that binding.gyp
//     lacks for a platform is missing here too (as __APPLE_USE_RFC_3542 once was).
//
//   node scripts/check-targets-helper.js inspect <file> <format> <arch>
//     Checks that a linked file is what the target needs: format elf, macho or pe; arch x64 or
//     arm64; for pe also that node.exe is delay-loaded (so a renamed node.exe still works) and
//     not imported directly. Prints what it found; exits 1 when it is not that.
'use strict';

const { execSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');

function fail(message) {
  console.error(`check-targets-helper: ${message}`);
  process.exit(1);
}

// gyp conditions are Python expressions over variables; binding.gyp uses only OS, ==, and/or/not.
function conditionHolds(expression, os) {
  const js = expression.replace(/\band\b/g, '&&').replace(/\bor\b/g, '||').replace(/\bnot\b/g, '!');
  try {
    return Boolean(new Function('OS', `"use strict"; return (${js});`)(os));
  } catch (error) {
    return fail(`cannot evaluate the binding.gyp condition ${JSON.stringify(expression)}: ${error.message}`);
  }
}

// Merges a gyp dictionary and the branches of its conditions that hold, as gyp does for lists.
function collect(dictionary, os, out) {
  for (const key of ['sources', 'defines', 'include_dirs', 'libraries']) {
    if (dictionary[key]) out[key].push(...dictionary[key]);
  }
  for (const [expression, then, otherwise] of dictionary.conditions || []) {
    const branch = conditionHolds(expression, os) ? then : otherwise;
    if (branch) collect(branch, os, out);
  }
}

// "<!(command)" is gyp's command expansion: its output, run from the .gyp file's folder.
function expand(item) {
  const match = /^<!\((.*)\)$/.exec(item);
  return match ? execSync(match[1], { cwd: root, encoding: 'utf8' }).trim() : item;
}

function flags(os) {
  const gyp = JSON.parse(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8'));
  const target = gyp.targets.find((t) => t.target_name === 'sendmsg');
  if (!target) fail('binding.gyp has no target "sendmsg"');
  const out = { sources: [], defines: [], include_dirs: [], libraries: [] };
  collect(target, os, out);
  const lines = [
    ...out.sources.map((s) => `source ${s}`),
    ...out.defines.map((d) => `define ${d}`),
    ...out.include_dirs.map((d) => `include ${expand(d)}`),
    ...out.libraries.map((l) => `library ${l}`),
  ];
  for (const line of lines) if (/\s.*\s/.test(line)) fail(`an item with a space: ${line}`);
  console.log(lines.join('\n'));
}

const ELF_MACHINES = { x64: 62, arm64: 183 };
const MACHO_CPUS = { x64: 0x01000007, arm64: 0x0100000c };
const PE_MACHINES = { x64: 0x8664, arm64: 0xaa64 };

// The DLL names that one import directory of a PE file lists (entry size 20 bytes for the
// normal table, 32 for the delay-load one; the name's RVA is at offset 12 or 4).
function peImportNames(file, directoryIndex, entrySize, nameOffset) {
  const peOffset = file.readUInt32LE(0x3c);
  const optional = peOffset + 24;
  const magic = file.readUInt16LE(optional);
  const directories = optional + (magic === 0x20b ? 112 : 96);
  const rva = file.readUInt32LE(directories + directoryIndex * 8);
  if (rva === 0) return [];
  const sectionCount = file.readUInt16LE(peOffset + 6);
  const sections = optional + file.readUInt16LE(peOffset + 20);
  const toOffset = (address) => {
    for (let i = 0; i < sectionCount; i++) {
      const section = sections + i * 40;
      const virtualAddress = file.readUInt32LE(section + 12);
      const size = Math.max(file.readUInt32LE(section + 8), file.readUInt32LE(section + 16));
      if (address >= virtualAddress && address < virtualAddress + size) {
        return address - virtualAddress + file.readUInt32LE(section + 20);
      }
    }
    return fail(`RVA 0x${address.toString(16)} is in no section`);
  };
  const names = [];
  for (let entry = toOffset(rva); ; entry += entrySize) {
    const nameRva = file.readUInt32LE(entry + nameOffset);
    if (nameRva === 0) break;
    const start = toOffset(nameRva);
    names.push(file.toString('latin1', start, file.indexOf(0, start)).toLowerCase());
  }
  return names;
}

function inspect(name, format, arch) {
  const file = fs.readFileSync(name);
  let found;
  if (file.readUInt32BE(0) === 0x7f454c46) {
    found = { format: 'elf', machine: file.readUInt16LE(18), type: file.readUInt16LE(16) };
    if (found.type !== 3) fail(`${name}: an ELF file of type ${found.type}, not a shared object (3)`);
    if (format !== 'elf' || found.machine !== ELF_MACHINES[arch]) fail(`${name}: ELF machine ${found.machine}, expected ${format} ${arch}`);
  } else if (file.readUInt32LE(0) === 0xfeedfacf) {
    found = { format: 'macho', cpu: file.readUInt32LE(4), type: file.readUInt32LE(12) };
    if (found.type !== 6 && found.type !== 8) fail(`${name}: Mach-O file type ${found.type}, not a dylib or bundle`);
    if (format !== 'macho' || found.cpu !== MACHO_CPUS[arch]) fail(`${name}: Mach-O CPU 0x${found.cpu.toString(16)}, expected ${format} ${arch}`);
  } else if (file.toString('latin1', 0, 2) === 'MZ') {
    const peOffset = file.readUInt32LE(0x3c);
    found = { format: 'pe', machine: file.readUInt16LE(peOffset + 4), dll: (file.readUInt16LE(peOffset + 22) & 0x2000) !== 0 };
    if (format !== 'pe' || found.machine !== PE_MACHINES[arch]) fail(`${name}: PE machine 0x${found.machine.toString(16)}, expected ${format} ${arch}`);
    if (!found.dll) fail(`${name}: a PE file that is not a DLL`);
    const imports = peImportNames(file, 1, 20, 12);
    const delayed = peImportNames(file, 13, 32, 4);
    if (imports.includes('node.exe')) fail(`${name}: node.exe is imported directly, not delay-loaded`);
    if (!delayed.includes('node.exe')) fail(`${name}: node.exe is not in the delay-load imports (${delayed.join(', ') || 'none'})`);
    found.delayLoaded = delayed;
  } else {
    fail(`${name}: neither ELF, Mach-O (64-bit) nor PE`);
  }
  console.log(`${name}: ${format} ${arch}${found.delayLoaded ? `, delay-loads ${found.delayLoaded.join(', ')}` : ''}`);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'flags' && args.length === 1) flags(args[0]);
else if (command === 'inspect' && args.length === 3) inspect(...args);
else fail('usage: flags <gyp OS> | inspect <file> <elf|macho|pe> <x64|arm64>');
