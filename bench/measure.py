#!/usr/bin/python3
"""Run a command several times; print the least CPU time (user + sys, from
wait4's rusage, microsecond resolution) and the largest peak RSS.
Usage: measure.py RUNS STDOUT_FILE -- CMD ARGS...   (STDOUT_FILE may be /dev/null)
Prints: cpu_seconds peak_kib wall_seconds"""
import os
import sys
import time

runs, out = int(sys.argv[1]), sys.argv[2]
cmd = sys.argv[sys.argv.index("--") + 1:]
best_cpu, peak, best_wall = float("inf"), 0, float("inf")
for _ in range(runs):
    t0 = time.perf_counter()
    # posix_spawn (vfork-like in glibc): the child never holds a copy of this
    # Python process, so its peak RSS is its own
    pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"measure.py: {' '.join(cmd)} failed with status {status}")
    best_cpu = min(best_cpu, ru.ru_utime + ru.ru_stime)
    best_wall = min(best_wall, wall)
    peak = max(peak, ru.ru_maxrss)
print(f"{best_cpu:.6f} {peak} {best_wall:.6f}")
