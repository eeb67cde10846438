"""Per-move features of the turntable from its motor.health windows: lag by angle sector, rest error, spread, backlash, settling.

Pure: fed one window at a time (anything with MotorHealth's fields), it returns each finished move. The
health service, the reference sweep and the bench (tools/bench/bench_health.py) all use this code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

SECTOR_DEG = 10.0
N_SECTORS = int(360 / SECTOR_DEG)
MIN_CRUISE_DPS = 2.0          # a window slower than this is starting or stopping: its sign of motion is unsure
REST_SKIP_WINDOWS = 5         # 100 ms after the last step: the table is still settling, not at rest
REST_KEEP_WINDOWS = 60        # a move's record closes 1.2 s after it stopped (or when the next one starts)


def sector_of(angle_deg: float) -> int:
    """Which SECTOR_DEG-wide sector of -180..180 an angle falls in."""
    a = (angle_deg + 180.0) % 360.0
    return min(N_SECTORS - 1, int(a // SECTOR_DEG))


def sector_centre(sector: int) -> float:
    return -180.0 + (sector + 0.5) * SECTOR_DEG


@dataclass
class Move:
    """What one move showed. err = measured - commanded; lag = err along the motion (negative = behind)."""
    start_deg: float
    end_deg: float = 0.0
    direction: int = 0                                   # +1 counter-clockwise, -1 clockwise
    reversed: bool = False                               # the other way from the move before it
    samples: list[tuple[float, float]] = field(default_factory=list)   # (measured angle, lag) of each window
    lag_sum: dict[int, float] = field(default_factory=dict)     # sector -> sum of window lags
    lag_n: dict[int, int] = field(default_factory=dict)
    margin_min: dict[int, float] = field(default_factory=dict)  # sector -> least stall margin
    move_spread_sum: float = 0.0                         # err_max - err_min of the moving windows
    move_windows: int = 0
    diag_ms: int = 0
    rest_before: Optional[float] = None                  # mean err at rest just before the move
    rest_after: Optional[float] = None                   # mean err at rest after it
    rest_spread: Optional[float] = None                  # mean err_max - err_min at rest after it
    settle_ms: Optional[int] = None
    backlash_deg: Optional[float] = None                 # the reading taken at this move's reversal
    max_abs_err: float = 0.0                             # largest |err| of the move and its rest (the baseline's figure)
    tainted: bool = False                                # a hand turn, a stall, an MCU restart: not routine

    @property
    def travel_deg(self) -> float:
        return abs(self.end_deg - self.start_deg)

    def lag_mean(self) -> Optional[float]:
        n = sum(self.lag_n.values())
        return sum(self.lag_sum.values()) / n if n else None

    def sector_lags(self) -> dict[int, float]:
        return {s: self.lag_sum[s] / self.lag_n[s] for s in self.lag_sum if self.lag_n[s]}


class MoveTracker:
    """Cuts the stream of 20 ms windows into moves: a move runs from its first step to REST_KEEP_WINDOWS at rest."""

    def __init__(self):
        self.current: Optional[Move] = None
        self.rest_errs: list[float] = []             # err of the rest windows since the last move stopped
        self.rest_spreads: list[float] = []
        self.rest_windows = 0                        # windows at rest since the last step
        self.last_direction = 0
        self.last_commanded: Optional[float] = None
        self.last_mcu_ms: Optional[int] = None
        self.last_settle: Optional[int] = None
        self.windows = 0

    def reset(self) -> None:
        """Forget everything (an MCU restart: its step count starts again)."""
        self.__init__()

    def interrupt(self) -> None:
        """A hand turn or a stall (motor.state): the move under way is no evidence, and neither is the error at
        rest before the next one (the MCU takes its step count from the sensor again on the next move)."""
        if self.current is not None:
            self.current.tainted = True
        self.rest_errs, self.rest_spreads = [], []

    def feed(self, w) -> Optional[Move]:
        """One window; returns a move when one finishes."""
        self.windows += 1
        if self.last_mcu_ms is not None and w.mcu_ms < self.last_mcu_ms:
            self.reset()
            self.windows = 1
        self.last_mcu_ms = w.mcu_ms
        done = None
        moving = bool(w.moving) or w.steps != 0
        if moving:
            if self.current is not None and self.rest_windows > 0:
                done = self._close()                      # the next move began before the last one closed
            if self.current is None:
                self._open(w)
            self._moving_window(w)
            self.rest_windows = 0
        else:
            self.rest_windows += 1
            if self.current is not None and finite(w.err_max_deg) and finite(w.err_min_deg):
                self.current.max_abs_err = max(self.current.max_abs_err, abs(w.err_max_deg), abs(w.err_min_deg))
            if self.rest_windows > REST_SKIP_WINDOWS and finite(w.err_mean_deg):
                self.rest_errs = (self.rest_errs + [w.err_mean_deg])[-REST_KEEP_WINDOWS:]
                self.rest_spreads = (self.rest_spreads + [w.err_max_deg - w.err_min_deg])[-REST_KEEP_WINDOWS:]
            if self.current is not None and self.rest_windows >= REST_KEEP_WINDOWS:
                done = self._close()
            elif self.current is None:
                self.last_settle = w.settle_ms
        self.last_commanded = w.commanded_deg
        self._last = w
        return done

    def flush(self) -> Optional[Move]:
        """Close the move that has stopped but not yet rested its full time (the end of a sweep)."""
        if self.current is not None and self.rest_windows > 0:
            return self._close()
        return None

    def _open(self, w) -> None:
        start = self.last_commanded if self.last_commanded is not None else w.commanded_deg
        m = Move(start_deg=start)
        if len(self.rest_errs) >= 3:
            m.rest_before = sum(self.rest_errs[-10:]) / len(self.rest_errs[-10:])
        self.rest_errs, self.rest_spreads = [], []
        self.current = m

    def _moving_window(self, w) -> None:
        m = self.current
        m.diag_ms += w.diag_ms
        if not (finite(w.err_mean_deg) and finite(w.velocity_dps)):
            return
        m.move_spread_sum += w.err_max_deg - w.err_min_deg
        m.max_abs_err = max(m.max_abs_err, abs(w.err_max_deg), abs(w.err_min_deg))
        m.move_windows += 1
        if abs(w.velocity_dps) < MIN_CRUISE_DPS:
            return
        s = sector_of(w.measured_deg)                     # where the table is (the steps run ahead of it)
        lag = w.err_mean_deg * (1.0 if w.velocity_dps > 0 else -1.0)
        m.samples.append((w.measured_deg, lag))
        m.lag_sum[s] = m.lag_sum.get(s, 0.0) + lag
        m.lag_n[s] = m.lag_n.get(s, 0) + 1
        m.margin_min[s] = min(m.margin_min.get(s, math.inf), w.stall_margin_deg)

    def _close(self) -> Move:
        m, self.current = self.current, None
        w = self._last
        m.end_deg = self.last_commanded
        m.direction = 1 if m.end_deg > m.start_deg else (-1 if m.end_deg < m.start_deg else 0)
        m.reversed = self.last_direction != 0 and m.direction != 0 and m.direction != self.last_direction
        if m.direction:
            self.last_direction = m.direction
        if len(self.rest_errs) >= 3:
            m.rest_after = sum(self.rest_errs) / len(self.rest_errs)
            m.rest_spread = sum(self.rest_spreads) / len(self.rest_spreads)
        if w.settle_ms is not None and self.rest_windows >= REST_KEEP_WINDOWS:
            m.settle_ms = w.settle_ms
        if m.reversed and w.backlash_deg is not None and finite(w.backlash_deg):
            m.backlash_deg = w.backlash_deg
        return m


def finite(x) -> bool:
    return x is not None and math.isfinite(x)
