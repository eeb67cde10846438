"""No-move rules: each active rule is a named Hold with a human reason; stalls remember the blocked side."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .angles import diff
from .config import RulesConfig

# Every rule the policy can report, in the order they are listed in policy.state.
RULES = ("shutter_closed", "vision_unavailable", "ssl_unavailable", "motor_fault", "mute", "hand_turn", "hand_turn_recent",
         "stall", "ambiguous_sound", "outside_rom")

# Rules that only stop what the policy decides on its own (following, sound); an app's explicit turn
# or pan still runs. Every other rule stops all motion.
AUTONOMOUS_ONLY = frozenset({"hand_turn_recent", "ambiguous_sound", "outside_rom"})


@dataclass(frozen=True)
class Hold:
    name: str
    reason: str

    @property
    def blocks_api(self) -> bool:
        return self.name not in AUTONOMOUS_ONLY


class StallGuard:
    """After a stall the device does not drive towards that side again until the stall is cleared
    (a hand turn, a new range of motion, or `stall_clear_s` later)."""

    def __init__(self, cfg: RulesConfig):
        self.cfg = cfg
        self.direction: Optional[int] = None     # +1: counter-clockwise side blocked, -1: clockwise, 0: both
        self.at_deg = 0.0
        self.since_ns = 0

    @property
    def active(self) -> bool:
        return self.direction is not None

    def on_stall(self, heading_deg: float, direction: int, now_ns: int) -> None:
        self.direction, self.at_deg, self.since_ns = direction, heading_deg, now_ns

    def clear(self) -> None:
        self.direction = None

    def expire(self, now_ns: int) -> None:
        if self.active and now_ns - self.since_ns >= self.cfg.stall_clear_s * 1e9:
            self.clear()

    def blocks(self, target_deg: float, heading_deg: float) -> bool:
        """Would a move to target drive towards the blocked side (past the stall point, less the margin)?"""
        if self.direction is None:
            return False
        if self.direction == 0:
            return abs(diff(target_deg, heading_deg)) > self.cfg.stall_margin_deg
        towards = self.direction * (target_deg - heading_deg) > 0
        beyond = self.direction * (target_deg - self.at_deg) > -self.cfg.stall_margin_deg
        return towards and beyond

    def describe(self) -> str:
        side = {1: "counter-clockwise", -1: "clockwise", 0: "either way"}[self.direction]
        return (f"stalled at {self.at_deg:.0f} deg turning {side}: not driving that way again until cleared "
                f"(hand turn, new range of motion, or {self.cfg.stall_clear_s:.0f} s)")


class TimedHolds:
    """Holds that last a while after an event (ambiguous or out-of-range sound, a recent hand turn)."""

    def __init__(self):
        self._until: dict[str, tuple[int, str]] = {}

    def set(self, name: str, reason: str, until_ns: int) -> None:
        self._until[name] = (until_ns, reason)

    def clear(self, name: str) -> None:
        self._until.pop(name, None)

    def active(self, now_ns: int) -> list[Hold]:
        for name in [n for n, (u, _) in self._until.items() if now_ns >= u]:
            del self._until[name]
        return [Hold(n, r) for n, (_, r) in self._until.items()]

    def remaining_s(self, name: str, now_ns: int) -> float:
        until = self._until.get(name, (0, ""))[0]
        return max(0.0, (until - now_ns) / 1e9)


def ordered(holds: list[Hold]) -> list[Hold]:
    return sorted(holds, key=lambda h: RULES.index(h.name) if h.name in RULES else len(RULES))
