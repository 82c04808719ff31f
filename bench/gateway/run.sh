#!/usr/bin/env bash
# Gateway benchmark (issue 5): the same backend, in the same run, measured
#   (a) wrk -> backend directly,
#   (b) wrk -> nginx (reverse proxy, keepalive upstream, least_conn) -> backend,
#   (c) wrk -> ebb gateway (counting, p2c balancing, 1 s observations) -> backend, on one
#       tokio runtime with GATEWAY_THREADS workers ("gateway"), and the same gateway served by
#       GATEWAY_THREADS current-thread runtimes with SO_REUSEPORT listeners ("gateway-pt",
#       nginx's worker model),
# at 1 and at 64 connections; rounds are interleaved and medians reported, because the
# machine is shared. At 1 connection also with everything confined to one vCPU, and with every
# vCPU kept from halting, the two ways to take this VM's idle-vCPU wake-up out of the
# figure. Then: proxy CPU per request (/proc utime+stime), gateway RSS with
# 10,000 idle client connections, and the time from a request held at zero to the
# autoscaler's notification.
#
# Needs: wrk, nginx (Debian: apt-get install -y wrk nginx), python3, a Rust toolchain.
# Everything listens on 127.0.0.1; every load run is bounded by DURATION.
#
# Usage: bench/gateway/run.sh            (defaults: DURATION=10 ROUNDS=3 PAIRED=20 PAIRED_SECS=3
#                                           PLACEMENT_SECS=2 IDLE=10000 WAKES=2000)
#        DURATION=5 ROUNDS=1 PAIRED=3 bench/gateway/run.sh
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
PAIRED=${PAIRED:-20}
PAIRED_SECS=${PAIRED_SECS:-3}
PLACEMENT_SECS=${PLACEMENT_SECS:-2}
IDLE=${IDLE:-10000}
WAKES=${WAKES:-2000}
GATEWAY_THREADS=${GATEWAY_THREADS:-2}
NGINX_WORKERS=${NGINX_WORKERS:-2}

root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/out/gateway-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
cd "$root"

for tool in wrk nginx python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required (apt-get install -y wrk nginx)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 1000)) ]; then
    echo "error: open-file limit $(ulimit -n) is too low for IDLE=$IDLE connections" >&2; exit 1
fi

echo "== building (release)" >&2
cargo build --release -q -p ebb-gateway --examples
bin="$root/target/release/examples"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 100); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.1)" 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "error: nothing listens on port $1" >&2; exit 1
}

b1=$(free_port); b2=$(free_port); np=$(free_port); gp=$(free_port); tp=$(free_port)

"$bin/bench-backend" --port "$b1" --port "$b2" >"$out/backend.log" 2>&1 &
pids+=($!); backend_pid=$!
wait_port "$b1"; wait_port "$b2"

