"""Service: the skeleton every Swivel process shares (bus, loop, heartbeat, SIGTERM, sd_notify, logs)."""
from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from typing import Callable

import msgspec
import zmq

from ..bus.endpoints import ensure_runtime_dir, resolve_runtime_dir
from ..bus.pubsub import Publisher, Subscriber
from .logs import log_event, setup_logging
from .loop import Loop
from .sdnotify import SystemdNotifier


class Service:
    """Subclass, register handlers in `setup()`, and call `run()`.

    - `self.pub` publishes on `<runtime_dir>/<name>.pub`; `self.on(publisher, topic, fn)` subscribes.
    - `run()` notifies systemd READY once `setup()` returned, pings the watchdog only while the loop
      turns (so a wedged loop gets restarted), and exits cleanly on SIGTERM/SIGINT through `teardown()`.
    - Counters of dropped messages are logged at exit and on every `stats_period_s`.
    """

    name = "service"

    def __init__(self, cfg, runtime_dir: Path | None = None):
        self.cfg = cfg
        self.runtime_dir = ensure_runtime_dir(runtime_dir or resolve_runtime_dir(cfg.bus.runtime_dir))
        self.log = setup_logging(self.name, cfg.bus.log_level)
        self.ctx = zmq.Context()
        self.loop = Loop()
        self.pub = Publisher(self.name, self.runtime_dir, self.ctx, heartbeat_s=cfg.bus.heartbeat_s)
        self.sub = Subscriber(self.runtime_dir, self.ctx)
        self._handlers: dict[str, list[Callable[[msgspec.Struct], None]]] = {}
        self.loop.add_reader(self.sub.sock, self._dispatch)
        self.loop.every(min(0.05, cfg.bus.heartbeat_s / 2), self._heartbeat_tick)
        self.notifier = SystemdNotifier()
        if self.notifier.watchdog_period_s:
            self.loop.every(self.notifier.watchdog_period_s, self.notifier.watchdog)
        self.loop.every(cfg.bus.stats_period_s, self.log_stats)
        self.started = time.monotonic()

    # -- wiring -------------------------------------------------------------------------------------
    def on(self, publisher: str, topic: str, fn: Callable[[msgspec.Struct], None]) -> None:
        self.sub.subscribe(publisher, topic)
        self._handlers.setdefault(topic, []).append(fn)

    def watch(self, *publishers: str) -> None:
        """Track the heartbeats of these publishers (see `peer_alive`)."""
        for p in publishers:
            self.sub.subscribe(p)

    def _heartbeat_tick(self) -> None:     # not `_tick`: vision's service has its own
        self.pub.hb_dropped = sum(self.sub.dropped.values())   # the web page's health panel shows it
        self.pub.tick()

    def peer_alive(self, service: str) -> bool:
        return self.sub.alive(service, self.cfg.bus.heartbeat_timeout_s)

    def _dispatch(self) -> None:
        for topic, msg in self.sub.poll(0):
            for fn in self._handlers.get(topic, ()):
                fn(msg)

    # -- lifecycle ----------------------------------------------------------------------------------
    def setup(self) -> None:
        """Open hardware, subscribe, start timers. Raise UserError for a problem the user can fix."""

    def teardown(self) -> None:
        """Leave hardware safe. Called once on the way out, whatever the reason."""

    def log_stats(self) -> None:
        if self.sub.dropped:
            log_event(self.log, "dropped messages", logging.WARNING, dropped=dict(self.sub.dropped))

    def event(self, msg: str, level: int = logging.INFO, **fields) -> None:
        log_event(self.log, msg, level, **fields)

    def _on_signal(self, signum, _frame) -> None:
        self.event("stopping", signal=signal.Signals(signum).name)
        self.loop.stop()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self.pub.hb_state = "starting"
            self.setup()
            if self.pub.hb_state == "starting":      # setup() may have said "degraded" already
                self.pub.hb_state = "running"
            self.notifier.ready(f"{self.name} running")
            self.event("ready", pid_runtime_dir=str(self.runtime_dir))
            self.loop.run()
        finally:
            self.notifier.stopping()
            self.pub.hb_state = "stopping"
            try:
                self.teardown()
            finally:
                self.log_stats()
                self.pub.close()
                self.sub.close()
                self.ctx.term()
        return 0
