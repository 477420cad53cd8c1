#!/usr/bin/env bash
# Compares the CPU time (user + system) of commands, interleaved: round r
# runs every command once, in order, then round r+1; so a noisy neighbour
# slows every side alike. Prints each command's median and range.
#
# Usage: benches/compare_cpu.sh REPS 'label A::command A' 'label B::command B' ...
# Example (before/after a change, from a worktree of the old commit):
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release)
#   benches/compare_cpu.sh 7 \
#     'old::/tmp/old/target/release/faultline run bench.toml --no-out --quiet' \
#     'new::target/release/faultline run bench.toml --no-out --quiet'
set -euo pipefail
reps=$1
shift
out=$(mktemp)
declare -A samples
for ((r = 0; r < reps; r++)); do
  for spec in "$@"; do
    label=${spec%%::*}
    cmd=${spec#*::}
    /usr/bin/time -o "$out" -f '%U %S' bash -c "$cmd" >/dev/null 2>&1 || true
    cpu=$(tail -1 "$out" | awk '{print $1 + $2}')
    samples["$label"]="${samples["$label"]:-} $cpu"
  done
done
rm -f "$out"
printf '| command | CPU s, median (min-max) over %s |\n|---|---|\n' "$reps"
for spec in "$@"; do
  label=${spec%%::*}
  echo "${samples["$label"]}" | tr ' ' '\n' | grep -v '^$' | sort -g | awk -v l="$label" '
    { v[NR] = $1 } END { printf "| %s | %.3f (%.3f-%.3f) |\n", l, v[int((NR + 1) / 2)], v[1], v[NR] }'
done
