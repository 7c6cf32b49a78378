#!/usr/bin/env bash
# The mocha suite against an AddressSanitizer build of the addon (Linux, g++): every test,
# the control-message fuzz among them, with out-of-bounds and use-after-free checks on. The
# build is made in a temporary copy of the work tree, so build/ here is left alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
libasan="$(g++ -print-file-name=libasan.so)"
[ -f "$libasan" ] || { echo "test-asan: no libasan.so for g++ (apt-get install libgcc-12-dev)" >&2; exit 1; }

cd "$root"
git ls-files -z | xargs -0 cp --parents -t "$work"
cp -r dist node_modules "$work/"
cd "$work"
CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address" \
  npx node-gyp rebuild >build.log 2>&1 || { cat build.log; exit 1; }
ldd build/Release/sendmsg.node | grep -q libasan || { echo "test-asan: the build is not instrumented" >&2; exit 1; }
echo "test-asan: addon built with AddressSanitizer; running mocha"
# Node itself is not instrumented: preload the runtime, and leave leak checks to the tests
# (V8 keeps memory until exit on purpose). Every finding aborts the run.
LD_PRELOAD="$libasan" ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
  PATH="$PATH" node node_modules/mocha/bin/mocha.js
