"""The decision rule: routine moves against the reference signature, pooled over the last few moves, per fault kind.

Pure and shared by the health service and the bench. Each kind has one statistic, in degrees (or percent
of travel for slip), that grows with that fault and stays near 0 on a healthy turntable; a kind is raised
when its statistic, pooled over the last `pool` moves, reaches its threshold. The thresholds come from
healthy runs only (`thresholds_from_healthy`): the seed's idea, a threshold set by the false-alarm budget.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Optional

from .features import Move, sector_of
from .reference import Reference

KINDS = ("slip", "snag", "friction", "sensor_offset", "backlash", "sensor_noise")
MIN_SLIP_TRAVEL_DEG = 10.0    # on a shorter move the sensor's count is a large share of the travel
MIN_POOLED = 3                # a kind needs this many moves with its statistic before it can be raised
BIN_DEG = 5.0                 # where a snag is: a snag spans a few degrees, a 20 ms window ~1.6 degrees at 80 deg/s
BACKLASH_PER_LAG = 1.85      # reversal reading / lag each way: a band reads ~2.0, friction ~1.7 (measured in simavr)
WIDE_BINS = 4                 # excess over this many bins (20 degrees) is a stiff sector (friction), not a snag
# Below these the statistic is within the sensor's resolution (one count is 0.35 degree): no threshold is
# set lower, however quiet the healthy runs were (their sensor noise is exactly 0 in simulation).
FLOORS = {"slip": 0.2, "snag": 0.05, "friction": 0.05, "sensor_offset": 0.1, "backlash": 0.1, "sensor_noise": 0.1}


def bin_of(angle_deg: float) -> int:
    return int(math.floor(angle_deg / BIN_DEG))


def bin_centre(b: int) -> float:
    return (b + 0.5) * BIN_DEG


@dataclass
class MoveStats:
    """One move's deviation from the reference, per kind (None: this move says nothing about that kind)."""
    direction: int
    lag_dev: Optional[float] = None           # reference lag - this move's lag (positive = lags more)
    bin_excess: dict[int, float] = field(default_factory=dict)   # 5-degree bin -> lag beyond lag_dev
    offset_dev: Optional[float] = None        # err while moving - the reference's (positive = reads ahead)
    rest_dev: Optional[float] = None          # rest error after the move - the reference's
    slip_pct: Optional[float] = None          # lag gained along the move, percent of its travel (positive = slips)
    backlash_dev: Optional[float] = None
    noise_dev: Optional[float] = None         # rest spread - the reference's
    diag_ms: int = 0


def move_stats(m: Move, ref: Reference) -> Optional[MoveStats]:
    """What a finished move says, against the reference (None for a move that is no evidence at all)."""
    if m.tainted or m.direction == 0:
        return None
    st = MoveStats(direction=m.direction, diag_ms=m.diag_ms)
    if m.samples:
        devs = [(a, ref.lag_at(sector_of(a), m.direction) - lag) for a, lag in m.samples]
        st.lag_dev = sum(d for _, d in devs) / len(devs)
        st.offset_dev = -st.lag_dev * m.direction            # lag is err along the motion: err = lag x direction
        bins: dict[int, list[float]] = {}
        for a, d in devs:
            bins.setdefault(bin_of(a), []).append(d - st.lag_dev)     # local: the move's own level taken out
        st.bin_excess = {k: sum(v) / len(v) for k, v in bins.items()}
    if m.rest_after is not None:
        st.rest_dev = m.rest_after - ref.rest_err_deg
        st.noise_dev = m.rest_spread - ref.rest_spread_deg
    if m.travel_deg >= MIN_SLIP_TRAVEL_DEG and len(m.samples) >= 8:
        st.slip_pct = slip_slope_pct(m)
    if m.backlash_deg is not None:
        st.backlash_dev = m.backlash_deg - ref.backlash_deg
    return st


