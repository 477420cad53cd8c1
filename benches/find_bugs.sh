#!/usr/bin/env bash
# How fast each search finds each planted bug, from generic scenarios.
#
# For every patch in benches/mutants/ (one rule a protocol relies on, removed),
# builds the patched faultline in a scratch worktree and counts the runs until
# the first failure with plain `explore`, `explore --swarm` (the scenario plus
# a generic [swarm] block with buggify) and `explore --guided`, from the
# protocol's calm and lossy/nemesis scenarios, over several master seeds (seed
# ranges M*RUNS..(M+1)*RUNS). "-" means not found within RUNS runs. Prints a
# markdown table (reports/BENCHMARKS.md records one). A failure counts only
# if the unpatched build passes the same run: a harsh fault mix can fail a
# correct protocol too (a saga still compensating when the run ends).
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
  echo "$(calm_of "$1") $(lossy_of "$1")"
}

# The smallest offset of a seed that fails in the mutant's explore --json
# report ($1) with a check the baseline's ($2) did not fail on that seed,
# with its check; or "-".
first_seed() {
  python3 -c '
import json, sys
start = int(sys.argv[3])
try:
    mutant = json.load(open(sys.argv[1]))
    base = json.load(open(sys.argv[2]))
except ValueError:
    print("error"); sys.exit()
shared = {(f["seed"], f["check"]) for f in base["failures"]}
own = sorted((f["seed"] - start, f["check"]) for f in mutant["failures"]
             if (f["seed"], f["check"]) not in shared)
print("%d (%s)" % own[0] if own else "-")' "$1" "$2" "$3"
}

# The first run of an explore --guided --json report whose written scenario
# holds on the baseline build, with its check; or "-".
first_run() {
  python3 -c '
import json, subprocess, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("error"); sys.exit()
for f in sorted(d["failures"], key=lambda f: f["run"]):
    replay = [sys.argv[1], "run", f["file"], "--quiet", "--no-out"]
    if subprocess.run(replay, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
        print("%d (%s)" % (f["run"], f["check"])); sys.exit()
print("-")' "$baseline"
}

# Sweeps seeds $2..$3 of scenario $1 (more arguments go to explore) with the
# mutant and the baseline; prints the first seed only the mutant fails.
sweep() {
  local file=$1 a=$2 b=$3; shift 3
  # explore exits 1 when it finds a failure: that is the point here.
  "$bin" explore "$file" --seeds "$a..$b" --json "$@" > "$work/mutant.json" || true
  "$baseline" explore "$file" --seeds "$a..$b" --json "$@" > "$work/base.json" || true
  first_seed "$work/mutant.json" "$work/base.json" "$a"
}

build_baseline
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
      plain+="$(sweep "$file" $a $b); "
      swarmed+="$(sweep "$swarm" $a $b --swarm); "
      # The guided search writes each new failure (check and kind) out.
      mkdir -p "$work/guided"
      out=$("$bin" explore "$file" --guided --seeds $a..$b --json --out "$work/guided" || true)
      guided+="$(first_run <<< "$out"); "
    done
    echo "| $name | $scenario | ${plain%; } | ${swarmed%; } | ${guided%; } |"
  done
done
