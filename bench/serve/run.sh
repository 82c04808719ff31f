#!/usr/bin/env bash
# Measures issue 6's targets for `ebb serve` (release build) on this machine:
#   1. cold-start overhead: first response from zero minus the replica's own start-to-ready;
#   2. scale-from-zero reaction: the first held request to the replica's spawn;
#   3. overload reaction (KPA): a step to 10x the target concurrency to the scale-up order.
# Usage: bench/serve/run.sh [COLD_ROUNDS] [OVERLOAD_ROUNDS]. Needs python3.
# EBB_SERVE_ARGS passes extra flags to `ebb serve`, e.g. EBB_SERVE_ARGS=--kpa-immediate-panic.
set -euo pipefail
cd "$(dirname "$0")/../.."
COLD=${1:-10}
OVERLOAD=${2:-5}
cargo build --release -q -p ebb
EBB=$PWD/target/release/ebb
TMP=$(mktemp -d)
trap 'kill $SERVE 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ADMIN=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$TMP/app.yaml" <<YAML
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: bench
  annotations:
    ebb.dev/command: "$EBB model-server --port {port} --name bench --delay 200ms --cost-per-text 0s"
spec:
  predictor:
    minReplicas: 0
    maxReplicas: 20
    scaleMetric: concurrency
    scaleTarget: 1
    containers: [{name: kserve-container, image: example/model:latest}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config-autoscaler, namespace: knative-serving}
data: {stable-window: 6s, scale-to-zero-grace-period: 1s}
YAML
# shellcheck disable=SC2086
EBB_STATE_DIR="$TMP/state" "$EBB" serve -f "$TMP/app.yaml" --port "$PORT" --admin "$ADMIN" ${EBB_SERVE_ARGS:-} > "$TMP/serve.log" 2>&1 &
SERVE=$!
python3 bench/serve/measure.py "$ADMIN" "$PORT" "$COLD" "$OVERLOAD" "$EBB"
