#!/usr/bin/env bash
# Builds mdcluster and its tests for Windows and runs every test executable
# under Wine. Installs what it needs when missing (Debian packages, as root).
# Arguments pick test executables by name (and "console" for the wizard in
# Wine's console), e.g.: scripts/test-windows.sh mdcluster windows console
# `--prepare` only installs, prepares the Wine prefixes and builds (what
# scripts/test.sh runs in the background while the Linux tests run).
# Logs: target/windows/test-logs/NAME.log
set -euo pipefail
source "$(dirname "$0")/windows/env.sh"
cd "$root"
prepare_only=0
if [[ ${1:-} == --prepare ]]; then
    prepare_only=1
    shift
fi
windows_packages

target=x86_64-pc-windows-gnu
# Three lanes, each with its own Wine prefix (wineserver -k between
# executables must not stop another lane's): the tests wait on processes and
# files much of the time (two lanes kept two cores under half busy).
lanes=3
prefix_of() { if (($1 == 0)); then echo "$WINEPREFIX"; else echo "$WINEPREFIX-$1"; fi; }
shim_src=scripts/windows/bcryptprimitives-shim.c
shim_dll=$CARGO_TARGET_DIR/bcryptprimitives.dll
if [[ ! -f $shim_dll || $shim_src -nt $shim_dll ]]; then
    mkdir -p "$CARGO_TARGET_DIR"
    x86_64-w64-mingw32-gcc -O2 -shared -o "$shim_dll" "$shim_src" -ladvapi32
fi
for ((lane = 0; lane < lanes; lane++)); do
    prefix=$(prefix_of $lane)
    if [[ ! -f $prefix/system.reg ]]; then
        echo "== preparing the Wine prefix $prefix"
        WINEPREFIX=$prefix wineboot -i >/dev/null 2>&1 || true
        WINEPREFIX=$prefix wineserver -w || true
    fi
    cp "$shim_dll" "$prefix/drive_c/windows/system32/bcryptprimitives.dll"
done

echo "== building the tests for $target"
list=$(mktemp)
trap 'rm -f "$list"' EXIT
# Dependencies (std too) unoptimised here, unlike the Linux build's opt-level 2:
# that halves the build from clean (15 CPU-minutes instead of 29; opt-level 1
# is no cheaper), which outweighs the slower CPU-bound tests under Wine.
wcargo test --locked --no-run -Zbuild-std=std,panic_abort --target "$target" \
    --config 'profile.dev.package."*".opt-level=0' \
    --message-format=json-render-diagnostics >"$list"
((prepare_only)) && exit 0
# One line per test executable: a name (the target's; "mdcluster-bin" for the
# binary's own tests), then its path.
mapfile -t exes < <(python3 - "$list" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        name = m["target"]["name"]
        if "bin" in m["target"]["kind"]:
            name += "-bin"
        print(name + "\t" + m["executable"])
PY
)

