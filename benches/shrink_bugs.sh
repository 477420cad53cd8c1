#!/usr/bin/env bash
# How small each planted bug shrinks: for every patch in benches/mutants/,
# builds the patched faultline in a scratch worktree, finds a failing run
# (the first failing seed of a swarm sweep of the protocol's lossy scenario
# with a generic [swarm] block, else the guided search's first failure from
# its calm scenario), shrinks it with `faultline shrink` (which keeps the
# check and its kind), and prints the fault events before and after.
#
# Usage: benches/shrink_bugs.sh [RUNS] [PATCH-NAME-FILTER]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-1000}
filter=${2:-}
# shellcheck source=benches/mutants/common.sh
source "$root/benches/mutants/common.sh"

echo "| bug | failing run | check | fault events before -> after shrinking |"
echo "|---|---|---|---|"
for patch in "$root"/benches/mutants/*.patch; do
  name=$(basename "$patch" .patch)
  [[ -n "$filter" && "$name" != *"$filter"* ]] && continue
  protocol=${name%%-*}
  build_mutant "$patch"
  lossy=$work/$(lossy_of "$protocol")-swarm.toml
  { cat "$tree/scenarios/$(lossy_of "$protocol").toml"; echo "$swarm_block"; } > "$lossy"
  out=$("$bin" explore "$lossy" --swarm --seeds 0..$runs --jobs 1 --fail-fast --json || true)
  seed=$(python3 -c 'import json,sys
d = json.loads(sys.stdin.read() or "{}")
s = [v["first_seed"] for v in d.get("by_check", {}).values()]
print(min(s) if s else "")' <<< "$out")
  if [[ -n "$seed" ]]; then
    target=$lossy
    where="$(lossy_of "$protocol") + swarm, seed $seed"
    extra=(--swarm)
  else
    calm=$tree/scenarios/$(calm_of "$protocol").toml
    out=$("$bin" explore "$calm" --guided --fail-fast --seeds 0..$runs --jobs 2 --json --out "$work" || true)
    target=$(python3 -c 'import json,sys
d = json.loads(sys.stdin.read() or "{}")
f = d.get("failures", [])
print(f[0]["file"] if f else "")' <<< "$out")
    if [[ -z "$target" ]]; then
      echo "| $name | not found in $runs runs | - | - |"
      continue
    fi
    seed=$(grep -m1 '^seed = ' "$target" | cut -d' ' -f3)
    where="$(calm_of "$protocol") guided, written out"
    extra=()
  fi
  summary=$("$bin" shrink "$target" --seed "$seed" "${extra[@]}" --out "$work/shrunk.toml" 2>&1 | grep -m1 '^shrunk' || true)
  # "shrunk      CHECK: faults A -> B, operations ..., duration ..."
  check=$(sed -E 's/^shrunk +([^:]+):.*/\1/' <<< "$summary")
  faults=$(sed -E 's/.*faults ([0-9]+ -> [0-9]+).*/\1/' <<< "$summary")
  echo "| $name | $where | $check | $faults |"
done
