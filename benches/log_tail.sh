#!/usr/bin/env bash
# Benchmark: following the cluster log (see docs/performance.md, "Cluster log
# tailing"). A timed benchmark, not a test.
#
# `mdcluster verify --json` (release build) follows the cluster log of a
# sandbox whose manifest has MAIL2 registered; a Python writer (another
# process, like MDaemon) appends to the log.
# (a) latency: 40 matching lines, one every 250 ms; for each, the time from
#     the write returning to verify printing its `log-event` (median, p90, max).
# (b) throughput: 10,000 lines per second for 10 s (batches of 100 every
#     10 ms, CRLF, both formats, one line in 1000 a match); verify must have
#     read every line when the writer stops (plus its 100 ms poll), and its
#     peak RSS (VmHWM from /proc) is reported.
#
# Usage: benches/log_tail.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/mdcluster
work=$(mktemp -d /dev/shm/mdcluster-logtail-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" sandbox "$work/MDaemon" --share "$work/share" --accounts 2 --messages 4 > "$work/plan.toml"
mkdir -p "$work/share/mdcluster" "$work/MDaemon/Logs"
cat > "$work/share/mdcluster/cluster.toml" <<'TOML'
version = 1
primary = "MAIL1"
[[nodes]]
name = "MAIL1"
role = "primary"
server_id = 1
address = "127.0.0.1"
added = "2026-01-01T00:00:00Z"
[[nodes]]
name = "MAIL2"
role = "secondary"
server_id = 2
address = "127.0.0.12"
added = "2026-01-01T00:00:00Z"
registered = "2026-01-01T00:00:00Z"
TOML

BIN=$bin WORK=$work python3 - <<'PY'
import json, os, subprocess, threading, time, statistics
bin, work = os.environ["BIN"], os.environ["WORK"]
log = os.path.join(work, "MDaemon/Logs/MDaemon-2026-11-22-Cluster.log")

def start(timeout):
    p = subprocess.Popen([bin, "verify", "--json", "--timeout", str(timeout), "--plan",
                          os.path.join(work, "plan.toml")], stdout=subprocess.PIPE, text=True)
    return p

# (a) latency. MAIL9 is not registered: verify keeps following.
open(log, "wb").close()
p = start(30)
arrived = {}
def read():
    for line in p.stdout:
        e = json.loads(line)
        if e.get("event") == "log-event":
            t = e.get("text", "")
            if "(seq " in t:
                n = int(t.split("(seq ")[1].rstrip(")"))
                arrived[n] = time.monotonic()
threading.Thread(target=read, daemon=True).start()
time.sleep(1.0)
sent = {}
with open(log, "ab", buffering=0) as f:
    for n in range(40):
        f.write(("Sun 2026-11-22 10:15:02.117: 17: Cluster service: replication to MAIL9 complete (seq %d)\r\n" % n).encode())
        sent[n] = time.monotonic()
        time.sleep(0.25)
time.sleep(1.0)
p.kill(); p.wait()
lat = sorted((arrived[n] - sent[n]) * 1000 for n in sent if n in arrived)
print(json.dumps({"bench": "latency", "lines": len(sent), "seen": len(lat),
                  "median_ms": round(statistics.median(lat), 1),
                  "p90_ms": round(lat[int(len(lat) * 0.9) - 1], 1), "max_ms": round(lat[-1], 1)}))

# (b) 10,000 lines/s for 10 s.
open(log, "wb").close()
p = start(14)
hwm = [0]
def watch():
    while p.poll() is None:
        try:
            for l in open("/proc/%d/status" % p.pid):
                if l.startswith("VmHWM:"):
                    hwm[0] = max(hwm[0], int(l.split()[1]))
        except OSError:
            pass
        time.sleep(0.1)
threading.Thread(target=watch, daemon=True).start()
time.sleep(1.0)
total = 0
start_t = time.monotonic()
with open(log, "ab", buffering=0) as f:
    for batch in range(1000):
        lines = []
        for i in range(100):
            n = total + i
            if n % 1000 == 0:
                lines.append("Sun 2026-11-22 10:15:02.117: 17: Cluster service: replication to MAIL9 complete (%d items)\r\n" % n)
            elif n % 2:
                lines.append("261122 101503204 I [1002FA89] 0x415041A1 SMTP session %d: 250 OK message accepted for delivery to someone@example.com\r\n" % n)
            else:
                lines.append("Sun 2026-11-22 10:15:02.117: 17: IMAP session %d: user logged in from 192.0.2.%d, 14 messages in INBOX\r\n" % (n, n % 250))
        f.write("".join(lines).encode())
        total += 100
        target = start_t + (batch + 1) * 0.01
        d = target - time.monotonic()
        if d > 0:
            time.sleep(d)
elapsed = time.monotonic() - start_t
size = os.path.getsize(log)
out = p.communicate()[0]
result = [json.loads(l) for l in out.splitlines() if l.strip()][-1]
print(json.dumps({"bench": "throughput", "written": total, "seconds": round(elapsed, 2),
                  "rate_per_s": round(total / elapsed), "bytes": size,
                  "read": result.get("lines"), "kept_up": result.get("lines") == total,
                  "peak_rss_kib": hwm[0]}))
PY
