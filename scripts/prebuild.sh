#!/usr/bin/env bash
# Builds the prebuilt binaries this machine can make, where node-gyp-build looks for them:
#   prebuilds/linux-x64/sendmsg.glibc.node     (prebuildify --napi --strip --tag-libc)
#   prebuilds/linux-arm64/sendmsg.glibc.node   (the same name and folder; cross-built with zig
#                                               by scripts/check-targets.sh, for glibc 2.28)
#   prebuilds/win32-x64/sendmsg.napi.node      (mingw-w64 cross build, scripts/build-win.sh)
# The other platforms are built by .github/workflows/release.yml on their own runners, which
# also rebuild these three there.
#
#   bash scripts/prebuild.sh [linux-x64|linux-arm64|win32-x64 ...]   (default: all three)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

linux_arm64() {
  bash scripts/check-targets.sh linux-arm64-glibc
  source scripts/zig.sh
  mkdir -p prebuilds/linux-arm64
  # What prebuildify --strip does with strip(1), which knows only the host's architecture.
  "$zig" objcopy --strip-all build/check-targets/linux-arm64-glibc/sendmsg.node prebuilds/linux-arm64/sendmsg.glibc.node
  node scripts/check-targets-helper.js inspect prebuilds/linux-arm64/sendmsg.glibc.node elf arm64
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux-x64 linux-arm64 win32-x64)
for target in "${targets[@]}"; do
  case "$target" in
    linux-x64) npx prebuildify --napi --strip --tag-libc --name sendmsg ;;
    linux-arm64) linux_arm64 ;;
    win32-x64) bash scripts/build-win.sh ;;
    *) echo "prebuild: no such target: $target (linux-x64, linux-arm64, win32-x64)" >&2; exit 1 ;;
  esac
done
find prebuilds -name '*.node' -printf 'prebuild: %p (%s bytes)\n'