mkdir -p "$out/nginx/logs"
cat >"$out/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
error_log $out/nginx/logs/error.log warn;
pid $out/nginx/nginx.pid;
worker_rlimit_nofile $(ulimit -n);
events { worker_connections 20000; }
http {
  access_log off;
  upstream backend {
    least_conn;
    server 127.0.0.1:$b1;
    server 127.0.0.1:$b2;
    keepalive 256;
  }
  server {
    listen 127.0.0.1:$np backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" -g 'daemon off;' >"$out/nginx/stdout.log" 2>&1 &
pids+=($!); nginx_pid=$!
wait_port "$np"
nginx_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')

"$bin/bench-gateway" --port "$gp" --threads "$GATEWAY_THREADS" --backend "127.0.0.1:$b1" --backend "127.0.0.1:$b2" \
    >"$out/gateway.log" 2>&1 &
pids+=($!); gateway_pid=$!
wait_port "$gp"

"$bin/bench-gateway" --port "$tp" --per-thread "$GATEWAY_THREADS" --backend "127.0.0.1:$b1" --backend "127.0.0.1:$b2" \
    >"$out/gateway-pt.log" 2>&1 &
pids+=($!); gateway_pt_pid=$!
wait_port "$tp"

# utime+stime (clock ticks) summed over the given pids; 0 for none.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
hz=$(getconf CLK_TCK)

WRK_PREFIX=""
# One wrk run: prints "rps p50_us p90_us p99_us requests cpu_us_per_request".
run() {
    local url=$1 conns=$2 threads=$3; shift 3
    local before after file
    file=$(mktemp "$out/wrk.XXXX")
    before=$(ticks "$@")
    $WRK_PREFIX wrk -t"$threads" -c"$conns" -d"${SECS:-$DURATION}s" --latency "$url" >"$file"
    after=$(ticks "$@")
    python3 - "$file" "$before" "$after" "$hz" "$#" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
before, after, hz, npids = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def us(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
pct = {p: us(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M)}
reqs = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", text)
cpu = (after - before) * 1e6 / hz / reqs if npids > 0 else float("nan")
print(f"{rps:.0f} {pct['50']:.1f} {pct['90']:.1f} {pct['99']:.1f} {reqs} {cpu:.2f} {'ERR' if errors else 'ok'}")
PY
}

echo "== warm-up" >&2
for port in "$b1" "$np" "$gp" "$tp"; do wrk -t2 -c64 -d2s "http://127.0.0.1:$port/" >/dev/null; done

results="$out/runs.txt"
: >"$results"
echo "== load: $ROUNDS rounds x {1, 64} connections x {direct, nginx, gateway, gateway-pt}, ${DURATION}s each" >&2
for round in $(seq 1 "$ROUNDS"); do
    for conns in 1 64; do
        threads=$([ "$conns" = 1 ] && echo 1 || echo 2)
        echo "round $round conns $conns direct  $(run "http://127.0.0.1:$b1/" "$conns" "$threads")" | tee -a "$results" >&2
        # shellcheck disable=SC2086
        echo "round $round conns $conns nginx   $(run "http://127.0.0.1:$np/" "$conns" "$threads" $nginx_workers)" | tee -a "$results" >&2
        echo "round $round conns $conns gateway $(run "http://127.0.0.1:$gp/" "$conns" "$threads" "$gateway_pid")" | tee -a "$results" >&2
        echo "round $round conns $conns gateway-pt $(run "http://127.0.0.1:$tp/" "$conns" "$threads" "$gateway_pt_pid")" | tee -a "$results" >&2
    done
done

# The three 1-connection targets: their port, and the pids of the proxy (none for direct).
port_of() { case $1 in direct) echo "$b1" ;; nginx) echo "$np" ;; gateway-pt) echo "$tp" ;; esac; }
proxy_pids() { case $1 in nginx) echo "$nginx_workers" ;; gateway-pt) echo "$gateway_pt_pid" ;; esac; }
# One wrk run at 1 connection against a target (run's output).
# shellcheck disable=SC2046
one_conn() { run "http://127.0.0.1:$(port_of "$1")/" 1 1 $(proxy_pids "$1"); }

# Unpinned at one connection, p50 moves between runs by more than the proxies differ: each
# request pays one or two wake-ups of a halted vCPU, depending on where the kernel has just
# placed wrk, the proxy and the backend. Many short rounds, each running the three targets in
# a shuffled order, compare the proxies within a round instead; the summary gives the median
# of the per-round differences and how often each proxy was ahead.
echo "== 1 connection, $PAIRED paired rounds of ${PAIRED_SECS}s" >&2
paired="$out/paired.txt"
: >"$paired"
for round in $(seq 1 "$PAIRED"); do
    # shuf's source is the round number: the order differs between rounds, not between runs.
    for target in $(printf '%s\n' direct nginx gateway-pt | shuf --random-source=<(yes "$round")); do
        echo "round $round conns 1 $target $(SECS=$PAIRED_SECS one_conn "$target")" | tee -a "$paired" >&2
    done
done

# ROUNDS rounds of 1 connection to direct, nginx and gateway-pt, appended to $1.
one_conn_rounds() {
    for round in $(seq 1 "$ROUNDS"); do
        for target in direct nginx gateway-pt; do
            echo "round $round conns 1 $target $(one_conn "$target")" | tee -a "$1" >&2
        done
    done
}

