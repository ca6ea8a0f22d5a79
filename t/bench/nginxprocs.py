#!/usr/bin/python3
"""Sample the processes, memory and CPU time of one nginx, for the benchmarks.

    nginxprocs.py MASTER_PID [--every SEC]

Every SEC (0.1 s) until SIGTERM or until the master is gone: the master and
its children (the workers, old ones still draining after a reload
included): how many children, the sum of their and the master's VmRSS, and
the sum of their Pss (/proc/PID/smaps_rollup: a page shared by N of them
counts 1/N in each, so the sum is the memory they really take, where the
RSS sum counts a shared page once per process).  At the end one line:

    PROCS samples=N secs=S workers_max=W workers_median=M rss_kb_median=R
          rss_kb_max=X pss_kb_median=P pss_kb_max=Y cpu_s=C

cpu_s: the CPU time the master and all its workers used between the first
and the last sample, workers that exited meanwhile included (the kernel
adds a reaped child's time to its parent's cutime and cstime).
"""

import argparse
import os
import signal
import sys
import time


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return None


def field_kb(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid, reaped):
    """utime + stime of pid, and its reaped children's if reaped."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    # fields[0] is the state, the 3rd field of the file: utime is the 14th
    n = 4 if reaped else 2
    return sum(int(v) for v in fields[11:11 + n])


def median(values):
    v = sorted(values)
    if not v:
        return 0
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def main():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("master", type=int)
    p.add_argument("--every", type=float, default=0.1)
    a = p.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    workers, rss, pss, cpu = [], [], [], []
    start = time.monotonic()
    end = start

    while not stop:
        kids = children(a.master)
        if kids is None:
            break
        end = time.monotonic()
        procs = [a.master] + kids
        cpu.append(cpu_ticks(a.master, True)
                   + sum(cpu_ticks(c, False) for c in kids))
        workers.append(len(kids))
        rss.append(sum(field_kb("/proc/%d/status" % c, "VmRSS")
                       for c in procs))
        pss.append(sum(field_kb("/proc/%d/smaps_rollup" % c, "Pss")
                       for c in procs))
        time.sleep(a.every)

    hz = os.sysconf("SC_CLK_TCK")
    print("PROCS samples=%d secs=%.2f workers_max=%d workers_median=%g "
          "rss_kb_median=%g rss_kb_max=%d pss_kb_median=%g pss_kb_max=%d "
          "cpu_s=%.2f" % (
              len(workers), end - start, max(workers, default=0),
              median(workers), median(rss), max(rss, default=0),
              median(pss), max(pss, default=0),
              (cpu[-1] - cpu[0]) / hz if cpu else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
