"""Angle arithmetic in degrees: wrapping, signed differences, and the heading the device had at a past time."""
from __future__ import annotations

import bisect
from collections import deque
from typing import Optional


def wrap(deg: float) -> float:
    """The same direction in (-180, 180]."""
    d = (deg + 180.0) % 360.0 - 180.0
    return 180.0 if d == -180.0 else d


def diff(a: float, b: float) -> float:
    """Signed shortest turn from b to a, in (-180, 180] (positive = counter-clockwise)."""
    return wrap(a - b)


def to_world(device_deg: float, heading_deg: float) -> float:
    """world = device + heading (DESIGN.md conventions), wrapped."""
    return wrap(device_deg + heading_deg)


class HeadingHistory:
    """The last few seconds of (capture time, heading), so a bearing captured while turning is
    converted with the heading the device had at that moment, not the heading it has now."""

    def __init__(self, keep_s: float = 5.0):
        self.keep_ns = int(keep_s * 1e9)
        self._t: deque[int] = deque()
        self._h: deque[float] = deque()

    def add(self, t_ns: int, heading_deg: float) -> None:
        if self._t and t_ns <= self._t[-1]:
            if t_ns == self._t[-1]:
                return                     # a republished state: nothing new
            self._t.clear()                # time went backwards (a restarted motor): start over
            self._h.clear()
        self._t.append(t_ns)
        self._h.append(heading_deg)
        while self._t and self._t[-1] - self._t[0] > self.keep_ns:
            self._t.popleft()
            self._h.popleft()

    @property
    def latest(self) -> Optional[float]:
        return self._h[-1] if self._h else None

    def at(self, t_ns: int) -> Optional[float]:
        """Heading at t_ns, interpolated between samples; clamped to the oldest/newest sample outside them."""
        if not self._t:
            return None
        if t_ns <= self._t[0]:
            return self._h[0]
        if t_ns >= self._t[-1]:
            return self._h[-1]
        times = list(self._t)
        i = bisect.bisect_right(times, t_ns)
        t0, t1 = times[i - 1], times[i]
        h0, h1 = self._h[i - 1], self._h[i]
        return h0 + (h1 - h0) * (t_ns - t0) / (t1 - t0)