# At one connection the figure is set less by the proxy's work than by where the kernel
# places the next woken process: waking an idle vCPU of this VM costs tens of microseconds.
# With wrk, the backend and each proxy confined to one vCPU no wake crosses CPUs, and what is
# left is the work each proxy adds.
echo "== 1 connection, everything on CPU 0" >&2
pinned="$out/pinned.txt"
: >"$pinned"
# shellcheck disable=SC2086
pin_all() { for pid in "$backend_pid" "$nginx_pid" $nginx_workers "$gateway_pt_pid"; do taskset -a -p -c "$1" "$pid" >/dev/null; done; }
pin_all 0
WRK_PREFIX="taskset -c 0"
one_conn_rounds "$pinned"
WRK_PREFIX=""
pin_all "0-$(($(nproc) - 1))"

# The other way to take the idle-vCPU wake out: no vCPU is ever idle. A busy loop at
# SCHED_IDLE on each CPU gives way to any other process at once, but keeps the vCPU from
# halting (this VM's guest does not poll before halting: haltpoll.guest_halt_poll_ns=0).
echo "== 1 connection, every vCPU kept awake by a SCHED_IDLE busy loop" >&2
awake="$out/awake.txt"
: >"$awake"
spinners=()
for cpu in $(seq 0 $(($(nproc) - 1))); do
    taskset -c "$cpu" chrt -i 0 sh -c 'while :; do :; done' &
    pids+=($!); spinners+=($!)
done
one_conn_rounds "$awake"
kill "${spinners[@]}"

# Why the unpinned 1-connection figures differ: how often the kernel ran wrk, the proxy and
# the backend all on one vCPU, and how long a request took that way and apart
# (placement.py). Needs perf (apt-get install -y linux-perf) and the right to trace the
# scheduler; skipped otherwise.
placement="$out/placement.txt"
: >"$placement"
tids() { local pid; for pid in "$@"; do ls "/proc/$pid/task"; done | tr '\n' ' '; }
if command -v perf >/dev/null && perf record -q -o /dev/null -e sched:sched_switch -a -- true 2>/dev/null; then
    echo "== 1 connection, where each request ran (perf, ${PLACEMENT_SECS}s each)" >&2
    for target in direct nginx gateway-pt; do
        wrk -t1 -c1 -d"$((PLACEMENT_SECS + 2))s" "http://127.0.0.1:$(port_of "$target")/" >/dev/null &
        sleep 1
        perf record -q -o "$out/sched.data" -e sched:sched_switch -a -- sleep "$PLACEMENT_SECS" 2>/dev/null
        wait $!
        # shellcheck disable=SC2046
        echo "$target: $(perf script -i "$out/sched.data" 2>/dev/null |
            python3 bench/gateway/placement.py --proxy $(tids $(proxy_pids "$target")) --backend $(tids "$backend_pid"))" |
            tee -a "$placement" >&2
        rm -f "$out/sched.data"
    done
else
    echo "placement not measured (needs perf: apt-get install -y linux-perf, and root)" >"$placement"
fi