logs=$CARGO_TARGET_DIR/test-logs
mkdir -p "$logs"
rm -f "$logs"/*.log "$logs"/*.failed

# The slowest executables first (measured under Wine), so that the lanes end
# close together; the rest in cargo's order.
slow_first=(undo_never_stuck kill_harness mail_store apply bad_input load_balancer_step mdcluster hostile_input cluster layout_props registration simulation wizard_screens userlist_props log_props parser_props)
ordered=()
for name in "${slow_first[@]}"; do
    for entry in "${exes[@]}"; do
        [[ ${entry%%$'\t'*} == "$name" ]] && ordered+=("$entry")
    done
done
for entry in "${exes[@]}"; do
    printf '%s\n' "${slow_first[@]}" | grep -qx -- "${entry%%$'\t'*}" || ordered+=("$entry")
done
exes=("${ordered[@]}")
claims=$(mktemp -d)
trap 'rm -rf "$list" "$claims"' EXIT

# Settings per executable (space-separated NAME=VALUE). The pure parsing
# properties check the same platform-neutral code that the Linux half runs
# with proptest's full 256 cases; under Wine they were the slowest
# executables, so they run a quarter of the cases here. The suites that
# crash or fail a run at every point crash at every fifth or seventh (below:
# every third), and the kill harness kills fewer, smaller runs: each point
# costs several process starts, seconds under Wine.
declare -A settings=(
    [parser_props]="PROPTEST_CASES=64" [userlist_props]="PROPTEST_CASES=64"
    [log_props]="PROPTEST_CASES=64" [ini_props]="PROPTEST_CASES=64"
    [kill_harness]="MDCLUSTER_TEST_CRASH_STRIDE=5 MDCLUSTER_KILL_ROUNDS=6 MDCLUSTER_KILL_MESSAGES=100"
    [undo_never_stuck]="MDCLUSTER_TEST_CRASH_STRIDE=7" [apply]="MDCLUSTER_TEST_CRASH_STRIDE=5"
)
# The crash-after-a-journal-record tests crash at every third record (every
# one on Linux): each crash point costs several process starts, about a
# second each under Wine (tests/common: crash_points).
export MDCLUSTER_TEST_CRASH_STRIDE=3

# Each lane takes the next executable nobody has taken (mkdir is the lock)
# and runs it; one at a time per lane.
run_lane() {
    local lane=$1 i entry name exe rc t0 summary envs failed
    export WINEPREFIX
    WINEPREFIX=$(prefix_of "$lane")
    for ((i = 0; i < ${#exes[@]}; i++)); do
        mkdir "$claims/$i" 2>/dev/null || continue
        entry=${exes[$i]}
        name=${entry%%$'\t'*}
        exe=${entry#*$'\t'}
        if ((${#picked[@]})) && ! printf '%s\n' "${picked[@]}" | grep -qx -- "$name"; then
            continue
        fi
        t0=$SECONDS
        rc=0
        # A time limit per executable (MDCLUSTER_WINE_TIMEOUT seconds): a hung
        # Wine process must not hang CI.
        read -r -a envs <<<"${settings[$name]:-}"
        env "${envs[@]}" timeout -k 10 "${MDCLUSTER_WINE_TIMEOUT:-600}" wine "$exe" --test-threads=2 \
            >"$logs/$name.log" 2>&1 || rc=$?
        wineserver -k >/dev/null 2>&1 || true
        summary=$(grep -a '^test result:' "$logs/$name.log" | tail -1 || true)
        # Wine now and then fails to start a process ("Internal error. (os
        # error 1359)", or `Os { code: 1359, .. }` where a test unwraps the
        # error; seen a few times in some ten thousand starts): when tests
        # failed (exit 101, not a timeout), that is in the log and every
        # failed test is named, those tests run once more, said in the output
        # (a real failure fails again).
        if ((rc == 101)) && grep -aqE 'os error 1359|code: 1359,' "$logs/$name.log"; then
            mapfile -t failed < <(grep -a -E '^test .* \.\.\. FAILED$' "$logs/$name.log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/')
            if ((${#failed[@]})) && [[ $summary == *"; ${#failed[@]} failed;"* ]]; then
                rc=0
                env "${envs[@]}" timeout -k 10 "${MDCLUSTER_WINE_TIMEOUT:-600}" wine "$exe" --test-threads=2 \
                    --exact "${failed[@]}" >"$logs/$name.retry.log" 2>&1 || rc=$?
                wineserver -k >/dev/null 2>&1 || true
                summary="$summary; Wine could not start a process (os error 1359), ${#failed[@]} test(s) rerun: $(grep -a '^test result:' "$logs/$name.retry.log" | tail -1 || true)"
                ((rc == 0)) || cat "$logs/$name.retry.log" >>"$logs/$name.log"
            fi
        fi
        printf '%-22s %4ss  %s\n' "$name" $((SECONDS - t0)) "${summary:-no result (exit $rc)}"
        if ((rc != 0)); then
            touch "$logs/$name.failed"
            grep -a -E '^test .* FAILED$|^---- ' "$logs/$name.log" | head -40 | sed 's/^/    /'
        fi
    done
}

# The full-screen wizard in Wine's console: in tmux, the first frame draws
# and Esc, q, y quit with exit 0.
console_check() {
    local exe=$CARGO_TARGET_DIR/$target/debug/mdcluster.exe session=mdcluster-wine-$$ i
    local demo='C:\mdcluster-console'
    WINEPREFIX=$(prefix_of 0)
    rm -rf "$WINEPREFIX/drive_c/mdcluster-console" "$WINEPREFIX/drive_c/mdcluster-console-share"
    wine "$exe" sandbox "$demo" >"$logs/console.log" 2>&1
    tmux new-session -d -s "$session" -x 100 -y 30 \
        "WINEPREFIX='$WINEPREFIX' wine '$exe' --root '$demo'; echo EXITED \$?; sleep 60"
    for ((i = 0; i < 60; i++)); do
        sleep 1
        tmux capture-pane -p -t "$session" | grep -aq "node's address" && break
    done
    tmux capture-pane -p -t "$session" >>"$logs/console.log"
    if ! grep -aq "node's address" "$logs/console.log"; then
        echo "console                 the wizard drew no first frame under Wine" >&2
        tmux kill-session -t "$session" || true
        touch "$logs/console.failed"
        return
    fi
    tmux send-keys -t "$session" Escape; sleep 2
    tmux send-keys -t "$session" q; sleep 2
    tmux send-keys -t "$session" y
    for ((i = 0; i < 20; i++)); do
        sleep 1
        tmux capture-pane -p -t "$session" | grep -aq "EXITED" && break
    done
    tmux capture-pane -p -t "$session" >>"$logs/console.log"
    tmux kill-session -t "$session" || true
    wineserver -k >/dev/null 2>&1 || true
    if grep -aq "EXITED 0" "$logs/console.log"; then
        echo "console                 first frame drawn, quit with exit 0"
    else
        echo "console                 the wizard did not quit with exit 0 under Wine" >&2
        touch "$logs/console.failed"
    fi
}

# No balancer and no tmpfs mount exist inside Wine: the Linux half of
# scripts/test.sh is where CI insists that those tests run, not skip.
unset MDCLUSTER_REQUIRE_LB_TESTS MDCLUSTER_REQUIRE_ROOT_TESTS

picked=("$@")
start=$SECONDS
lane_pids=()
for ((lane = 0; lane < lanes; lane++)); do
    run_lane $lane &
    lane_pids+=($!)
done
# A lane that stopped on an error of its own (not a failed test) is a failure too.
for pid in "${lane_pids[@]}"; do
    wait "$pid" || { echo "a Wine lane stopped with an error" >&2; touch "$logs/lane.failed"; }
done
if ! ((${#picked[@]})) || printf '%s\n' "${picked[@]}" | grep -qx console; then
    if command -v tmux >/dev/null 2>&1; then
        console_check
    else
        echo "console                 skipped: tmux is not installed" >&2
    fi
fi
echo "== Windows tests under Wine: $((SECONDS - start)) s"
shopt -s nullglob
failed=("$logs"/*.failed)
if ((${#failed[@]})); then
    names=("${failed[@]##*/}")
    echo "failed under Wine: ${names[*]%.failed} (logs in $logs)" >&2
    exit 1
fi
