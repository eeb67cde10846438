"""Goal filter: turns `motor.goal` messages into MCU commands within the service's limits; the dead man's switch."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .config import MotorConfig

WIRE_STEP = 0.01        # the link carries centidegrees; the smallest nonzero speed or acceleration it can say


def wire_round(x: float) -> float:
    """x to the nearest 0.01, as the link encodes it."""
    return round(x, 2)


def wire_up(x: float) -> float:
    """The smallest 0.01 step at or above x (a lower limit rounded inward).

    round(x, 2) first and one step up only when that fell below x: ceil(x * 100) / 100 can land one ulp
    below x, because x * 100 is itself rounded."""
    r = round(x, 2)
    return r if r >= x else round(r + WIRE_STEP, 2)


def wire_down(x: float) -> float:
    """The largest 0.01 step at or below x (an upper limit rounded inward)."""
    r = round(x, 2)
    return r if r <= x else round(r - WIRE_STEP, 2)


def wire_rate(x: float) -> float:
    """A positive speed or acceleration for the wire: never 0, which the MCU reads as "use your limit"."""
    return max(round(x, 2), WIRE_STEP)


@dataclass(frozen=True)
class Command:
    """One command for the MCU link: kind is move | stop | hold | release | limits | home | clear_fault."""
    kind: str
    args: tuple = ()


@dataclass
class GoalFilter:
    """Pure decision logic (no I/O), driven by the service loop.

    - Clamps every goal to the configured range of motion, speed and acceleration (the policy's own
      ROM narrows it further; the firmware clamps once more).
    - Rounds for the wire without leaving those limits: the range inward to 0.01 degree and the target
      clamped into it after rounding; speeds and accelerations at least 0.01, since 0 means "the MCU's
      limit" (device/policy/envelope.py proves both).
    - Sends a command only when what is wanted differs from what was last sent: goals are republished
      at 10 Hz and resending would restart moves and clear stall latches.
    - Dead man's switch: when neither a fresh goal nor a policy heartbeat arrived for
      `deadman_timeout_s`, it stops the motor once and stays stopped until a fresh goal.
    """
    cfg: MotorConfig
    goal_seq: int = -1
    last_goal_s: float = float("-inf")
    wanted_action: Command | None = None
    wanted_limits: Command | None = None
    sent_action: Command | None = None
    sent_limits: Command | None = None
    deadman: bool = False
    clamped: bool = False
    bad_goals: int = 0
    deadman_trips: int = 0

    def on_goal(self, goal, now_s: float) -> bool:
        """Take a MotorGoal; returns False (and counts it) when it cannot be used."""
        numbers = (goal.target_deg, goal.max_speed_dps, goal.max_accel_dps2, goal.rom_min_deg, goal.rom_max_deg)
        if not all(math.isfinite(x) for x in numbers) or goal.max_speed_dps <= 0 or goal.max_accel_dps2 <= 0:
            self.bad_goals += 1
            return False
        lo = max(self.cfg.rom_min_deg, min(goal.rom_min_deg, goal.rom_max_deg))
        hi = min(self.cfg.rom_max_deg, max(goal.rom_min_deg, goal.rom_max_deg))
        if lo > hi:                                   # the policy's ROM lies outside ours entirely
            self.bad_goals += 1
            return False
        wire_lo, wire_hi = wire_up(lo), wire_down(hi)
        if wire_lo > wire_hi:                         # no 0.01 step inside a range this narrow
            self.bad_goals += 1
            return False
        self.goal_seq = goal.seq
        self.last_goal_s = now_s
        self.deadman = False
        self.wanted_limits = Command("limits", (wire_lo, wire_hi, wire_rate(self.cfg.max_speed_dps),
                                                wire_rate(self.cfg.max_accel_dps2)))
        if goal.mode == "move":
            target = min(max(goal.target_deg, lo), hi)
            self.clamped = target != goal.target_deg
            speed = min(goal.max_speed_dps, self.cfg.max_speed_dps)
            accel = min(goal.max_accel_dps2, self.cfg.max_accel_dps2)
            wire_target = min(max(wire_round(target), wire_lo), wire_hi)
            self.wanted_action = Command("move", (wire_target, wire_rate(speed), wire_rate(accel)))
        else:
            self.clamped = False
            self.wanted_action = Command(goal.mode)
        return True

    def resync(self) -> None:
        """The MCU restarted or the link came back: send limits and the present goal again."""
        self.sent_action = None
        self.sent_limits = None

    def due(self, now_s: float, policy_alive: bool) -> list[Command]:
        """Commands to send now, in order."""
        out: list[Command] = []
        fresh = now_s - self.last_goal_s <= self.cfg.deadman_timeout_s
        if not fresh and not policy_alive:
            self.deadman = True
            if self.sent_action is not None and self.sent_action.kind not in ("stop", "release"):
                self.deadman_trips += 1
                out.append(Command("stop"))
                self.sent_action = Command("stop")
            return out
        if self.wanted_limits is not None and self.wanted_limits != self.sent_limits:
            out.append(self.wanted_limits)
            self.sent_limits = self.wanted_limits
        if self.wanted_action is not None and self.wanted_action != self.sent_action and not self.deadman:
            out.append(self.wanted_action)
            self.sent_action = self.wanted_action
        return out