echo "== idle connections" >&2
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
idle() {
    local pid=$1 port=$2 flag=$3
    local base fifo line rss
    base=$(rss_kib "$pid")
    fifo="$out/idle.fifo"; rm -f "$fifo"; mkfifo "$fifo"
    "$bin/bench-idle" --addr "127.0.0.1:$port" --connections "$IDLE" $flag <"$fifo" >"$out/idle.out" 2>&1 &
    local client=$!
    exec 9>"$fifo"
    for _ in $(seq 1 600); do grep -q '^ready' "$out/idle.out" 2>/dev/null && break; sleep 0.1; done
    sleep 1
    rss=$(rss_kib "$pid")
    echo >&9; exec 9>&-
    wait "$client" || true
    line=$(grep -E '^(ready|closed)' "$out/idle.out" | tr '\n' ' ')
    echo "$base $rss $line"
}
# A gateway of its own (one runtime, as "gateway"), warmed up the same way, whose header read
# timeout (also the keep-alive timeout; 30 s by default) outlasts opening 10,000 connections.
idle_gateway() {
    local port=$1 log=$2
    "$bin/bench-gateway" --port "$port" --threads "$GATEWAY_THREADS" --header-read-timeout 600 \
        --backend "127.0.0.1:$b1" --backend "127.0.0.1:$b2" >"$log" 2>&1 &
}
ip=$(free_port)
idle_gateway "$ip" "$out/gateway-idle.log"
pids+=($!); idle_pid=$!
wait_port "$ip"
wrk -t2 -c64 -d2s "http://127.0.0.1:$ip/" >/dev/null
gw_silent=$(idle "$idle_pid" "$ip" "")
sleep 2
gw_served=$(idle "$idle_pid" "$ip" "--request")
echo "gateway silent: $gw_silent" >&2
echo "gateway served: $gw_served" >&2
# The same with jemalloc preloaded, if Debian's libjemalloc2 is installed: the two allocators
# keep different amounts of freed memory resident.
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
gw_jemalloc="not measured (apt-get install -y libjemalloc2)"
if [ -e "$jemalloc" ]; then
    jp=$(free_port)
    LD_PRELOAD=$jemalloc idle_gateway "$jp" "$out/gateway-jemalloc.log"
    pids+=($!); jemalloc_pid=$!
    wait_port "$jp"
    wrk -t2 -c64 -d2s "http://127.0.0.1:$jp/" >/dev/null
    gw_jemalloc=$(idle "$jemalloc_pid" "$jp" "--request")
    echo "gateway (jemalloc) served: $gw_jemalloc" >&2
fi

echo "== wakeup latency" >&2
wake=$("$bin/bench-wake" --iterations "$WAKES" --threads "$GATEWAY_THREADS")
echo "$wake" >&2

echo "== summary" >&2
python3 - "$results" "$pinned" "$awake" "$paired" "$placement" "$gw_silent" "$gw_served" "$wake" "$DURATION" "$ROUNDS" "$PAIRED_SECS" "$IDLE" "$GATEWAY_THREADS" "$NGINX_WORKERS" "$gw_jemalloc" <<'PY' | tee "$out/summary.md"
import statistics as st, sys, subprocess, datetime, platform, os, random
results, pinned, awake, paired, placement, silent, served, wake, duration, rounds, paired_secs, idle, gthreads, nworkers, jemalloc = sys.argv[1:]
def read(path):
    runs = {}
    for line in open(path):
        f = line.split()
        key = (int(f[3]), f[4])
        runs.setdefault(key, []).append([float(x) for x in f[5:11]] + [f[11]])
    return runs
runs = read(results)
pin = read(pinned)
woke = read(awake)
med = lambda key, i: st.median(r[i] for r in runs[key])
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Run {datetime.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores ({cpu_model}), Linux {platform.release()}, "
      f"load average at the end {os.getloadavg()[0]:.2f} (the machine is shared with other builds). "
      f"Medians of {rounds} interleaved rounds of {duration} s. nginx: {nworkers} workers; gateway: one runtime with {gthreads} workers; "
      f"gateway-pt: {gthreads} current-thread runtimes with SO_REUSEPORT listeners; "
      f"backend: 1 tokio worker, two ports (the two replicas).")
print()
print("| conns | target | req/s | p50 µs | p90 µs | p99 µs | proxy CPU µs/req | errors |")
print("|---|---|---|---|---|---|---|---|")
for conns in (1, 64):
    for target in ("direct", "nginx", "gateway", "gateway-pt"):
        k = (conns, target)
        cpu = "" if target == "direct" else f"{med(k, 5):.1f}"
        errs = ",".join(sorted({r[6] for r in runs[k]}))
        print(f"| {conns} | {target} | {med(k,0):.0f} | {med(k,1):.0f} | {med(k,2):.0f} | {med(k,3):.0f} | {cpu} | {errs} |")
