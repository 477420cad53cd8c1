#!/usr/bin/env bash
# How fast each search finds each planted bug, from generic scenarios.
#
# For every patch in benches/mutants/ (one rule a protocol relies on, removed),
# builds the patched faultline in a scratch worktree and counts the runs until
# the first failure with plain `explore`, `explore --swarm` (the scenario plus
# a generic [swarm] block with buggify) and `explore --guided`, from the
# protocol's calm and lossy/nemesis scenarios, over several master seeds (seed
# ranges M*RUNS..(M+1)*RUNS). "-" means not found within RUNS runs. Prints a
# markdown table (reports/BENCHMARKS.md records one).
#
# Usage: benches/find_bugs.sh [RUNS] [MASTERS] [PATCH-NAME-FILTER]
#   e.g. benches/find_bugs.sh 1000 3
#        benches/find_bugs.sh 300 2 raft-vote
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-1000}
masters=${2:-3}
filter=${3:-}
# shellcheck source=benches/mutants/common.sh
source "$root/benches/mutants/common.sh"

scenarios_of() {
  case "$1" in
    raft) echo "raft-calm raft-unreliable" ;;
    twopc) echo "2pc-calm 2pc-lossy" ;;
    saga) echo "saga-happy saga-lossy" ;;
  esac
}

# The smallest offset of a failing seed in an explore --json report, or "-".
first_seed() {
  python3 -c '
import json, sys
start = int(sys.argv[1])
try:
    d = json.load(sys.stdin)
except ValueError:
    print("error"); sys.exit()
firsts = [(v["first_seed"] - start, k) for k, v in d["by_check"].items()]
print("%d (%s)" % min(firsts) if firsts else "-")' "$1"
}

# The first failing run of an explore --guided --json report, or "-".
first_run() {
  python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("error"); sys.exit()
runs = [(f["run"], f["check"]) for f in d["failures"]]
print("%d (%s)" % min(runs) if runs else "-")'
}

echo "| bug | scenario | plain | swarm + buggify | guided |"
echo "|---|---|---|---|---|"
for patch in "$root"/benches/mutants/*.patch; do
  name=$(basename "$patch" .patch)
  [[ -n "$filter" && "$name" != *"$filter"* ]] && continue
  protocol=${name%%-*}
  build_mutant "$patch"
  for scenario in $(scenarios_of "$protocol"); do
    file=$tree/scenarios/$scenario.toml
    swarm=$work/$scenario-swarm.toml
    { cat "$file"; echo "$swarm_block"; } > "$swarm"
    plain="" ; swarmed="" ; guided=""
    for ((m = 0; m < masters; m++)); do
      a=$((m * runs)); b=$(((m + 1) * runs))
      # explore exits 1 when it finds a failure: that is the point here.
      # Seeds in order on one thread, stopping at the first failure; the
      # guided search stops after the batch of its first failure.
      out=$("$bin" explore "$file" --seeds $a..$b --jobs 1 --fail-fast --json || true)
      plain+="$(first_seed $a <<< "$out"); "
      out=$("$bin" explore "$swarm" --swarm --seeds $a..$b --jobs 1 --fail-fast --json || true)
      swarmed+="$(first_seed $a <<< "$out"); "
      out=$("$bin" explore "$file" --guided --fail-fast --seeds $a..$b --jobs 2 --json --out "$work" || true)
      guided+="$(first_run <<< "$out"); "
    done
    echo "| $name | $scenario | ${plain%; } | ${swarmed%; } | ${guided%; } |"
  done
done
