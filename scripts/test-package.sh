#!/usr/bin/env bash
# Proves the package as users get it, from the packed tarball, not from the work tree:
#  1. npm pack (with the prebuilds from scripts/prebuild.sh), and check the file list;
#  2. install it into a fresh project with no compiler reachable (PATH without cc, c++, make,
#     python3), install scripts run as usual;
#  3-4. the prebuild, not a source build, was loaded, and a smoke test through the public API;
#  5. the same tarball on win32-x64 under Wine: its install script (node-gyp-build) and the
#     smoke test, with Windows node.exe;
#  6. the same tarball on linux-arm64 under qemu-user (scripts/qemu-arm64.sh): npm install run
#     by arm64 node with no compiler reachable, then the prebuild loaded and the smoke test;
#  7. a tarball without the linux prebuild, with a compiler: it falls back to a source build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
say() { echo "test-package: $*"; }
fail() { echo "test-package: FAIL: $*" >&2; exit 1; }

[ -f prebuilds/linux-x64/sendmsg.glibc.node ] && [ -f prebuilds/linux-arm64/sendmsg.glibc.node ] &&
  [ -f prebuilds/win32-x64/sendmsg.napi.node ] || fail "no prebuilds: run npm run prebuild first"

say "1. npm pack"
tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
tar -tzf "$tarball" | sed 's|^package/||' | sort >"$work/files.txt"
sed 's/^/  /' "$work/files.txt"
for required in package.json README.md LICENSE dist/index.js dist/index.d.ts esm/index.mjs binding.gyp \
  native-common/backend.h native-posix/socket.cc native-win/socket.cc prebuilds/win32-x64/sendmsg.napi.node; do
  grep -qx "$required" "$work/files.txt" || fail "the tarball lacks $required"
done
# The Linux prebuilds as node-gyp-build finds them, of the right architecture (the check the
# release workflow makes for all 8 targets). Not win32-x64: GNU ld leaves the PE delay-import
# directory empty, so the check cannot see that node.exe is delay-loaded; step 5 loads it
# under a renamed node.exe instead.
node "$root/scripts/check-tarball.js" "$tarball" linux-x64-glibc linux-arm64-glibc
# No tests, build intermediates, CI or dev-only files.
if grep -E '^(test/|src/|scripts/|build/|build-win/|bench/|\.ci/|\.github/|\.cache/|node_modules/|tsconfig|\.mocharc)' "$work/files.txt"; then
  fail "the tarball holds the files above, which users do not need"
fi

# no_compiler_path <folder> [node binary]: makes <folder> a PATH with node (this one, or the one
# given) and npm and the basic tools, but no compiler, make or python.
no_compiler_path() {
  local folder="$1" node_binary="${2:-$(command -v node)}" tool target
  mkdir -p "$folder"
  for tool in npx sh bash env cat ls mkdir rm cp mv ln uname dirname basename tr sed grep head tail chmod find sort tar gzip; do
    target="$(command -v "$tool")" && ln -sf "$target" "$folder/$tool"
  done
  ln -sf "$node_binary" "$folder/node"
  # npm-cli.js starts with #!/usr/bin/env node: it runs under the node of this PATH.
  ln -sf "$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js" "$folder/npm"
  for tool in cc c++ gcc g++ make python3 python; do
    PATH="$folder" command -v "$tool" >/dev/null && fail "$tool is still reachable"
  done
  return 0
}
nocc="$work/nocc-bin"
no_compiler_path "$nocc"

say "2. install into a fresh project with no compiler"
project="$work/project"
mkdir -p "$project"
(cd "$project" && npm init -y >/dev/null &&
  PATH="$nocc" npm install --no-audit --no-fund "$tarball" >"$work/install.log" 2>&1) ||
  { cat "$work/install.log"; fail "npm install without a compiler failed"; }
[ -d "$project/node_modules/sendmsg/build" ] && fail "a source build ran: node_modules/sendmsg/build exists"

say "3-4. prebuild loaded, smoke test (linux-x64)"
# The smoke script is copied into the project: run from this repository, require('sendmsg')
# would resolve to the work tree itself (a package can require itself by name).
cp "$root/scripts/package-smoke.js" "$project/smoke.js"
(cd "$project" && PATH="$nocc" node smoke.js --expect-prebuild)
(cd "$project" && PATH="$nocc" node --input-type=module -e "import { createSocket } from 'sendmsg'; createSocket('udp4').close(); console.log('ok   import from ES modules')")

say "5. the same tarball on win32-x64 under Wine"
bash "$root/scripts/test-wine.sh" --package "$project"

say "6. the same tarball on linux-arm64 under qemu, with no compiler"
# Everything in this step runs inside the namespace where arm64 programs run under qemu:
# npm itself, the install script it starts (node-gyp-build), and the smoke test.
export tarball work root
export -f no_compiler_path fail say
# shellcheck disable=SC2016  # expanded inside the namespace
bash "$root/scripts/qemu-arm64.sh" bash -c '
  set -euo pipefail
  no_compiler_path "$work/nocc-arm64" "$SENDMSG_ARM64_NODE"
  project="$work/project-arm64"
  mkdir -p "$project"
  cd "$project"
  PATH="$work/nocc-arm64" node -p "process.arch" | grep -qx arm64 || fail "node on the arm64 PATH is not arm64"
  npm init -y >/dev/null
  PATH="$work/nocc-arm64" npm install --no-audit --no-fund "$tarball" >"$work/install-arm64.log" 2>&1 ||
    { cat "$work/install-arm64.log"; fail "npm install under arm64 node without a compiler failed"; }
  [ -d node_modules/sendmsg/build ] && fail "a source build ran: node_modules/sendmsg/build exists"
  # The check the install script made, again under arm64 node for certain: with a node of
  # the host'"'"'s architecture on its PATH it would have passed with the linux-x64 prebuild.
  (cd node_modules/sendmsg && PATH="$work/nocc-arm64" node ../node-gyp-build/build-test.js) ||
    fail "node-gyp-build-test: no prebuild loads under arm64 node"
  cp "$root/scripts/package-smoke.js" smoke.js
  PATH="$work/nocc-arm64" node smoke.js --expect-prebuild
'

say "7. no prebuild for this platform, a compiler present: it builds from source"
fallback="$work/fallback"
mkdir -p "$fallback/unpacked"
tar -xzf "$tarball" -C "$fallback/unpacked"
rm -rf "$fallback/unpacked/package/prebuilds/linux-x64"
# Its own version, so that nothing can mistake it for the tarball installed above.
(cd "$fallback/unpacked/package" && npm pkg set version=0.0.0-source-build)
(cd "$fallback/unpacked/package" && npm pack --silent --ignore-scripts --pack-destination "$fallback" >/dev/null)
mkdir -p "$fallback/project"
(cd "$fallback/project" && npm init -y >/dev/null &&
  npm install --no-audit --no-fund "$fallback"/sendmsg-*.tgz >"$work/fallback.log" 2>&1) ||
  { cat "$work/fallback.log"; fail "npm install with a source build failed"; }
cp "$root/scripts/package-smoke.js" "$fallback/project/smoke.js"
(cd "$fallback/project" && node smoke.js --expect-source-build)
say "all passed"
