# Shared by benches/find_bugs.sh and benches/shrink_bugs.sh (sourced, with
# $root set): a scratch worktree of HEAD in $tree (removed on exit), the
# mutant binary $bin, a function that builds one patch, each protocol's
# generic calm and lossy scenarios, and a generic [swarm] block with
# buggify to append to a scenario.
work=$(mktemp -d)
tree=$work/tree
git -C "$root" worktree add --detach -q "$tree" HEAD
cleanup() {
  git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/mutants}
bin=$CARGO_TARGET_DIR/release/faultline

# Builds faultline with patch $1 applied (and no other).
build_mutant() {
  git -C "$tree" checkout -q -- .
  git -C "$tree" apply "$1"
  (cd "$tree" && cargo build --release -q -p faultline-cli 2>/dev/null)
}

# Builds the unpatched faultline as $baseline: a failure it shares with a
# mutant is the scenario's (or the fault mix's), not the planted bug's.
baseline=$work/baseline-faultline
build_baseline() {
  git -C "$tree" checkout -q -- .
  (cd "$tree" && cargo build --release -q -p faultline-cli 2>/dev/null)
  cp "$bin" "$baseline"
}

swarm_block='
[swarm]
loss = [0.0, 0.2]
duplicate = [0.0, 0.05]
partition = { every = ["1s", "10s"], duration = ["300ms", "3s"] }
crash = { every = ["1s", "10s"], duration = ["200ms", "3s"] }
pause = { every = ["2s", "15s"], duration = ["100ms", "2s"] }
buggify = [0.0, 0.2]
crash_after_send = [0.0, 0.1]
'

# The generic calm and lossy scenarios of protocol $1 (a patch's prefix).
calm_of() {
  case "$1" in raft) echo raft-calm ;; twopc) echo 2pc-calm ;; saga) echo saga-happy ;; esac
}
lossy_of() {
  case "$1" in raft) echo raft-unreliable ;; twopc) echo 2pc-lossy ;; saga) echo saga-lossy ;; esac
}
