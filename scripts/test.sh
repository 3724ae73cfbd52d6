#!/usr/bin/env bash
# Runs every test of mdcluster. Installs what the tests need when it is missing
# (Debian/Ubuntu packages, as root), then runs `cargo test`, `cargo fmt
# --check` and clippy (warnings are errors), then the same tests built for
# Windows under Wine (scripts/test-windows.sh).
# Extra arguments go to `cargo test`, e.g.: scripts/test.sh --test apply
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed: install Rust from https://rustup.rs, then rerun." >&2
    exit 1
fi

# The balancers live in sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# command -> Debian package providing it, for every program a test runs.
declare -A needs=(
    [mount]=mount
    [umount]=mount
    [tmux]=tmux
    [haproxy]=haproxy
    [keepalived]=keepalived
    [nginx]=nginx
    [apache2]=apache2
    [curl]=curl
    [python3]=python3
    [ip]=iproute2
    [dbus-daemon]=dbus
    [avahi-daemon]=avahi-daemon
    [avahi-browse]=avahi-utils
    [avahi-publish]=avahi-utils
    [smbd]=samba
    [smbpasswd]=samba
    [smbnetfs]=smbnetfs
    [fusermount3]=fuse3
    [dd]=coreutils
    [chattr]=e2fsprogs
)
# file -> Debian package, for what no command names: nginx's stream module
# (the TCP services of the generated nginx configuration); the system bus's
# configuration, which the avahi tests' own dbus-daemon reads (the `dbus`
# package, not only `dbus-daemon`).
declare -A files=(
    [/usr/lib/nginx/modules/ngx_stream_module.so]=libnginx-mod-stream
    [/usr/share/dbus-1/system.conf]=dbus
)
missing=()
for cmd in "${!needs[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${needs[$cmd]}")
done
for file in "${!files[@]}"; do
    [[ -e $file ]] || missing+=("${files[$file]}")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "missing for the tests: ${missing[*]} (install them, or run this script as root on Debian/Ubuntu)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u)
fi

# With arguments: only the Linux tests they pick.
if (($#)) || [[ ${MDCLUSTER_SKIP_WINDOWS:-} == 1 ]]; then
    exec cargo test --locked "$@"
fi
# Both halves run even when the first fails; the script fails if either did.
# The Windows half's preparation (its packages, Wine prefixes and build) runs
# in the background from the start, at the lowest priority: it takes the CPU
# that the Linux build and tests leave idle (they wait on processes, timeouts
# and the network much of the time) and never slows them down.
rc=0
mkdir -p target
nice -n 19 bash scripts/test-windows.sh --prepare >target/windows-prepare.log 2>&1 &
prepare=$!
cargo test --locked || rc=$?
# The code as the project keeps it: formatted, and no clippy warning.
echo "== cargo fmt --check; cargo clippy --all-targets -- -D warnings"
cargo fmt --check || { echo "not formatted: run cargo fmt" >&2; rc=1; }
cargo clippy --locked --all-targets --quiet -- -D warnings || rc=$?
echo "== the same tests for Windows, under Wine (scripts/test-windows.sh)"
# A failed preparation shows again, with its errors, in the run below.
wait $prepare || echo "(the background preparation failed: target/windows-prepare.log)"
bash scripts/test-windows.sh || rc=$?
exit $rc
