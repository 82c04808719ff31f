#!/usr/bin/env bash
# Supervisor benchmark (issue 6, item 1): how long the replica lifecycle itself takes.
#   - order -> spawned: set_desired(1) until the replica's process runs (scale-from-zero's share);
#   - port open -> ready seen: a replica notes CLOCK_MONOTONIC right after listen(); we note it
#     when the status watch says ready (the delay fast probing adds to every cold start);
#   - port open -> first response: the same plus one HTTP request through the new replica;
#   - model-server start -> ready: `ebb model-server` as a replica, its start-up plus detection;
#   - model-server drained -> gone: SIGTERM handled, process reaped, replica removed.
# Each fast-probe interval is run in its own pass so the default can be compared.
#
# Needs: python3, a Rust toolchain. Everything runs on 127.0.0.1, bounded by ROUNDS.
# Usage: bench/supervisor/run.sh              (defaults: ROUNDS=30 INTERVALS="5 10 25")
#        ROUNDS=10 INTERVALS=5 bench/supervisor/run.sh
set -euo pipefail

ROUNDS=${ROUNDS:-30}
INTERVALS=${INTERVALS:-"5 10 25"}

root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/bench/out/supervisor-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
cd "$root"
command -v python3 >/dev/null || { echo "error: python3 is required" >&2; exit 1; }

echo "== building (release)" >&2
cargo build --release -q -p ebb -p ebb-supervisor --examples
bench="$root/target/release/examples/bench-replicas"

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    for interval in $INTERVALS; do
        echo
        "$bench" --rounds "$ROUNDS" --fast-ms "$interval" --ebb "$root/target/release/ebb"
    done
    echo
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/results.txt"
echo "results: $out/results.txt" >&2
