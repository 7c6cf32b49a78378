#!/usr/bin/env bash
# Fault injection on the send path (test/faults/): builds what those tests load (the addon,
# dist/ and the LD_PRELOAD shim), then runs them. Linux only: the shim interposes glibc's
# sendmsg and sendmmsg. Arguments go to mocha (e.g. -g ENOBUFS).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ "$(uname -s)" != Linux ]; then
  echo "test-faults: skipped: the fault shim interposes glibc's sendmsg/sendmmsg through LD_PRELOAD, which needs Linux (this is $(uname -s))"
  exit 0
fi
# The addon incrementally (make rebuilds only what changed), so a fix in native code is what
# gets tested; a full rebuild only when build/ was never configured.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if [ -f build/Makefile ]; then gyp=build; else gyp=rebuild; fi
npx node-gyp "$gyp" >"$log" 2>&1 || { cat "$log"; exit 1; }
npx tsc -p tsconfig.json
echo "test-faults: shim at $(node test/faults/shim.js)"
# Its own mocha config: the main suite's (.mocharc.json) would add test/*.test.js.
npx mocha --config test/faults/.mocharc.json "$@"
