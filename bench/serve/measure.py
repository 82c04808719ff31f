"""Drives a running `ebb serve` (see run.sh) and prints the measurements."""
import json
import statistics
import subprocess
import sys
import time
import urllib.request

admin, port, cold_rounds, overload_rounds, ebb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]


def get(path):
    with urllib.request.urlopen(f"http://{admin}{path}", timeout=10) as r:
        return json.load(r)


def wait(what, pred, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def predict():
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/models/bench:predict",
        data=b'{"instances": ["a fine film"]}',
        headers={"Host": "bench.default.example.com", "Content-Type": "application/json"},
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()
    return (time.perf_counter() - t0) * 1e3


def summary(name, values, unit="ms"):
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    print(f"{name:<52} median {statistics.median(values):8.2f} {unit}   p90 {p90:8.2f} {unit}   min {values[0]:8.2f}   max {values[-1]:8.2f}   (n={len(values)})")


wait("the admin API", lambda: urllib.request.urlopen(f"http://{admin}/healthz", timeout=2).read() == b"ok")
cold = []
for _ in range(cold_rounds):
    wait("scale to zero", lambda: len(get("/api/v1/pods")) == 0)
    time.sleep(0.3)
    before = len(get("/api/v1/services/bench")["coldStarts"])
    first_response = predict()
    starts = get("/api/v1/services/bench")["coldStarts"]
    if len(starts) <= before:
        sys.exit("no cold start was recorded")
    rec = starts[-1]
    # The request also waits the model's own 200 ms --delay once the replica is ready.
    cold.append((first_response - 200.0, rec["startToReadyMs"], rec["wakeToSpawnMs"], rec["totalMs"]))

if cold:
    print(f"ebb serve, {cold_rounds} cold starts (model server: ebb model-server, ~10 ms to ready)")
    summary("first response from zero (less the 200 ms model delay)", [c[0] for c in cold])
    summary("replica's own start-to-ready", [c[1] for c in cold])
    summary("cold-start overhead = first response - start-to-ready", [c[0] - c[1] for c in cold])
    summary("scale-from-zero reaction: held request -> spawn", [c[2] for c in cold])

reactions = []
for _ in range(overload_rounds):
    # One replica, idle: wake it and wait until it is ready and the panic from the wake is over.
    predict()
    wait("one ready replica at rest", lambda: (lambda s: s["ready"] == 1 and s["desired"] == 1 and not s["panic"])(get("/api/v1/services/bench")["service"]), 60)
    load = subprocess.Popen(
        [ebb, "load", f"http://127.0.0.1:{port}/v1/models/bench:predict", "-H", "Host: bench.default.example.com",
         "--body-template", "sentiment", "--concurrency", "10", "--run-time", "4s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.perf_counter()
    while get("/api/v1/services/bench")["service"]["desired"] <= 1:
        if time.perf_counter() - t0 > 10:
            sys.exit("no scale-up within 10 s")
        time.sleep(0.005)
    reactions.append((time.perf_counter() - t0) * 1e3)
    load.wait()
    wait("back to zero", lambda: len(get("/api/v1/pods")) == 0)

print(f"ebb serve, {overload_rounds} load steps from 1 idle replica to 10 concurrent (10x the target of 1)")
summary("overload reaction: step -> scale-up order", reactions)
