"""A sound's track over its utterance (ssl.doa `track`) in world azimuth: did the talker walk, and where did they end?"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from .angles import diff, to_world, wrap


@dataclass(frozen=True)
class Walk:
    """What a track says about its talker (world azimuths).

    `steady`: neighbouring points never jump by more than the jump limit, so the track is one source
    moving (or standing); a track that jumps back and forth is two sources taking turns, not a walk.
    `moved_deg` is signed (counter-clockwise positive); `lo_deg`..`hi_deg` is the stretch it covered,
    counter-clockwise from lo.
    """
    start_deg: float
    end_deg: float
    moved_deg: float
    steady: bool
    end_t_ns: int
    lo_deg: float
    hi_deg: float
    points: int

    @property
    def direction(self) -> int:
        return (self.moved_deg > 0) - (self.moved_deg < 0)

    def covers(self, deg: float, margin_deg: float) -> bool:
        """Does a direction lie on the stretch the talker walked (within margin)?"""
        return diff(deg, self.lo_deg) >= -margin_deg and diff(self.hi_deg, deg) >= -margin_deg


def _median3(xs: list[float]) -> list[float]:
    if len(xs) < 3:
        return list(xs)
    return [xs[0]] + [sorted(xs[i - 1: i + 2])[1] for i in range(1, len(xs) - 1)] + [xs[-1]]


def world_track(points: Iterable, heading_at: Callable[[int], Optional[float]],
                min_confidence: float) -> list[tuple[int, float]]:
    """(t_ns, world azimuth) of each confident point, converted with the heading at its own capture time."""
    out = []
    for p in points:
        if p.confidence < min_confidence:
            continue
        h = heading_at(p.t_ns)
        if h is not None:
            out.append((p.t_ns, to_world(p.azimuth_deg, h)))
    out.sort()
    return out


END_POINTS = 6               # the walk's end is a straight line through this many last points...
END_AHEAD_S = 0.4            # ...carried on to the end of the utterance, at most this far past the last one


def walk_of(track: list[tuple[int, float]], jump_deg: float, end_ns: int = 0) -> Optional[Walk]:
    """Summarize a world track; None when it has too few points to say anything (fewer than 3).
    end_ns: when the utterance ended (its last window's middle is earlier: the end is carried on to it)."""
    if len(track) < 3:
        return None
    # unwrap across +-180 so that a walk through the back of the room is one stretch
    un = [track[0][1]]
    for _, d in track[1:]:
        un.append(un[-1] + diff(d, un[-1]))
    smooth = _median3(un)                                  # one stray window is not a jump
    steady = all(abs(b - a) <= jump_deg for a, b in zip(smooth, smooth[1:]))
    k = min(3, len(smooth))
    start = sorted(smooth[:k])[k // 2]
    # where it ended: a line through the last points (no lag behind a walker, unlike a median), at the
    # end of the utterance
    m = min(END_POINTS, len(smooth))
    ts = [(t - track[-1][0]) / 1e9 for t, _ in track[-m:]]
    ys = smooth[-m:]
    t_mean, y_mean = sum(ts) / m, sum(ys) / m
    var = sum((t - t_mean) ** 2 for t in ts)
    slope = sum((t - t_mean) * (y - y_mean) for t, y in zip(ts, ys)) / var if var > 0 else 0.0
    ahead = min(max(0.0, (end_ns - track[-1][0]) / 1e9), END_AHEAD_S) if end_ns else 0.0
    end = y_mean + slope * (ahead - t_mean)
    if not min(ys) - jump_deg <= end <= max(ys) + jump_deg:
        end = sorted(ys[-k:])[k // 2]                  # a wild fit: the plain median of the last points
    return Walk(start_deg=wrap(start), end_deg=wrap(end), moved_deg=end - start, steady=steady,
                end_t_ns=track[-1][0] + int(ahead * 1e9), lo_deg=wrap(min(smooth + [end])),
                hi_deg=wrap(max(smooth + [end])), points=len(track))
