#!/usr/bin/env python3
"""Where the kernel ran each request of a 1-connection wrk run, from scheduler tracepoints.

Reads `perf script` output of `perf record -e sched:sched_switch -a` on stdin. A round is
one request as wrk sees it: from wrk running again after sleeping on a response to the next
time it does. Each round is labelled with the vCPUs that wrk, the proxy and the backend ran
on during it (a process that did not run in a round counts where it last ran). Prints one
line: rounds, the share spent with all of them on one vCPU, and the median round time
together and apart.

    placement.py --proxy TID... --backend TID... < perf-script.txt
"""
import argparse
import re
import statistics
import sys

SWITCH = re.compile(
    r"\[(\d+)\]\s+[\d.]+:\s+sched:sched_switch:.*prev_pid=(\d+) .*prev_state=(\S+) ==> "
    r"next_comm=(\S+) next_pid=(\d+)"
)
TIME = re.compile(r"\[\d+\]\s+([\d.]+):")


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--proxy", nargs="*", type=int, default=[], help="thread ids of the proxy (none: direct)")
    args.add_argument("--backend", nargs="+", type=int, required=True, help="thread ids of the backend")
    args.add_argument("--wrk", default="wrk", help="command name of the load generator's threads")
    opts = args.parse_args()
    role = {tid: "proxy" for tid in opts.proxy} | {tid: "backend" for tid in opts.backend}

    together, apart = [], []
    wrk_pids, wrk_asleep = set(), False
    start, cpus, last_cpu = None, {}, {}
    for line in sys.stdin:
        m = SWITCH.search(line)
        if not m:
            continue
        cpu, prev_pid, prev_state, next_comm, next_pid = int(m[1]), int(m[2]), m[3], m[4], int(m[5])
        t = float(TIME.search(line)[1])
        if next_comm == opts.wrk:
            wrk_pids.add(next_pid)
        for pid in (prev_pid, next_pid):
            who = "wrk" if pid in wrk_pids else role.get(pid)
            if who:
                cpus.setdefault(who, set()).add(cpu)
                last_cpu[who] = cpu
        if prev_pid in wrk_pids:
            wrk_asleep = prev_state.startswith("S")
        elif next_pid in wrk_pids and wrk_asleep:
            if start is not None and len(last_cpu) == (3 if opts.proxy else 2):
                used = set().union(*cpus.values(), *({c} for who, c in last_cpu.items() if who not in cpus))
                (together if len(used) == 1 else apart).append((t - start) * 1e6)
            start, cpus, wrk_asleep = t, {"wrk": {cpu}}, False

    rounds = len(together) + len(apart)
    if rounds == 0:
        sys.exit("no complete round found: is wrk running, and are the thread ids right?")
    med = lambda xs: f"{statistics.median(xs):.0f} µs" if xs else "-"
    print(
        f"{rounds} rounds; all on one vCPU in {100 * len(together) / rounds:.1f} %; "
        f"median round {med(together + apart)} (on one vCPU {med(together)}, apart {med(apart)})"
    )


if __name__ == "__main__":
    main()
