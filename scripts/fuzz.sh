#!/usr/bin/env bash
# The fuzz tier for the control-message codecs (encode_source_control, decode_receive_control):
#   scripts/fuzz.sh [target...]      targets: decode_linux model_linux decode_freebsd
#                                              model_freebsd control_win32 (default: all)
# Builds each target into build-fuzz/ and runs it for FUZZ_SECONDS (default 20) seconds. Exits 1
# if any target finds something; its reproducer is then in build-fuzz/findings/. fuzz/README.md
# says what each target checks.
#
# - decode_* / model_*: libFuzzer targets (clang-14, -fsanitize=fuzzer,address,undefined) for
#   native-posix/control.cc, in Linux's dialect and, through fuzz/bsd-on-linux/, in FreeBSD's.
#   They start from fuzz/corpus/<target>/ and write what they learn to build-fuzz/corpus/<target>/.
# - control_win32: native-win/control.cc built with mingw-w64, a deterministic mutation driver
#   (fuzz/win_driver.cc) run under Wine with a prefix of its own (.cache/wine-fuzz/).
#
# Environment: FUZZ_SECONDS (per target), FUZZ_SEED (one seed for every target; random if unset,
# printed either way), FUZZ_WINEPREFIX (.cache/wine-fuzz), CXX_FUZZ (clang++-14),
# CXX_WIN (x86_64-w64-mingw32-g++-posix), UV_INCLUDE (a directory with uv.h; /usr/include/node).
# Needs (Debian 12): apt-get install -y --no-install-recommends clang-14 libclang-rt-14-dev
#   g++-mingw-w64-x86-64 wine wine64
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

CXX_FUZZ="${CXX_FUZZ:-clang++-14}"
CXX_WIN="${CXX_WIN:-x86_64-w64-mingw32-g++-posix}"
UV_INCLUDE="${UV_INCLUDE:-/usr/include/node}"
seconds="${FUZZ_SECONDS:-20}"
seed="${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
out="build-fuzz"
all_targets=(decode_linux model_linux decode_freebsd model_freebsd control_win32)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

fail() {
  echo "fuzz: $*" >&2
  exit 2
}

[[ "$seconds" =~ ^[0-9]+$ ]] || fail "FUZZ_SECONDS must be a whole number of seconds"
[ -f "$UV_INCLUDE/uv.h" ] || fail "no uv.h in $UV_INCLUDE: install Node's headers or set UV_INCLUDE"
for target in "${targets[@]}"; do
  case " ${all_targets[*]} " in
    *" $target "*) ;;
    *) fail "unknown target $target (known: ${all_targets[*]})" ;;
  esac
done

# The codec and what it calls; fuzz/unused_link_symbols.cc stands in for the rest of the backend.
codec_common=(native-common/backend_shared.cc native-common/address.cc fuzz/unused_link_symbols.cc)
warnings=(-Wall -Wextra -Werror)

build_libfuzzer() {  # dialect (linux|freebsd)
  local dialect="$1" dir="$out/obj-$1"
  command -v "$CXX_FUZZ" >/dev/null ||
    fail "$CXX_FUZZ not found: apt-get install -y --no-install-recommends clang-14 libclang-rt-14-dev"
  local flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer "${warnings[@]}"
    -fsanitize=address,undefined -fno-sanitize-recover=all
    -I native-common -I native-posix -I fuzz -I "$UV_INCLUDE")
  if [ "$dialect" = freebsd ]; then
    # The BSD branch of native-posix/control.cc, with FreeBSD's layout and numbers.
    flags+=(-DSENDMSG_FUZZ_BSD_DIALECT -I fuzz/bsd-on-linux -include fuzz/bsd-on-linux/freebsd-dialect.h)
  fi
  mkdir -p "$dir"
  local objects=() source object
  for source in native-posix/control.cc "${codec_common[@]}" fuzz/decode_fuzzer.cc fuzz/model_fuzzer.cc; do
    object="$dir/$(basename "${source%.cc}").o"
    # Coverage in the harness too: the model target's scenarios are branches there.
    "$CXX_FUZZ" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$source" -o "$object"
    objects+=("$object")
  done
  local codec_objects=("${objects[@]:0:4}")
  "$CXX_FUZZ" -fsanitize=fuzzer,address,undefined "${codec_objects[@]}" "$dir/decode_fuzzer.o" \
    -o "$out/decode_$dialect"
  "$CXX_FUZZ" -fsanitize=fuzzer,address,undefined "${codec_objects[@]}" "$dir/model_fuzzer.o" \
    -o "$out/model_$dialect"
}

