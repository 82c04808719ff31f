#!/usr/bin/env python3
"""Load generator benchmark (issue 7): open-loop `ebb load` on one core against the bench
backend, compared with wrk at the same connection count, in alternating rounds of one run.

Run through bench/load/run.sh, which builds ebb and starts the backend. Per round, on the same
backend:
  1. wrk -t1 -cC                                 closed loop, as fast as it can
  2. ebb load --rate 30000/s --connections C      the absolute target: is 30k/s held?
  3. ebb load --rate 1000000/s --connections C    open loop offered far more than it can send:
                                                  what it achieves is its ceiling
  4. ebb load -c C                                closed loop, for reference
Each generator is pinned to CPU 0 (ebb with one runtime thread). Besides the rate, the CPU
time each generator used per request (user + system, from getrusage) is recorded: on a shared
machine the rates move with the neighbours' load, the CPU cost per request much less.
"""
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

ebb, url, rounds, seconds, connections, out = sys.argv[1:7]
rounds, seconds, connections = int(rounds), int(seconds), int(connections)


def measured(cmd):
    """Runs cmd; returns (stdout, CPU seconds it used)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, cpu


def wrk():
    text, cpu = measured(["taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url])
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    count = int(re.search(r"(\d+) requests in", text).group(1))
    return {"rate": rate, "cpu_us": cpu / count * 1e6}


def ebb_load(*shape):
    path = os.path.join(out, "ebb.json")
    _, cpu = measured(["taskset", "-c", "0", ebb, "load", url, "--threads", "1", "-t", f"{seconds}s",
                       "-q", "--json", path, *shape])
    summary = json.load(open(path))
    sent = summary["requests"]["sent"]
    return {
        "rate": summary["rate"]["sent"],
        "cpu_us": cpu / max(sent, 1) * 1e6,
        "late": (summary.get("late") or {}).get("count", 0),
        "p99_ms": (summary.get("latency_ms") or {}).get("p99"),
    }


rows = []
for r in range(1, rounds + 1):
    w = wrk()
    fixed = ebb_load("--rate", "30000/s", "--connections", str(connections))
    offered = 1_000_000
    ceiling = ebb_load("--rate", f"{offered}/s", "--connections", str(connections))
    closed = ebb_load("-c", str(connections))
    row = {"round": r, "wrk": w, "ebb_30k": fixed, "offered": offered, "ebb_ceiling": ceiling, "ebb_closed": closed}
    rows.append(row)
    print(f"round {r}: wrk {w['rate']:.0f}/s ({w['cpu_us']:.2f} us CPU/req) | "
          f"ebb 30k/s: sent {fixed['rate']:.0f}/s, late {fixed['late']}, p99 {fixed['p99_ms']} ms | "
          f"ebb ceiling {ceiling['rate']:.0f}/s ({ceiling['cpu_us']:.2f} us CPU/req) | "
          f"ebb -c {closed['rate']:.0f}/s", file=sys.stderr, flush=True)
    time.sleep(1)

json.dump(rows, open(os.path.join(out, "results.json"), "w"), indent=2)
med = lambda f: statistics.median(f(x) for x in rows)
ratio = [x["ebb_ceiling"]["rate"] / x["wrk"]["rate"] for x in rows]
cpu_ratio = [x["wrk"]["cpu_us"] / x["ebb_ceiling"]["cpu_us"] for x in rows]
load = open("/proc/loadavg").read().split()[:3]
print(f"""
machine: {os.cpu_count()} cores, {os.uname().release}; generators on CPU 0, backend on CPU 1
{connections} connections, {rounds} rounds of {seconds} s; load average at the end {' '.join(load)}

| measure | median | per round |
|---|---:|---|
| wrk -t1 -c{connections}, req/s | {med(lambda x: x['wrk']['rate']):,.0f} | {', '.join(f"{x['wrk']['rate']:,.0f}" for x in rows)} |
| ebb open loop at 30,000/s, sent req/s | {med(lambda x: x['ebb_30k']['rate']):,.0f} | {', '.join(f"{x['ebb_30k']['rate']:,.0f}" for x in rows)} |
| ebb open loop at 30,000/s, late requests | {med(lambda x: x['ebb_30k']['late']):,.0f} | {', '.join(f"{x['ebb_30k']['late']:,}" for x in rows)} |
| ebb open loop at 30,000/s, p99 ms | {med(lambda x: x['ebb_30k']['p99_ms']):.2f} | {', '.join(f"{x['ebb_30k']['p99_ms']:.2f}" for x in rows)} |
| ebb open loop ceiling (offered 1,000,000/s), req/s | {med(lambda x: x['ebb_ceiling']['rate']):,.0f} | {', '.join(f"{x['ebb_ceiling']['rate']:,.0f}" for x in rows)} |
| ebb closed loop -c{connections}, req/s | {med(lambda x: x['ebb_closed']['rate']):,.0f} | {', '.join(f"{x['ebb_closed']['rate']:,.0f}" for x in rows)} |
| ebb open-loop ceiling / wrk | {statistics.median(ratio):.2f} | {', '.join(f'{x:.2f}' for x in ratio)} |
| CPU per request, wrk, us | {med(lambda x: x['wrk']['cpu_us']):.2f} | {', '.join(f"{x['wrk']['cpu_us']:.2f}" for x in rows)} |
| CPU per request, ebb open loop, us | {med(lambda x: x['ebb_ceiling']['cpu_us']):.2f} | {', '.join(f"{x['ebb_ceiling']['cpu_us']:.2f}" for x in rows)} |
| wrk CPU / ebb CPU per request | {statistics.median(cpu_ratio):.2f} | {', '.join(f'{x:.2f}' for x in cpu_ratio)} |
""")
