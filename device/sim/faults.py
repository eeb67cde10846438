"""Faults the simulated room injects into chosen or random wake events, so `swivel diagnose` can be tested on
real runs with a known cause. Simulated code path only: the world process applies them; no device has it."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

# A busy loop that ends itself: a process beside the services, like a runaway job on the Pi.
_HOG = "import time\nend = time.monotonic() + {d}\nwhile time.monotonic() < end:\n    pass\n"


class FaultPlan:
    def __init__(self, scenario):
        self.faults = list(scenario.fault)
        self.rng = np.random.default_rng(scenario.seed + 7919)
        self.count = 0                               # wake utterances planned so far
        self.wake_extra: dict[float, float] = {}     # utterance end (s) -> extra engine delay
        self.audio_holds: list[tuple[float, float]] = []      # (from, until): blocks from `from` wait
        self.camera_gaps: list[tuple[float, float]] = []
        self.hogs_due: list[tuple[float, float, int]] = []   # (start, duration, workers)
        self.procs: list[subprocess.Popen] = []

    def plan(self, start_s: float, end_s: float) -> list[str]:
        """Decide the faults of the next wake utterance; returns their kinds (for the ground truth)."""
        self.count += 1
        kinds = []
        for f in self.faults:
            hit = self.count in f.events or (f.probability > 0 and self.rng.random() < f.probability)
            if not hit:
                continue
            kinds.append(f.kind)
            if f.kind == "wake_delay":
                self.wake_extra[end_s] = self.wake_extra.get(end_s, 0.0) + f.delay_s
            elif f.kind == "audio_stall":
                self.audio_holds.append((end_s - 0.2, end_s - 0.2 + f.delay_s))
            elif f.kind == "cpu_hog":
                self.hogs_due.append((end_s - 0.3, f.duration_s, f.workers))
            elif f.kind == "vision_stall":
                self.camera_gaps.append((end_s - 1.0, end_s + f.duration_s))
        return kinds

    def extra_wake_delay(self, end_s: float) -> float:
        return self.wake_extra.get(end_s, 0.0)

    def audio_held(self, t_block: float, t: float) -> bool:
        """A block from inside a stall waits until the stall ends (then all of it arrives at once)."""
        return any(a <= t_block and t < b for a, b in self.audio_holds)

    def camera_missing(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.camera_gaps)

    def tick(self, t: float) -> None:
        while self.hogs_due and self.hogs_due[0][0] <= t:
            _, duration, workers = self.hogs_due.pop(0)
            for _ in range(workers):
                self.procs.append(subprocess.Popen([sys.executable, "-c", _HOG.format(d=duration)]))
        self.procs = [p for p in self.procs if p.poll() is None]

    def stop(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
        self.procs = []
