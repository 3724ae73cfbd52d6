#!/usr/bin/env bash
# Benchmark: mdcluster's verified mail-store move against `rsync -a`, `cp -a`
# and `mv`, on the same data in the same run (see docs/performance.md,
# "Mail-store move"). A timed benchmark, not a test.
#
# Needs root (loop and tmpfs mounts) and about 10 GB of RAM. The source is a
# fresh loop-mounted ext4 image (sparse, in $BENCH_DIR, default /var/tmp; it
# grows to about 5 GB); the destination is a tmpfs mounted for the purpose.
# Both are unmounted and deleted afterwards, also on failure or Ctrl-C.
#
# Usage: benches/move.sh [MESSAGES] [ACCOUNTS]
# Environment:
#   ROUNDS=3          rounds of every timed run (the median is reported)
#   THREADS="4 8 16"  worker threads to compare (verified copy, disk -> tmpfs)
#   BIG_FILES=1000000 files of the memory run (0 to skip it)
#   RSYNC_BIG=1       also run rsync -a on the 1,000,000-file store (peak memory)
#   COLD=1            drop the page cache before every timed run (default: warm;
#                     the store stays cached on a machine with enough RAM, and
#                     every tool reads it from the cache alike)
set -euo pipefail
cd "$(dirname "$0")/.."

messages=${1:-200000}
accounts=${2:-400}
rounds=${ROUNDS:-3}
threads_list=${THREADS:-4 8 16}
big_files=${BIG_FILES:-1000000}
bench_dir=${BENCH_DIR:-/var/tmp}

if [[ $(id -u) -ne 0 ]]; then
    echo "benches/move.sh needs root (it mounts a loop ext4 image and a tmpfs)" >&2
    exit 1
fi
for cmd in rsync /usr/bin/time python3; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        case $cmd in
        rsync) pkg=rsync ;;
        /usr/bin/time) pkg=time ;;
        python3) pkg=python3 ;;
        esac
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >/dev/null
    fi
done

cargo build --release --quiet
bin=$PWD/target/release/mdcluster

