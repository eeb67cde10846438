"""A small single-threaded event loop: ZeroMQ sockets or file descriptors, and periodic timers."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import zmq


@dataclass(order=True)
class _Timer:
    due: float
    period: float = field(compare=False)
    fn: Callable[[], None] = field(compare=False)


class Loop:
    def __init__(self, max_wait_s: float = 0.05):
        self.poller = zmq.Poller()
        self._handlers: dict[object, Callable[[], None]] = {}
        self._timers: list[_Timer] = []
        self.max_wait_s = max_wait_s
        self.running = False

    def add_reader(self, sock_or_fd, fn: Callable[[], None]) -> None:
        """Call fn() whenever a zmq socket or an fd is readable."""
        self.poller.register(sock_or_fd, zmq.POLLIN)
        self._handlers[sock_or_fd] = fn

    def remove_reader(self, sock_or_fd) -> None:
        self.poller.unregister(sock_or_fd)
        self._handlers.pop(sock_or_fd, None)

    def every(self, period_s: float, fn: Callable[[], None]) -> None:
        self._timers.append(_Timer(time.monotonic() + period_s, period_s, fn))

    def run_once(self) -> None:
        now = time.monotonic()
        next_due = min((t.due for t in self._timers), default=now + self.max_wait_s)
        wait = max(0.0, min(self.max_wait_s, next_due - now))
        for sock, _ in self.poller.poll(wait * 1000):
            self._handlers[sock]()
        now = time.monotonic()
        for t in self._timers:
            if now >= t.due:
                # Skip missed periods instead of firing a burst after a stall.
                t.due = max(t.due + t.period, now)
                t.fn()

    def run(self) -> None:
        self.running = True
        while self.running:
            self.run_once()

    def stop(self) -> None:
        self.running = False
