"""Listens to every topic during a run and keeps the timeline the live view and the report are made of."""
from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

from ..bus.pubsub import Subscriber
from ..bus.topics import TOPICS
from ..diagnose.cpu import CpuSampler

RECORDED = [name for name in TOPICS if name not in ("sim.audio", "ssl.beam", "hb")]   # not the audio wires


class Recorder:
    def __init__(self, runtime_dir: Path):
        self.sub = Subscriber(runtime_dir)
        for name in RECORDED:
            self.sub.subscribe(TOPICS[name].publisher, name)
        for svc in ("ssl", "vision", "policy", "motor", "world", "wake", "web"):
            self.sub.subscribe(svc)                      # heartbeats
        self.timeline: dict[str, list] = defaultdict(list)
        self.last: dict[str, object] = {}
        self.cpu = CpuSampler(keep_s=3600.0)             # per-process CPU for the report's journal records
        self._next_cpu = 0.0

    def pump(self, timeout_ms: int = 50) -> None:
        for topic, msg in self.sub.poll(timeout_ms):
            if topic == "hb":
                self.cpu.saw_heartbeat(msg.service, msg.pid)
                continue
            self.last[topic] = msg
            # sim.world at 30 Hz is only needed for the live view; keep the rest whole.
            if topic != "sim.world":
                self.timeline[topic].append(msg)
        now = time.monotonic()
        if now >= self._next_cpu:
            self._next_cpu = now + 0.25
            self.cpu.sample()

    def close(self) -> None:
        self.sub.close()
