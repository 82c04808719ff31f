#!/usr/bin/env bash
# Load generator benchmark (issue 7): builds ebb, starts the bench backend, runs bench.py.
#
#   bench/load/run.sh [ROUNDS] [SECONDS] [CONNECTIONS]      (defaults: 5 rounds, 10 s, 64)
#
# Backend, pinned to CPU 1 (the generators run on CPU 0): BACKEND=rust (default) is the
# gateway benchmark's Rust backend (`cargo run -p ebb-gateway --example bench-backend`);
# BACKEND=nginx is Debian's nginx (one worker, bench/load/nginx.conf) answering a static 200.
# Needs wrk, taskset, python3, curl (and nginx for BACKEND=nginx): apt-get install -y wrk (nginx-light)
# Writes bench/out/load/results.json and prints a markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${1:-5}
SECONDS_PER_RUN=${2:-10}
CONNECTIONS=${3:-64}
OUT=bench/out/load
mkdir -p "$OUT"

BACKEND=${BACKEND:-rust}
for tool in wrk taskset python3 curl $([ "$BACKEND" = nginx ] && echo nginx); do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install -y nginx-light wrk util-linux python3 curl" >&2
        exit 1
    }
done

cargo build --release -p ebb >&2
[ "$BACKEND" = rust ] && cargo build --release -p ebb-gateway --example bench-backend >&2

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PREFIX=$(mktemp -d)
case "$BACKEND" in
rust)
    taskset -c 1 target/release/examples/bench-backend --port "$PORT" --threads 1 &
    ;;
nginx)
    mkdir -p "$PREFIX/tmp"
    sed "s/PORT/$PORT/" bench/load/nginx.conf >"$PREFIX/nginx.conf"
    taskset -c 1 nginx -p "$PREFIX" -c "$PREFIX/nginx.conf" &
    ;;
*)
    echo "BACKEND must be rust or nginx, not $BACKEND" >&2
    exit 2
    ;;
esac
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$PREFIX"' EXIT
URL="http://127.0.0.1:$PORT/"
for _ in $(seq 50); do curl -sf "$URL" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$URL" >/dev/null || { echo "the $BACKEND backend did not start" >&2; exit 1; }

python3 bench/load/bench.py target/release/ebb "$URL" "$ROUNDS" "$SECONDS_PER_RUN" "$CONNECTIONS" "$OUT"
