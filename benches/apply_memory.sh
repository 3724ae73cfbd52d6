#!/usr/bin/env bash
# Benchmark: peak memory and time of a whole `mdcluster apply` (preview scan of
# every file, LockFiles, PEM, the mail store copied across file systems,
# verified and deleted, Userlist.dat and MDaemon.ini rewritten) on a store of
# FILES small messages. The installation is on a fresh loop-mounted ext4, the
# share on a tmpfs; both are removed afterwards, also on failure. Needs root.
# Usage: benches/apply_memory.sh [FILES] [ACCOUNTS]
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-1000000}
accounts=${2:-2000}
cargo build --release --quiet
bin=$PWD/target/release/mdcluster
work=$(mktemp -d /tmp/mdcluster-applymem-XXXXXX)
disk=$work/disk share=$work/share
cleanup() {
    umount "$share" 2>/dev/null || true
    umount "$disk" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$disk" "$share"
truncate -s 12G "$work/disk.img"
mkfs.ext4 -q -F -N $((files + files / 5 + 100000)) "$work/disk.img"
mount -o loop "$work/disk.img" "$disk"
mount -t tmpfs -o size=10g,nr_inodes=$((files * 2)) tmpfs "$share"
start=$(date +%s)
"$bin" sandbox "$disk/MDaemon" --accounts "$accounts" --messages "$files" --message-size 300 --share "$share" \
    >"$work/plan.toml" 2>"$work/sandbox.log"
echo "sandbox: $(cat "$work/sandbox.log" | head -1) ($(( $(date +%s) - start )) s)"
sync
/usr/bin/time -f "apply: %e s, peak RSS %M KB" "$bin" apply --yes --plan "$work/plan.toml" >"$work/apply.out" 2>"$work/apply.err" ||
    { tail -5 "$work/apply.err"; exit 1; }
grep -E "^apply:" "$work/apply.err"
echo "on the share: $(find "$share" -type f | wc -l) files"