def slip_slope_pct(m: Move) -> float:
    """How fast the lag grows along the move, percent of the distance travelled (a slipping belt loses a share of
    every step, so the table falls further behind the further it goes; friction or backlash hold a constant lag).
    Least squares of lag on distance, over the windows of the middle of the move (its start and end accelerate)."""
    a0 = m.samples[0][0]
    pts = [((a - a0) * m.direction, lag) for a, lag in m.samples]
    n = len(pts)
    pts = pts[n // 6: n - n // 6] if n >= 12 else pts
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx <= 0:
        return 0.0
    return -100.0 * sum((x - mx) * (y - my) for x, y in pts) / sxx


def _mean(xs) -> Optional[float]:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if len(xs) >= MIN_POOLED else None


def _balanced(stats: list[MoveStats], key) -> Optional[float]:
    """The mean of each direction's mean: a sensor offset reads +x one way and -x the other in a lag, so it
    cancels here, while a real lag (friction) counts both ways."""
    plus = [key(s) for s in stats if s.direction > 0 and key(s) is not None]
    minus = [key(s) for s in stats if s.direction < 0 and key(s) is not None]
    if len(plus) + len(minus) < MIN_POOLED:
        return None
    if plus and minus:
        return (sum(plus) / len(plus) + sum(minus) / len(minus)) / 2
    return None


def pooled(stats: list[MoveStats]) -> tuple[dict[str, Optional[float]], dict[int, float]]:
    """Each kind's statistic over these moves, and the excess lag in each 5-degree bin beyond the move's own (both
    ways together: the bins go by the table's measured angle, so a snag shows in the same bins either way)."""
    friction = _balanced(stats, lambda s: s.lag_dev)
    by_bin: dict[int, list[float]] = {}
    for s in stats:
        for k, v in s.bin_excess.items():
            by_bin.setdefault(k, []).append(v)
    # A bin counts once two moves went through it: one move's excess there may be the sensor's count.
    excess = {k: sum(v) / len(v) for k, v in by_bin.items() if len(v) >= 2}
    snag = max(excess.values()) if len(excess) >= 3 else None
    # A shifted magnet reads the same error both ways; a lag reads opposite ways. Moving windows dither over the
    # sensor's 0.35-degree count, so their mean resolves an offset far finer than the error at rest does.
    offset = _balanced(stats, lambda s: s.offset_dev)
    offset = abs(offset) if offset is not None else None
    return {
        "slip": _mean(s.slip_pct for s in stats),
        "snag": snag,
        "friction": friction,
        "sensor_offset": offset,
        "backlash": _mean(s.backlash_dev for s in stats),
        "sensor_noise": _mean(s.noise_dev for s in stats),
    }, excess


@dataclass
class Verdict:
    """The detector's view after a move."""
    ratios: dict[str, float]                  # statistic / threshold per kind (>= 1: raised)
    kind: Optional[str]                       # the probable kind, None when nothing is raised
    angle_deg: Optional[float]                # where it applies (a snag, a stiff sector)
    sector_scores: dict[int, float]           # 1 = like the reference, 0 = twice the threshold or worse
    moves: int                                # moves pooled

    @property
    def worst(self) -> float:
        return max(self.ratios.values(), default=0.0)


class Detector:
    """Keeps the last `pool` moves' statistics and says, after each, whether a kind is raised and which."""

    def __init__(self, ref: Reference, thresholds: dict[str, float], pool: int = 8):
        missing = [k for k in KINDS if not thresholds.get(k, 0) > 0]
        if missing:
            raise ValueError(f"thresholds missing or not positive for {', '.join(missing)}")
        self.ref = ref
        self.thresholds = dict(thresholds)
        self.recent: deque[MoveStats] = deque(maxlen=pool)
        self.moves = 0

    def add(self, m: Move) -> Optional[Verdict]:
        st = move_stats(m, self.ref)
        if st is None:
            return None
        self.recent.append(st)
        self.moves += 1
        return self.verdict()

    def verdict(self) -> Verdict:
        values, excess = pooled(list(self.recent))
        ratios = {k: max(0.0, v) / self.thresholds[k] for k, v in values.items() if v is not None}
        kind = classify(ratios, values)
        angle = None
        if kind in ("snag", "friction") and excess:
            peak = max(excess, key=excess.get)
            if excess[peak] >= self.thresholds["snag"]:
                # How wide: a snag is a few degrees; a stiff bearing sector is tens (named friction, at its middle).
                lo = hi = peak                            # the run of bins around the peak above half of it
                while excess.get(lo - 1, 0.0) >= excess[peak] / 2:
                    lo -= 1
                while excess.get(hi + 1, 0.0) >= excess[peak] / 2:
                    hi += 1
                hot = list(range(lo, hi + 1))
                if kind == "snag" and len(hot) >= WIDE_BINS:
                    kind = "friction"
                angle = bin_centre(peak) if kind == "snag" else bin_centre(round(sum(hot) / len(hot)))
        scale = 2.0 * self.thresholds["snag"]
        worst: dict[int, float] = {}
        for b, v in excess.items():
            sec = sector_of(bin_centre(b))
            worst[sec] = max(worst.get(sec, 0.0), v)
        scores = {k: round(max(0.0, 1.0 - max(0.0, v) / scale), 3) for k, v in worst.items()}
        return Verdict(ratios, kind, angle, scores, len(self.recent))


def classify(ratios: dict[str, float], values: Optional[dict[str, Optional[float]]] = None) -> Optional[str]:
    """The probable kind: the raised statistic furthest past its threshold, with two corrections for faults that
    move more than one statistic.

    - A belt that slips lags more and more along each move, and leaves the error drifting (read as a lag and an
      offset too): only slip makes the lag grow with the travel, so slip wins over friction, backlash and offset.
    - A shifted magnet seen over moves some of which were before the shift leaks into the lag each way (friction);
      but it always shows at least as much in the offset (same units, degrees), and friction shows none there.
    """
    raised = {k: r for k, r in ratios.items() if r >= 1.0}
    if not raised:
        return None
    if "slip" in raised:                      # only a slipping belt makes the lag grow along a move
        for other in ("sensor_offset", "friction", "backlash"):
            raised.pop(other, None)
    if "friction" in raised and values is not None:
        off, fr = values.get("sensor_offset") or 0.0, values.get("friction") or 0.0
        if off >= fr:                         # the lag each way is mostly one sign: a shifted magnet
            raised.pop("friction")
            raised["sensor_offset"] = max(ratios.get("sensor_offset", 0.0), 1.0)
        else:
            raised.pop("sensor_offset", None)
    if "friction" in raised and "backlash" in raised and values is not None:
        # A dead band of 2f lags like a friction f both ways; but at a reversal friction breaks away sooner (the belt's
        # damping helps it), so its reading is under twice its lag, a band's about twice (BACKLASH_PER_LAG).
        bl, fr = values.get("backlash") or 0.0, values.get("friction") or 0.0
        raised.pop("friction" if bl >= BACKLASH_PER_LAG * fr else "backlash")
    return max(raised, key=raised.get)


def thresholds_from_healthy(pooled_values: dict[str, list[float]], budget_per_move: float,
                            tail: float = 0.1) -> dict[str, float]:
    """Per kind, the pooled statistic a healthy turntable exceeds on at most budget / len(KINDS) of its moves.

    Few healthy moves cannot show a 1-in-6,000 event, so the upper tail is extrapolated: an exponential fitted to
    the top `tail` share (peaks over a threshold, as for rare events), and never below the largest healthy value
    seen. Values are the pooled statistics after each healthy move (`pooled`)."""
    per_kind = budget_per_move / len(KINDS)
    out = {}
    for k in KINDS:
        xs = sorted(x for x in pooled_values.get(k, []) if x is not None and math.isfinite(x))
        if len(xs) < 20:
            raise ValueError(f"{k}: only {len(xs)} healthy values; need at least 20 to set a threshold")
        u = xs[int((1.0 - tail) * len(xs))]
        over = [x - u for x in xs if x > u]
        beta = max(sum(over) / len(over) if over else 0.0, 1e-3)
        t = u + beta * math.log(tail / per_kind)
        out[k] = round(max(t, xs[-1] * 1.05, FLOORS[k]), 4)
    return out
