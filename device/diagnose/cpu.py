"""CPU load of the host and of each Swivel process, sampled from /proc (pids from the services' heartbeats)."""
from __future__ import annotations

import os
import time
from collections import deque

TICK_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _host_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot."""
    try:
        with open("/proc/stat") as f:
            parts = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)      # idle + iowait
    return sum(parts) - idle, sum(parts)


def _proc_jiffies(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the fields after its ')' are fixed.
    fields = text[text.rfind(")") + 2:].split()
    return int(fields[11]) + int(fields[12])                   # utime + stime


class CpuSampler:
    """Keeps ~30 s of samples; `load_at(t_ns)` is the load over the second before t_ns (fractions of one CPU
    per process; the host figure is the busy share of all CPUs, 0..1)."""

    def __init__(self, keep_s: float = 30.0):
        self.pids: dict[str, int] = {}
        self.samples: deque = deque()
        self.keep_ns = int(keep_s * 1e9)
        self.ncpu = os.cpu_count() or 1

    def saw_heartbeat(self, service: str, pid: int) -> None:
        self.pids[service] = pid

    def sample(self, now_ns: int | None = None) -> None:
        now_ns = now_ns or time.monotonic_ns()
        procs = {s: j for s, p in self.pids.items() if (j := _proc_jiffies(p)) is not None}
        self.samples.append((now_ns, _host_jiffies(), procs))
        while self.samples and self.samples[0][0] < now_ns - self.keep_ns:
            self.samples.popleft()

    def load_at(self, t_ns: int, window_s: float = 1.0) -> dict:
        """{"host": busy share or None, "services": {name: CPUs used}} over [t_ns - window, t_ns]."""
        before = [s for s in self.samples if s[0] <= t_ns - int(window_s * 1e9)]
        after = [s for s in self.samples if s[0] >= t_ns]
        a = before[-1] if before else (self.samples[0] if self.samples else None)
        b = after[0] if after else (self.samples[-1] if self.samples else None)
        if a is None or b is None or b[0] <= a[0]:
            return {"host": None, "services": {}}
        dt = (b[0] - a[0]) / 1e9
        host = None
        if a[1] and b[1] and b[1][1] > a[1][1]:
            host = round((b[1][0] - a[1][0]) / (b[1][1] - a[1][1]), 3)
        services = {s: round((b[2][s] - a[2][s]) / TICK_HZ / dt, 3) for s in b[2] if s in a[2]}
        return {"host": host, "services": services}
