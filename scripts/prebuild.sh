#!/usr/bin/env bash
# Builds the prebuilt binaries this machine can make, where node-gyp-build looks for them:
#   prebuilds/linux-x64/sendmsg.napi.glibc.node   (prebuildify, Node-API, stripped)
#   prebuilds/win32-x64/sendmsg.napi.node         (mingw-w64 cross build, scripts/build-win.sh)
# The other platforms are built by .github/workflows/release.yml on their own runners.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

npx prebuildify --napi --strip --tag-libc --name sendmsg
bash scripts/build-win.sh
find prebuilds -name '*.node' -printf 'prebuild: %p (%s bytes)\n'
