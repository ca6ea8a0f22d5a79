#!/usr/bin/python3
"""Drive the test Workload API agent's control socket for the benchmarks.

    agentctl.py SOCK COMMAND [ARG...]
        send one command, print the reply; exit 1 when it is "ERR ..."

    agentctl.py SOCK --rotate-every SEC --for SEC [--log FILE]
        "rotate-svid" on a fixed schedule (start + k * SEC, not drifting
        with the agent's reply time) for the given time

    agentctl.py SOCK --rotate-count N [--max-seconds SEC] [--log FILE]
        "rotate-svid" back to back, N times or until SEC have passed

    --exec CMD (with either): after each rotation, run CMD with the shell
        and wait for it, as spiffe-helper runs its command once it has
        written the new SVID's files (e.g. copy them, "nginx -s reload")

The rotation modes write "MONOTONIC_NS SERIAL_HEX" to --log for each reply
(time.monotonic_ns() is CLOCK_MONOTONIC, the clock mtls_load --serials
uses) and print one summary line:

    ROTATE rotations=N errors=E secs=S reply_ms_mean=M reply_ms_max=X late=L
        [exec_errors=F exec_ms_mean=M exec_ms_max=X]

"late" counts rotations sent after their slot because the previous reply
(and CMD) had not come yet; exec_errors counts runs of CMD that failed.
"""

import argparse
import socket
import subprocess
import sys
import time


class Control:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.rfile = self.sock.makefile("rb")

    def command(self, line):
        self.sock.sendall(line.encode() + b"\n")
        reply = self.rfile.readline()
        if not reply:
            raise SystemExit("agentctl: the agent closed the control socket")
        return reply.decode().strip()


def serial_of(reply):
    for word in reply.split():
        if word.startswith("serial="):
            return word[len("serial="):]
    return "-"


def rotate(ctl, every, seconds, count, log, cmd=None):
    out = open(log, "a") if log else None
    n = errors = late = cmd_errors = 0
    total = worst = cmd_total = cmd_worst = 0.0
    start = time.monotonic()
    deadline = start + seconds if seconds else None
    while True:
        if count and n + errors >= count:
            break
        if every:
            slot = start + (n + errors) * every
            now = time.monotonic()
            if deadline and slot >= deadline:
                break
            if slot > now:
                time.sleep(slot - now)
            elif now - slot > every:
                late += 1
        elif deadline and time.monotonic() >= deadline:
            break
        t0 = time.monotonic()
        reply = ctl.command("rotate-svid")
        t1 = time.monotonic_ns()
        took = t1 / 1e9 - t0
        total += took
        worst = max(worst, took)
        if reply.startswith("OK"):
            n += 1
            if out:
                out.write("%d %s\n" % (t1, serial_of(reply)))
            if cmd:
                rc = subprocess.call(cmd, shell=True)
                took = time.monotonic() - t1 / 1e9
                cmd_total += took
                cmd_worst = max(cmd_worst, took)
                if rc != 0:
                    cmd_errors += 1
                    sys.stderr.write("agentctl: %s: exit %d\n" % (cmd, rc))
        else:
            errors += 1
            sys.stderr.write("agentctl: rotate-svid: %s\n" % reply)
    if out:
        out.close()
    done = n + errors
    line = ("ROTATE rotations=%d errors=%d secs=%.3f reply_ms_mean=%.2f "
            "reply_ms_max=%.2f late=%d" % (
                n, errors, time.monotonic() - start,
                1000 * total / done if done else 0, 1000 * worst, late))
    if cmd:
        line += " exec_errors=%d exec_ms_mean=%.2f exec_ms_max=%.2f" % (
            cmd_errors, 1000 * cmd_total / n if n else 0, 1000 * cmd_worst)
    print(line)
    return 0 if errors == 0 and cmd_errors == 0 else 1


def main():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__[__doc__.index("    agentctl.py"):])
    p.add_argument("socket")
    p.add_argument("command", nargs="*")
    p.add_argument("--rotate-every", type=float)
    p.add_argument("--for", dest="seconds", type=float)
    p.add_argument("--rotate-count", type=int)
    p.add_argument("--max-seconds", type=float)
    p.add_argument("--log")
    p.add_argument("--exec", dest="cmd")
    a = p.parse_args()

    ctl = Control(a.socket)
    if a.rotate_every:
        if not a.seconds:
            p.error("--rotate-every needs --for")
        return rotate(ctl, a.rotate_every, a.seconds, 0, a.log, a.cmd)
    if a.rotate_count:
        return rotate(ctl, 0, a.max_seconds or 0, a.rotate_count, a.log,
                      a.cmd)
    if not a.command:
        p.error("no command")
    reply = ctl.command(" ".join(a.command))
    print(reply)
    return 0 if reply.startswith("OK") else 1


if __name__ == "__main__":
    sys.exit(main())
