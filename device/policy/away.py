"""Away mode: pans across the range of motion on a schedule, and alerts (time and bearing, no image) when someone is seen."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from ..bus.schemas import PolicyAlert
from .angles import diff
from .config import AwayConfig, parse_hours
from .fusion import WorldPerson


@dataclass
class Pan:
    """A sweep through waypoints (world azimuth), pausing `dwell_s` at each; `source` is "pan" or "away"."""
    waypoints: list[float]
    speed_dps: float
    dwell_s: float
    source: str
    index: int = 0
    arrived_ns: Optional[int] = None
    leg_deadline_ns: Optional[int] = None   # a waypoint the motor cannot reach (its own limit) is given up

    @property
    def target(self) -> Optional[float]:
        return self.waypoints[self.index] if self.index < len(self.waypoints) else None

    def advance(self, at_target: bool, now_ns: int, heading: float) -> Optional[float]:
        """Move on to the next waypoint once this one is reached and looked at; None when done."""
        if self.target is None:
            return None
        if self.leg_deadline_ns is None:
            travel_s = abs(self.target - heading) / self.speed_dps
            self.leg_deadline_ns = now_ns + int((2 * travel_s + 5.0) * 1e9)
        if now_ns > self.leg_deadline_ns:
            at_target = True
        if at_target:
            if self.arrived_ns is None:
                self.arrived_ns = now_ns
            if now_ns - self.arrived_ns >= self.dwell_s * 1e9:
                self.index += 1
                self.arrived_ns = None
                self.leg_deadline_ns = None
        return self.target


def pan_waypoints(rom_min: float, rom_max: float, heading: float) -> list[float]:
    """Nearer end first, then the far end, then back where the device was (clamped into the range)."""
    start = min(max(heading, rom_min), rom_max)
    near, far = (rom_min, rom_max) if abs(diff(heading, rom_min)) <= abs(diff(heading, rom_max)) else (rom_max, rom_min)
    return [near, far, start]


class Away:
    """The away schedule and the alert rate limits."""

    def __init__(self, cfg: AwayConfig, now_ns: int, local_minute: Optional[Callable[[], int]] = None):
        self.cfg = cfg
        self.hours = parse_hours(cfg.hours) if cfg.hours else None
        # Minutes after local midnight, now (tests pass their own clock).
        self.local_minute = local_minute or (lambda: time.localtime().tm_hour * 60 + time.localtime().tm_min)
        self.enabled = False
        self.next_pan_ns = 0
        self.last_alert_ns: Optional[int] = None
        self.alerted: dict[int, int] = {}        # track id -> time of its last alert
        self.alerts_sent = 0
        if cfg.enabled:
            self.set(True, now_ns)

    def set(self, enabled: bool, now_ns: int) -> None:
        if enabled and not self.enabled:
            self.next_pan_ns = now_ns + int(self.cfg.first_pan_s * 1e9)
            self.alerted.clear()
        self.enabled = enabled

    def in_hours(self) -> bool:
        if self.hours is None:
            return True
        start, end = self.hours
        m = self.local_minute()
        return start <= m < end if start < end else (m >= start or m < end)

    def pan_due(self, now_ns: int) -> bool:
        """A pan is due when the interval has passed, inside the configured hours (a pan missed outside
        them runs as soon as they begin)."""
        return self.enabled and now_ns >= self.next_pan_ns and self.in_hours()

    def pan_started(self, now_ns: int) -> None:
        self.next_pan_ns = now_ns + int(self.cfg.interval_s * 1e9)

    def alerts(self, people: list[WorldPerson], capture_ns: int, now_ns: int) -> list[PolicyAlert]:
        """Alerts for people seen now, at most one per track per cooldown and never two within the gap."""
        if not self.enabled:
            return []
        out = []
        for p in sorted(people, key=lambda p: -p.confidence):
            if p.confidence < self.cfg.min_confidence:
                continue
            last = self.alerted.get(p.track_id)
            if last is not None and now_ns - last < self.cfg.alert_cooldown_s * 1e9:
                continue
            if self.last_alert_ns is not None and now_ns - self.last_alert_ns < self.cfg.min_alert_gap_s * 1e9:
                break
            self.alerted[p.track_id] = now_ns
            self.last_alert_ns = now_ns
            self.alerts_sent += 1
            out.append(PolicyAlert(t_ns=capture_ns, bearing_deg=round(p.world_deg, 1), track_id=p.track_id))
        return out
