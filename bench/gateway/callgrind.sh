#!/usr/bin/env bash
# User-space instructions per proxied request, counted by callgrind: a figure that does not
# move with the load of a shared machine, unlike req/s and CPU time.
#
# The proxy (the gateway on one current-thread runtime, or nginx with one worker) runs under
# callgrind with instrumentation off; after a warm-up, it is switched on for a wrk run of
# DURATION seconds at CONNS connections, then the counts are dumped and divided by the
# requests wrk completed. The backend runs natively.
#
# Needs: valgrind, wrk, nginx, python3 (apt-get install -y valgrind wrk nginx).
# Usage: bench/gateway/callgrind.sh                 (gateway and nginx, CONNS=1 and 16)
#        TARGETS=gateway CONNS=1 bench/gateway/callgrind.sh
set -euo pipefail

DURATION=${DURATION:-10}
CONNS=${CONNS:-"1 16"}
TARGETS=${TARGETS:-"gateway nginx"}

root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/out/callgrind-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
cd "$root"
for tool in valgrind callgrind_control wrk nginx python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required (apt-get install -y valgrind wrk nginx)" >&2; exit 1; }
done

echo "== building (release)" >&2
cargo build --release -q -p ebb-gateway --example bench-gateway --example bench-backend
bin="$root/target/release/examples"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 600); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.1)" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "error: nothing listens on port $1" >&2; exit 1
}
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

b1=$(free_port); b2=$(free_port)
"$bin/bench-backend" --port "$b1" --port "$b2" >"$out/backend.log" 2>&1 &
pids+=($!)
wait_port "$b1"; wait_port "$b2"

# Start one proxy under callgrind; prints its port and pid. Instrumentation starts off.
start() {
    local target=$1 port
    port=$(free_port)
    case $target in
    gateway)
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/gateway.%p.out" \
            "$bin/bench-gateway" --port "$port" --threads 0 --backend "127.0.0.1:$b1" --backend "127.0.0.1:$b2" \
            >"$out/gateway.log" 2>&1 &
        ;;
    nginx)
        mkdir -p "$out/nginx"
        cat >"$out/nginx/nginx.conf" <<EOF
worker_processes 1;
master_process off;
daemon off;
error_log $out/nginx/error.log warn;
pid $out/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  upstream backend { least_conn; server 127.0.0.1:$b1; server 127.0.0.1:$b2; keepalive 256; }
  server {
    listen 127.0.0.1:$port;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/nginx.%p.out" \
            nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" >"$out/nginx.log" 2>&1 &
        ;;
    esac
    pids+=($!)
    wait_port "$port"
    echo "$port $!"
}

echo "| proxy | conns | requests | instructions/request |"
echo "|---|---|---|---|"
for target in $TARGETS; do
    read -r port pid < <(start "$target")
    wrk -t1 -c16 -d3s "http://127.0.0.1:$port/" >/dev/null
    for conns in $CONNS; do
        callgrind_control -z "$pid" >/dev/null 2>&1
        callgrind_control -i on "$pid" >/dev/null 2>&1
        wrk -t1 -c"$conns" -d"${DURATION}s" "http://127.0.0.1:$port/" >"$out/wrk-$target-$conns.txt"
        callgrind_control -i off "$pid" >/dev/null 2>&1
        callgrind_control -d "$target-$conns" "$pid" >/dev/null 2>&1
        sleep 1
        reqs=$(grep -oP '\d+(?= requests in)' "$out/wrk-$target-$conns.txt")
        dump=$(ls -t "$out/$target.$pid.out"* | head -1)
        ir=$(grep -oP '^totals: \K\d+' "$dump" | tail -1)
        mv "$dump" "$out/$target-c$conns.callgrind"
        echo "| $target | $conns | $reqs | $((ir / reqs)) |"
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
echo "callgrind outputs in $out (callgrind_annotate <file> | head -60)" >&2