build_win32() {
  command -v "$CXX_WIN" >/dev/null ||
    fail "$CXX_WIN not found: apt-get install -y --no-install-recommends g++-mingw-w64-x86-64"
  # The defines and runtime of scripts/build-win.sh (binding.gyp's OS=='win').
  "$CXX_WIN" -std=c++17 -O2 "${warnings[@]}" -DWIN32_LEAN_AND_MEAN -DNOMINMAX \
    -I native-common -I native-win -I fuzz -I "$UV_INCLUDE" \
    fuzz/win_driver.cc native-win/control.cc "${codec_common[@]}" \
    -static -static-libgcc -static-libstdc++ -lws2_32 -o "$out/control_win32.exe"
}

run_libfuzzer() {  # target
  local target="$1" log="$out/logs/$1.log"
  mkdir -p "$out/corpus/$target"
  local corpora=("$out/corpus/$target")
  [ -d "fuzz/corpus/$target" ] && corpora+=("fuzz/corpus/$target")
  # The first corpus directory gets the new inputs; the one in the repo is only read.
  "./$out/$target" -seed="$seed" -max_total_time="$seconds" -timeout=5 -max_len=512 \
    -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$out/findings/$target-" \
    "${corpora[@]}" >"$log" 2>&1
}

run_win32() {
  local log="$out/logs/control_win32.log"
  command -v wine >/dev/null && command -v wineserver >/dev/null ||
    fail "wine not found: apt-get install -y --no-install-recommends wine wine64"
  # A prefix of its own (about 700 MB, made on the first run); FUZZ_WINEPREFIX may name another.
  export WINEPREFIX="${FUZZ_WINEPREFIX:-$root/.cache/wine-fuzz}"
  export WINEDEBUG=-all
  export WINEDLLOVERRIDES="mscoree,mshtml="
  mkdir -p "$WINEPREFIX"
  # Regression inputs from earlier findings run first, then the mutation from the seeds.
  local status=0 file
  for file in fuzz/corpus/control_win32/finding-*; do
    [ -e "$file" ] || continue
    wine "$out/control_win32.exe" --artifacts "$out/findings" \
      "--$(basename "$file" | cut -d- -f2)" "$file" </dev/null >>"$log" 2>&1 || status=1
  done
  if [ "$status" -eq 0 ]; then
    wine "$out/control_win32.exe" --seed "$seed" --seconds "$seconds" --artifacts "$out/findings" \
      fuzz/corpus/control_win32/wsa-* </dev/null >>"$log" 2>&1 || status=$?
  fi
  wineserver -k 2>/dev/null || true  # this prefix's server only
  return "$status"
}

mkdir -p "$out/logs" "$out/findings"
started=$SECONDS
echo "fuzz: seed $seed, $seconds s per target (FUZZ_SEED and FUZZ_SECONDS change them)"
need_linux=0 need_freebsd=0 need_win32=0
for target in "${targets[@]}"; do
  case "$target" in
    *_linux) need_linux=1 ;;
    *_freebsd) need_freebsd=1 ;;
    control_win32) need_win32=1 ;;
  esac
done
[ "$need_linux" -eq 1 ] && build_libfuzzer linux
[ "$need_freebsd" -eq 1 ] && build_libfuzzer freebsd
[ "$need_win32" -eq 1 ] && build_win32
echo "fuzz: built in $((SECONDS - started)) s"

failed=()
for target in "${targets[@]}"; do
  : >"$out/logs/$target.log"
  target_started=$SECONDS
  status=0
  if [ "$target" = control_win32 ]; then run_win32 || status=$?; else run_libfuzzer "$target" || status=$?; fi
  if [ "$status" -eq 0 ]; then
    summary="$(grep -E '^(Done|control_win: seed)' "$out/logs/$target.log" | tail -1 || true)"
    echo "fuzz: $target passed in $((SECONDS - target_started)) s: $summary"
  else
    echo "fuzz: $target FAILED (exit $status) in $((SECONDS - target_started)) s; end of $out/logs/$target.log:"
    grep -E 'property failed|ERROR|SUMMARY|Test unit written|reproducer|control_win:|^MS:' \
      "$out/logs/$target.log" | head -20 | sed 's/^/  /'
    failed+=("$target")
  fi
done

echo "fuzz: total $((SECONDS - started)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}; reproducers in $out/findings/" >&2
  exit 1
fi