print()
for conns in (1, 64):
    added = lambda t: med((conns, t), 1) - med((conns, "direct"), 1)
    ratio = lambda t: med((conns, t), 0) / med((conns, "nginx"), 0)
    print(f"- {conns} conns: throughput vs nginx: gateway {ratio('gateway'):.2f}, gateway-pt {ratio('gateway-pt'):.2f}; "
          f"added p50 over direct: nginx {added('nginx'):.0f} µs, gateway {added('gateway'):.0f} µs, gateway-pt {added('gateway-pt'):.0f} µs")
pmed = lambda t, i: st.median(r[i] for r in pin[(1, t)])
padded = lambda t: pmed(t, 1) - pmed("direct", 1)
print(f"- 1 conn, wrk, backend and proxy on CPU 0: p50 direct {pmed('direct', 1):.0f} µs, nginx {pmed('nginx', 1):.0f} µs, "
      f"gateway-pt {pmed('gateway-pt', 1):.0f} µs (added: nginx {padded('nginx'):.0f} µs, gateway-pt {padded('gateway-pt'):.0f} µs); "
      f"req/s direct {pmed('direct', 0):.0f}, nginx {pmed('nginx', 0):.0f}, gateway-pt {pmed('gateway-pt', 0):.0f}")
amed = lambda t, i: st.median(r[i] for r in woke[(1, t)])
aadded = lambda t: amed(t, 1) - amed("direct", 1)
print(f"- 1 conn, every vCPU kept awake (SCHED_IDLE busy loops): p50 direct {amed('direct', 1):.0f} µs, nginx {amed('nginx', 1):.0f} µs, "
      f"gateway-pt {amed('gateway-pt', 1):.0f} µs (added: nginx {aadded('nginx'):.0f} µs, gateway-pt {aadded('gateway-pt'):.0f} µs)")
pairs = {}
for r in open(paired):
    f = r.split()
    pairs.setdefault(int(f[1]), {})[f[4]] = float(f[6])
added_by_round = [(p["nginx"] - p["direct"], p["gateway-pt"] - p["direct"]) for p in pairs.values()]
diffs = [g - n for n, g in added_by_round]
rng = random.Random(1)  # a fixed seed: the same raw runs give the same interval
boot = sorted(st.median(rng.choices(diffs, k=len(diffs))) for _ in range(10000))
print(f"- 1 conn, {len(diffs)} paired rounds of {paired_secs} s in shuffled order: added p50 over direct, median per round: "
      f"nginx {st.median(n for n, _ in added_by_round):.1f} µs, gateway-pt {st.median(g for _, g in added_by_round):.1f} µs; "
      f"gateway-pt minus nginx, median of the per-round differences {st.median(diffs):+.1f} µs "
      f"(95 % bootstrap interval {boot[250]:+.1f} to {boot[9749]:+.1f}); gateway-pt ahead in {sum(d < 0 for d in diffs)}, "
      f"level in {sum(d == 0 for d in diffs)}, behind in {sum(d > 0 for d in diffs)} rounds")
for line in open(placement):
    print(f"- 1 conn, where each request ran: {line.strip()}")
s = silent.split(); v = served.split()
print(f"- gateway RSS with {idle} idle connections: silent after connect {int(s[1])/1024:.1f} MiB "
      f"(before {int(s[0])/1024:.1f} MiB); after one request each {int(v[1])/1024:.1f} MiB (before {int(v[0])/1024:.1f} MiB); "
      f"client report: {' '.join(s[2:])} / {' '.join(v[2:])}")
j = jemalloc.split()
if j and j[0].isdigit():
    print(f"- with jemalloc preloaded: after one request each {int(j[1])/1024:.1f} MiB (before {int(j[0])/1024:.1f} MiB); client report: {' '.join(j[2:])}")
else:
    print(f"- with jemalloc: {jemalloc}")
for line in wake.splitlines():
    print(f"- wakeup: {line}")
PY
echo "results in $out" >&2
