#!/usr/bin/env bash
# Cross-builds the Windows x64 addon on Linux with mingw-w64:
#   prebuilds/win32-x64/sendmsg.napi.node
# node-gyp-build picks that name for any Node with Node-API 8 on win32-x64 (the "napi" tag
# matches every ABI). Intermediates go to build-win/.
#
# Needs (Debian 12):
#   apt-get install -y --no-install-recommends g++-mingw-w64-x86-64 mingw-w64-tools
#   npm install   (node-addon-api, node-api-headers)
# and uv.h from Node's own headers (/usr/include/node, or set UV_INCLUDE to a directory with
# uv.h and uv/win.h of the libuv that the target Node ships).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

CXX="${CXX_WIN:-x86_64-w64-mingw32-g++-posix}"
DLLTOOL="${DLLTOOL_WIN:-x86_64-w64-mingw32-dlltool}"
UV_INCLUDE="${UV_INCLUDE:-/usr/include/node}"
out_dir="prebuilds/win32-x64"
out="$out_dir/sendmsg.napi.node"
build="build-win"

fail() {
  echo "build-win: $*" >&2
  exit 1
}

# The posix thread model: napi.h needs std::mutex, which the default win32 model lacks.
command -v "$CXX" >/dev/null ||
  fail "$CXX not found. Install it with: apt-get install -y --no-install-recommends g++-mingw-w64-x86-64 mingw-w64-tools"
command -v "$DLLTOOL" >/dev/null ||
  fail "$DLLTOOL not found. Install it with: apt-get install -y --no-install-recommends g++-mingw-w64-x86-64"
addon_api="$(node -p "require('node-addon-api').include_dir" 2>/dev/null)" ||
  fail "node-addon-api is not installed: run npm install"
node_api_headers="$(node -p "path.dirname(require.resolve('node-api-headers/package.json'))" 2>/dev/null)" ||
  fail "node-api-headers is not installed: run npm install (or npm install --no-save node-api-headers)"
[ -f "$UV_INCLUDE/uv.h" ] && [ -f "$UV_INCLUDE/uv/win.h" ] ||
  fail "no uv.h and uv/win.h in $UV_INCLUDE: install Node's headers or set UV_INCLUDE"

mkdir -p "$build" "$out_dir"

# Every libuv function the sources call must be in the import library, or the link fails late.
for function in $(grep -rhoE '\buv_[a-z0-9_]+\(' native-common native-win | tr -d '(' | sort -u); do
  grep -qx "$function" scripts/win-node-uv.def ||
    fail "$function is called but not listed in scripts/win-node-uv.def"
done

# The import library for node.exe: Node-API from node-api-headers, plus the few libuv functions
# the addon calls. Delay-loaded (-y), so that scripts/win-delay-load-hook.cc can hand over the
# running executable whatever its file is called.
{
  cat "$node_api_headers/def/node_api.def"
  echo  # node_api.def has no final newline
  grep -vE '^[[:space:]]*(;|LIBRARY|NAME|EXPORTS|$)' scripts/win-node-uv.def
} >"$build/node.def"
"$DLLTOOL" -d "$build/node.def" -D node.exe -y "$build/libnode_delay.a"

# The same defines as binding.gyp, for OS=='win'.
defines=(
  -DNAPI_VERSION=8
  -DNAPI_DISABLE_CPP_EXCEPTIONS
  -DNODE_ADDON_API_DISABLE_DEPRECATED
  -DWIN32_LEAN_AND_MEAN
  -DNOMINMAX
  -DNODE_GYP_MODULE_NAME=sendmsg
  -DBUILDING_NODE_EXTENSION
)
includes=(
  -I "$node_api_headers/include"
  -I "$addon_api"
  -I "$UV_INCLUDE"
  -I native-common
  -I native-win
)
sources=(
  native-common/addon.cc
  native-common/arguments.cc
  native-common/udp_handle.cc
  native-common/udp_handle_receive.cc
  native-common/udp_handle_send.cc
  native-common/address.cc
  native-common/backend_shared.cc
  native-win/socket.cc
  native-win/control.cc
  native-win/errors.cc
  scripts/win-delay-load-hook.cc
)

objects=()
for source in "${sources[@]}"; do
  object="$build/$(basename "${source%.cc}").o"
  "$CXX" -std=c++17 -O2 -Wall -Wextra "${defines[@]}" "${includes[@]}" -c "$source" -o "$object"
  objects+=("$object")
done

# Static runtime: the .node file must not need libstdc++-6.dll or libwinpthread-1.dll beside it.
"$CXX" -shared -s -o "$out" "${objects[@]}" "$build/libnode_delay.a" \
  -static -static-libgcc -static-libstdc++ -lws2_32 -lmswsock -liphlpapi

echo "build-win: wrote $out"
