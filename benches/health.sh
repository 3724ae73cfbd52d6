#!/usr/bin/env bash
# Benchmark: one `mdcluster health` round on a 10-node cluster with all ten
# services (see docs/performance.md, "Health round"). A timed benchmark, not
# a test.
#
# Ten SIMULATED nodes (`mdcluster simulate-services`) on 127.0.1.1-10, each
# with every service on its own port; a sample installation and share for
# the plan. Three cases, ROUNDS rounds each, wall time per `health` process
# (start to exit) and the round's own `elapsed_ms`:
#   up:      every node answers;
#   refused: three nodes stopped (connections refused at once);
#   hung:    three nodes accept and never answer (each probe waits for the
#            timeout: the round must end near --timeout, not 3 x 10 x it).
# Targets: up under 2 s; hung under timeout + 1 s.
#
# Usage: benches/health.sh [ROUNDS]   (default 10)
# Environment: TIMEOUT=2 (the --timeout of the hung case)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-10}
timeout=${TIMEOUT:-2}
cargo build --release --quiet
bin=$PWD/target/release/mdcluster
work=$(mktemp -d /tmp/mdcluster-health-bench.XXXXXX)
pids=()
cleanup() {
    set +e
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

keys=(remote_admin http https xmpp smtp submission imap imaps pop3 pop3s)
"$bin" sandbox "$work/MDaemon" --share "$work/share" --accounts 2 --messages 4 \
    > "$work/plan.toml" 2>/dev/null
# The sample plan's own node, MAIL1, becomes node 1 of ten.
sed -i 's/address = "127.0.0.1"/address = "127.0.1.1"/' "$work/plan.toml"
for i in $(seq 2 10); do
    printf '\n[[nodes]]\nname = "NODE%s"\naddress = "127.0.1.%s"\nrole = "secondary"\n' \
        "$i" "$i" >> "$work/plan.toml"
done
{
    printf '\n[load_balancer]\n[load_balancer.backend_ports]\n'
    for k in "${!keys[@]}"; do printf '%s = %s\n' "${keys[$k]}" $((31000 + k)); done
} >> "$work/plan.toml"
service_args=()
for k in "${!keys[@]}"; do service_args+=(--service "${keys[$k]}=$((31000 + k))"); done

# start NODE-INDEX [--silent]
start() {
    local name=NODE$1
    [[ $1 == 1 ]] && name=MAIL1
    "$bin" simulate-services --name "$name" --listen "127.0.1.$1" "${service_args[@]}" \
        "${@:2}" > /dev/null 2>&1 &
    pids[$1]=$!
}
for i in $(seq 1 10); do start "$i"; done
sleep 1

# measure CASE ARGS...: ROUNDS runs; prints the summary line of the case.
measure() {
    local case=$1; shift
    local walls=() rounds_ms=()
    for _ in $(seq 1 "$rounds"); do
        local t0 t1 out
        t0=$(date +%s%N)
        out=$("$bin" health --plan "$work/plan.toml" --json "$@" || true)
        t1=$(date +%s%N)
        walls+=($(( (t1 - t0) / 1000000 )))
        rounds_ms+=("$(grep '"health-round"' <<<"$out" | sed 's/.*"elapsed_ms":\([0-9.]*\).*/\1/')")
        checks=$(grep -c '"health-check"' <<<"$out")
        state=$(grep '"health-round"' <<<"$out" | sed 's/.*"state":"\([a-z]*\)".*/\1/')
    done
    python3 - "$case" "$checks" "$state" "${walls[*]}" "${rounds_ms[*]}" <<'PY'
import statistics, sys
case, checks, state, walls, rounds = sys.argv[1:]
w = sorted(int(x) for x in walls.split())
r = sorted(float(x) for x in rounds.split())
print(f"{case:8} {checks} checks, state {state}: process median {statistics.median(w)} ms, max {w[-1]} ms;"
      f" round median {statistics.median(r):.0f} ms, max {r[-1]:.0f} ms")
PY
}

measure up
for i in 8 9 10; do kill "${pids[$i]}"; wait "${pids[$i]}" 2>/dev/null || true; done
measure refused
for i in 8 9 10; do start "$i" --silent; done
sleep 1
measure hung --timeout "$timeout"
echo "(hung: --timeout $timeout; target: under $((timeout + 1)) s)"
