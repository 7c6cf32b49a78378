#!/usr/bin/env bash
# The mocha suite against a sanitizer build of the addon (Linux, g++), for
# scripts/test-asan.sh and scripts/test-ubsan.sh:
#   address    AddressSanitizer: out-of-bounds and use-after-free, the control-message fuzz
#              among them.
#   undefined  UndefinedBehaviorSanitizer: signed overflow, shifts, null or misaligned pointers,
#              out-of-range bools and enums.
# Every finding aborts the run, with a stack trace. The build is made in a temporary copy of
# the work tree, so build/ here is left alone. The two runtimes are not combined, so that each
# run says which kind of fault it found.
set -euo pipefail
kind="${1:-}"
case "$kind" in
  address)
    runtime=libasan.so
    flags="-fsanitize=address -fno-omit-frame-pointer"
    # Leak checks are left to the tests: V8 keeps memory until exit on purpose.
    options=(ASAN_OPTIONS="detect_leaks=0:abort_on_error=1")
    ;;
  undefined)
    runtime=libubsan.so
    # vptr is left out: node-gyp builds with -fno-rtti, and that check needs RTTI.
    flags="-fsanitize=undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer"
    options=(UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1")
    ;;
  *)
    echo "usage: test-sanitizer.sh address|undefined" >&2
    exit 2
    ;;
esac
name="test-${runtime%.so}"
name="${name/lib/}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
library="$(g++ -print-file-name="$runtime")"
[ -f "$library" ] || { echo "$name: no $runtime for g++ (apt-get install libgcc-12-dev)" >&2; exit 1; }

cd "$root"
git ls-files -z | xargs -0 cp --parents -t "$work"
cp -r dist node_modules "$work/"
cd "$work"
CXXFLAGS="$flags" LDFLAGS="$flags" npx node-gyp rebuild >build.log 2>&1 || { cat build.log; exit 1; }
# (Not ldd | grep -q: grep's early exit would fail ldd with SIGPIPE under pipefail.)
ldd build/Release/sendmsg.node >ldd.txt
grep -q "${runtime%.so}" ldd.txt || { echo "$name: the build is not instrumented" >&2; exit 1; }
echo "$name: addon built with -fsanitize=$kind; running mocha"
# Node itself is not instrumented: the runtime is preloaded so that it is set up before the
# addon is. Child processes of the tests inherit the preload and the options.
env LD_PRELOAD="$library" "${options[@]}" PATH="$PATH" node node_modules/mocha/bin/mocha.js "${@:2}"