work=$(mktemp -d "$bench_dir/mdcluster-move-bench.XXXXXX")
disk=$work/disk     # loop-mounted ext4: the MDaemon server's disk
share=$work/share   # tmpfs: the share
cleanup() {
    set +e
    for m in "$share" "$disk"; do
        mountpoint -q "$m" && umount "$m"
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$disk" "$share"

new_disk() { # new_disk [mkfs options...]
    mountpoint -q "$disk" && umount "$disk"
    rm -f "$work/disk.img"
    truncate -s 8G "$work/disk.img"
    mkfs.ext4 -q -F "$@" "$work/disk.img"
    mount -o loop "$work/disk.img" "$disk"
}
mount -t tmpfs -o size=8g tmpfs "$share"

# `timed NAME CMD...`: run, append "NAME seconds peak_kb" to $results.
results=$work/results
: >"$results"
timed() {
    local name=$1
    shift
    if [[ ${COLD:-0} == 1 ]]; then
        sync
        echo 3 >/proc/sys/vm/drop_caches
    fi
    /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || {
        cat "$work/err" >&2
        return 1
    }
    read -r secs kb user sys <"$work/time"
    echo "$name $secs $kb" >>"$results"
    printf '  %-34s %7.2f s  peak %6d KB  (user %s s, sys %s s)\n' "$name" "$secs" "$kb" "$user" "$sys"
}
# Names, kinds, sizes (files), modification times and permission bits of a tree.
manifest() {
    (cd "$1" && find . \( -type f -printf '%P f %s %T@ %m\n' \) -o -printf '%P %y %T@ %m\n' |
        LC_ALL=C sort | md5sum | cut -c1-32)
}

echo "== mdcluster move benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"
echo "   cache: $([[ ${COLD:-0} == 1 ]] && echo "cold (dropped before every run)" || echo "warm (the store is read once before the runs)")"

new_disk
store=$disk/MDaemon
"$bin" sandbox "$store" --accounts "$accounts" --messages "$messages" >/dev/null 2>&1
files=$(find "$store" -type f | wc -l)
bytes=$(du -sb --apparent-size "$store" | cut -f1)
sync
if [[ ${COLD:-0} != 1 ]]; then
    find "$store" -type f -print0 | xargs -0 cat >/dev/null
fi
before=$(manifest "$store")
echo "   store: $files files, $bytes bytes ($accounts accounts, $messages messages), manifest $before"

for round in $(seq "$rounds"); do
    echo "-- round $round: disk (ext4) -> share (tmpfs)"
    timed "copy/rsync -a" rsync -a "$store/" "$share/rsync/"
    rm -rf "$share/rsync"
    timed "copy/cp -a" cp -a "$store" "$share/cp"
    rm -rf "$share/cp"
    for t in $threads_list; do
        timed "copy/mdcluster t=$t" "$bin" bench-mover copy "$store" "$share/md" --threads "$t"
        rm -rf "$share/md"
    done
    timed "move/mdcluster" "$bin" bench-mover move "$store" "$share/moved"
    [[ ! -e $store ]] || { echo "the move left the source behind" >&2; exit 1; }
    [[ $(manifest "$share/moved") == "$before" ]] || { echo "the moved store differs" >&2; exit 1; }

    echo "-- round $round: share (tmpfs) -> disk (ext4)"
    timed "back-copy/rsync -a" rsync -a "$share/moved/" "$disk/rsync/"
    timed "back-copy/sync after rsync" sync
    rm -rf "$disk/rsync"
    sync
    timed "back-copy/cp -a" cp -a "$share/moved" "$disk/cp"
    timed "back-copy/sync after cp" sync
    rm -rf "$disk/cp"
    sync
    timed "back-move/mdcluster" "$bin" bench-mover move "$share/moved" "$store"
    [[ $(manifest "$store") == "$before" ]] || { echo "the store differs after the round trip" >&2; exit 1; }
    sync

    echo "-- round $round: mv, both ways (reference for a move)"
    timed "move/mv" mv "$store" "$share/mv"
    timed "back-move/mv" mv "$share/mv" "$store"
    timed "back-move/sync after mv" sync
done

echo "-- same file system: one rename"
timed "rename/mdcluster" "$bin" bench-mover move "$store" "$disk/renamed"
echo "    $(cat "$work/out")"
timed "rename-back/mdcluster" "$bin" bench-mover move "$disk/renamed" "$store"
echo "    $(cat "$work/out")"
[[ $(manifest "$store") == "$before" ]] || { echo "the store differs after the renames" >&2; exit 1; }

median() { # median NAME -> "seconds peak_kb" (median seconds, highest peak)
    awk -v n="$1" '{ name=$1; for (i=2; i<NF-1; i++) name=name" "$i; if (name==n) { print $(NF-1), $NF } }' "$results" |
        sort -n | awk '{ s[NR]=$1; if ($2>k) k=$2 } END { if (NR) print s[int((NR+1)/2)], k }'
}
report() { # report NAME: a table row; ratios to rsync -a and cp -a in the same direction
    local m secs kb dir=copy
    m=$(median "$1")
    [[ -n $m ]] || return 0
    read -r secs kb <<<"$m"
    [[ $1 == back-* ]] && dir=back-copy
    awk -v n="$1" -v s="$secs" -v k="$kb" -v f="$files" -v b="$bytes" \
        -v r="$(median "$dir/rsync -a" | cut -d' ' -f1)" -v c="$(median "$dir/cp -a" | cut -d' ' -f1)" 'BEGIN {
        if (s < 0.05) { printf "| %-28s | %7.2f | | | | | %4.0f |\n", n, s, k/1024; exit }
        printf "| %-28s | %7.2f | %8.0f | %6.0f | %5.2f | %5.2f | %4.0f |\n", n, s, f/s, b/1e6/s, s/r, s/c, k/1024 }'
}
echo
echo "== results: $files files, $(awk -v b="$bytes" 'BEGIN{printf "%.2f GB", b/1e9}'), median of $rounds round(s)"
echo "| run                          |       s |  files/s |   MB/s | /rsync |  /cp | MB RSS |"
echo "|---|---|---|---|---|---|---|"
for name in "copy/rsync -a" "copy/cp -a" $(for t in $threads_list; do echo "copy/mdcluster_t=$t"; done) \
    "move/mdcluster" "move/mv" "back-copy/rsync -a" "back-copy/cp -a" "back-move/mdcluster" "back-move/mv" \
    "rename/mdcluster"; do
    report "${name//_/ }"
done
echo "(ratios: to rsync -a and cp -a copying in the same direction; mdcluster's times"
echo " include its flushes; rsync, cp and mv do not flush, the syncs after them took:"
for name in "back-copy/sync after rsync" "back-copy/sync after cp" "back-move/sync after mv"; do
    echo "   $name: $(median "$name" | cut -d' ' -f1) s"
done
echo ")"

if [[ $big_files -gt 0 ]]; then
    echo
    echo "== peak memory: $big_files small files"
    rm -rf "$share"/*
    new_disk -N $((big_files + 100000))
    python3 - "$disk/big" "$big_files" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 1000
for i in range(n):
    d = os.path.join(root, f"user{i // (per * 20):04d}", f"folder{(i // per) % 20:02d}.IMAP")
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{i:08d}.msg"), "wb") as f:
        f.write(b"x" * (100 + i % 900))
EOF
    sync
    echo "   $(find "$disk/big" -type f | wc -l) files in $(find "$disk/big" -type d | wc -l) folders"
    : >"$results"
    if [[ ${RSYNC_BIG:-1} == 1 ]]; then
        timed "big/copy/rsync -a" rsync -a "$disk/big/" "$share/big-rsync/"
        rm -rf "$share/big-rsync"
    fi
    timed "big/move/mdcluster" "$bin" bench-mover move "$disk/big" "$share/big"
    echo "    $(cat "$work/out")"
    timed "big/back-move/mdcluster" "$bin" bench-mover move "$share/big" "$disk/big"
    echo "    $(cat "$work/out")"
fi
