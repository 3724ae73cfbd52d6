#!/usr/bin/env bash
# Benchmark: time from starting `mdcluster wizard` to its first frame, on a
# sandbox with 1,000 accounts, in a 120x40 pseudo-terminal made by `script`.
#
# Two parts, each a mean over RUNS runs:
#  - in-process: from `main` to the first frame written to the terminal
#    (MDCLUSTER_EXIT_AFTER_FIRST_FRAME=1 makes the wizard print it and exit);
#  - process start-up before `main` (exec, loading): the wall time of
#    `mdcluster --version`, which does nothing else.
# Usage: benches/first_frame.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
cargo build --release --quiet
bin=./target/release/mdcluster
work=$(mktemp -d /dev/shm/mdcluster-ff-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" sandbox "$work/MDaemon" --accounts 1000 --messages 20000 >/dev/null 2>&1
export TERM=${TERM:-xterm-256color}
inproc=$(for _ in $(seq "$runs"); do
    script -qec "stty cols 120 rows 40; MDCLUSTER_EXIT_AFTER_FIRST_FRAME=1 $bin wizard --root $work/MDaemon" /dev/null \
        | tr -d '\r' | sed -n 's/.*first frame after \([0-9.]*\) ms.*/\1/p'
done | awk '{s += $1; if ($1 > m) m = $1} END {printf "mean %.2f ms, max %.2f ms", s / NR, m}')
startup=$(for _ in $(seq "$runs"); do
    s=$(date +%s%N); "$bin" --version >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000))
done | awk '{s += $1} END {printf "%.2f", s / NR / 1000}')
echo "1,000-account sandbox, $runs runs"
echo "main to first frame: $inproc"
echo "process start-up (mdcluster --version): mean $startup ms"
