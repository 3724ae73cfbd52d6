#!/usr/bin/env bash
# Benchmark: MDaemon.ini and Userlist.dat at scale (see docs/performance.md,
# "Parsers at scale"). A timed benchmark, not a test: the unit tests check the
# same work for correctness at a smaller size and never assert a time.
#
# Runs the ignored `bench_*` unit tests in a release build. Each prints one
# line per size; linear behaviour shows as about 4x the time for 4x the input.
#
# Usage: benches/parsers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --quiet --lib -- --ignored --nocapture --test-threads=1 bench_ 2>&1 |
    grep -o 'bench [a-z]* [a-z_]*=.*'
