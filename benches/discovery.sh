#!/usr/bin/env bash
# Benchmark: discovery latency, from a node's start and its first announcement
# to its trusted row on the primary (see docs/performance.md, "Discovery
# latency"). A timed benchmark, not a test.
#
# Each round runs the hidden `mdcluster bench-discovery` on the primary: it
# listens (1.5 s to settle), then starts a fresh `mdcluster join --json` for a
# node with a name of its own, and notes when join printed "announcing" (it
# has handed its signed announcement to its mDNS responder) and when the
# node was first seen trusted, as `discover` judges it. Then, with the node
# announcing for 3 s more, it starts a new listener and notes how long that
# takes to see the node trusted (a primary started after its secondaries).
# One JSON line per round; the summary gives median, p90 and max.
#
# Two networks: loopback (any user), and as root two network namespaces on a
# Linux bridge (veth links, real multicast between "hosts"; needs `ip`). The
# namespaces are made for the run and deleted afterwards, also on failure or
# Ctrl-C; nothing touches the machine's own interfaces.
#
# Usage: benches/discovery.sh [ROUNDS]        (default 20)
# Environment: NETWORKS="loopback netns"     (which ones to run)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

rounds=${1:-20}
networks=${NETWORKS:-loopback netns}

cargo build --release --quiet
bin=$PWD/target/release/mdcluster

work=$(mktemp -d /dev/shm/mdcluster-discovery-bench.XXXXXX)
ns=mdcb$$
cleanup() {
    set +e
    for n in "${ns}a" "${ns}p" "${ns}br"; do
        [[ -e /run/netns/$n ]] || continue
        pids=$(ip netns pids "$n")
        [[ -n $pids ]] && kill -KILL $pids
        ip netns del "$n"
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin" sandbox "$work/primary" --accounts 2 --messages 4 >/dev/null 2>&1
"$bin" sandbox "$work/secondary" --secondary-of "$work/primary" --name BENCH \
    --accounts 1 --messages 1 >/dev/null 2>&1
mkdir "$work/share"
code=$("$bin" code --root "$work/primary" 2>/dev/null)
share=(--share '\\fileserver\mdaemon' --share-local "$work/share")

# rounds LABEL PRIMARY_NS NODE_NS SCOPE...: ROUNDS rounds into $work/LABEL.json
# (an empty namespace: this machine as it is).
run_rounds() {
    local label=$1 pns=$2 nns=$3
    shift 3
    local on_primary=() on_node=()
    [[ -n $pns ]] && on_primary=(ip netns exec "$pns")
    [[ -n $nns ]] && on_node=(ip netns exec "$nns")
    : >"$work/$label.json"
    for i in $(seq "$rounds"); do
        local name
        name=$(printf '%s%d-%d' "${label:0:1}" $$ "$i" | tr a-z A-Z)
        "${on_primary[@]}" "$bin" bench-discovery --root "$work/primary" "${share[@]}" "$@" \
            --name "$name" -- \
            "${on_node[@]}" "$bin" join --root "$work/secondary" "${share[@]}" "$@" \
            --name "$name" --code "$code" --json >>"$work/$label.json"
    done
}

# stats FILE KEY: median, p90 and max of one metric over the rounds.
stats() {
    grep -o "\"$2\":[0-9.]*" "$1" | cut -d: -f2 | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (!NR) { print "| n/a | | |"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            p = v[int(NR * 0.9 + 0.999)]
            printf "| %6.0f | %6.0f | %6.0f |\n", m, p, v[NR]
        }'
}

report() { # report LABEL
    local f=$work/$1.json
    echo
    echo "== $1: $(wc -l <"$f") rounds, ms"
    echo "| from → to | median | p90 | max |"
    echo "|---|---|---|---|"
    printf '| node start → "announcing" printed '
    stats "$f" start_to_announcing_ms
    printf '| **"announcing" → trusted row on the primary** '
    stats "$f" announcing_to_trusted_ms
    printf '| node start → trusted row '
    stats "$f" start_to_trusted_ms
    printf '| primary starts listening (node already announcing) → trusted row '
    stats "$f" listen_to_trusted_ms
}

echo "== mdcluster discovery latency, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
for net in $networks; do
    case $net in
    loopback)
        run_rounds loopback "" "" --loopback
        report loopback
        ;;
    netns)
        if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
            echo "(netns skipped: it needs root and ip)"
            continue
        fi
        # A bridge in its own namespace; the primary (10.68.1.1) and the node
        # (10.68.1.2) each in theirs, joined to it by a veth pair.
        ip netns add "${ns}br"
        ip -n "${ns}br" link add br0 type bridge
        ip -n "${ns}br" link set br0 up
        for h in p a; do
            ip netns add "$ns$h"
            ip link add veth0 netns "$ns$h" type veth peer name "p$h" netns "${ns}br"
            ip -n "${ns}br" link set "p$h" master br0
            ip -n "${ns}br" link set "p$h" up
            ip -n "$ns$h" link set lo up
            ip -n "$ns$h" addr add "10.68.1.$([[ $h == p ]] && echo 1 || echo 2)/24" dev veth0
            ip -n "$ns$h" link set veth0 up
        done
        run_rounds netns "${ns}p" "${ns}a" --interface veth0
        report netns
        ;;
    *)
        echo "unknown network: $net (loopback, netns)" >&2
        exit 2
        ;;
    esac
done
