#!/usr/bin/env bash
# Benchmark: how fast `mdcluster sandbox` writes a benchmark-sized store.
# Writes onto a tmpfs (never the root file system, see docs/performance.md).
# Usage: benches/sandbox.sh [MESSAGES] [ACCOUNTS]
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-200000}
accounts=${2:-400}
cargo build --release --quiet
work=$(mktemp -d /dev/shm/mdcluster-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/time -f "elapsed %e s, peak RSS %M KB" \
    ./target/release/mdcluster sandbox "$work/MDaemon" --accounts "$accounts" --messages "$messages" >/dev/null
files=$(find "$work/MDaemon" -type f | wc -l)
bytes=$(du -sb "$work/MDaemon" | cut -f1)
echo "files: $files, bytes: $bytes"
