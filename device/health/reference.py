"""The turntable's reference signature (from a slow sweep at setup), kept as a small JSON file in the state directory."""
from __future__ import annotations

import math
import statistics
import time
from pathlib import Path
from typing import Optional

import msgspec

from ..errors import UserError
from ..runtime.atomic import state_path, write_atomic
from .features import N_SECTORS, Move

FILE_NAME = "health-reference.json"
FORMAT = 1


class ReferenceError(UserError):
    """The stored reference is unreadable or invalid; the message names the file and what is wrong."""


class Reference(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What the healthy turntable looked like when the sweep ran. Angles and errors in degrees."""
    format: int = FORMAT
    created: float = 0.0                              # wall clock, seconds
    rom_min_deg: float = -180.0
    rom_max_deg: float = 180.0
    sweep_speed_dps: float = 0.0
    # Lag = err along the motion (negative = behind), each way on its own: the sensor's error at an angle reads
    # +x one way and -x the other, so only a per-direction reference takes it out of a routine move's lag.
    lag_up_by_sector: dict[int, float] = {}           # sector -> mean lag turning counter-clockwise
    lag_down_by_sector: dict[int, float] = {}         # sector -> mean lag turning clockwise
    lag_spread_by_sector: dict[int, float] = {}       # sector -> standard deviation of the window lags
    margin_by_sector: dict[int, float] = {}           # sector -> least stall margin
    lag_up_deg: float = 0.0                           # over every sector, each way
    lag_down_deg: float = 0.0
    rest_err_deg: float = 0.0                         # error at rest (the sensor's quantisation and mounting)
    rest_spread_deg: float = 0.0                      # err_max - err_min in a window at rest
    backlash_deg: float = 0.0                         # reading at a reversal
    settle_ms: float = 0.0
    diag_ms: int = 0
    moves: int = 0

    def lag_at(self, sector: int, direction: int) -> float:
        if direction > 0:
            return self.lag_up_by_sector.get(sector, self.lag_up_deg)
        return self.lag_down_by_sector.get(sector, self.lag_down_deg)

    @property
    def lag_deg(self) -> float:
        return (self.lag_up_deg + self.lag_down_deg) / 2

    def __post_init__(self):
        if self.format != FORMAT:
            raise ValueError(f"format {self.format} is not {FORMAT}")
        for name in ("lag_up_deg", "lag_down_deg", "rest_err_deg", "rest_spread_deg", "backlash_deg", "settle_ms"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} is not a finite number")
        for table in (self.lag_up_by_sector, self.lag_down_by_sector, self.lag_spread_by_sector, self.margin_by_sector):
            for k, v in table.items():
                if not 0 <= k < N_SECTORS or not math.isfinite(v):
                    raise ValueError(f"sector {k}: {v} is not a sector 0..{N_SECTORS - 1} with a finite value")


def build(moves: list[Move], rom: tuple[float, float], speed_dps: float, now: Optional[float] = None) -> Reference:
    """The reference from the moves of one sweep (out and back over the range: at least two, both ways)."""
    good = [m for m in moves if not m.tainted and m.direction != 0]
    if len({m.direction for m in good}) < 2:
        raise ValueError("the sweep needs moves both ways (it was interrupted, or the range is too narrow)")
    per_dir: dict[int, dict[int, list[float]]] = {1: {}, -1: {}}
    margins: dict[int, float] = {}
    for m in good:
        for s, lag in m.sector_lags().items():
            per_dir[m.direction].setdefault(s, []).append(lag)
        for s, v in m.margin_min.items():
            margins[s] = min(margins.get(s, math.inf), v)
    if not per_dir[1] or not per_dir[-1]:
        raise ValueError("the sweep recorded no motion one way")
    up = {s: round(statistics.fmean(v), 4) for s, v in per_dir[1].items()}
    down = {s: round(statistics.fmean(v), 4) for s, v in per_dir[-1].items()}
    spread = {}
    for s in set(up) | set(down):
        both = per_dir[1].get(s, []) + per_dir[-1].get(s, [])
        spread[s] = round(statistics.pstdev(both), 4) if len(both) > 1 else 0.0
    rest = [m.rest_after for m in good if m.rest_after is not None]
    spreads = [m.rest_spread for m in good if m.rest_spread is not None]
    backlash = [m.backlash_deg for m in good if m.backlash_deg is not None]
    settle = [m.settle_ms for m in good if m.settle_ms is not None]
    return Reference(created=time.time() if now is None else now, rom_min_deg=rom[0], rom_max_deg=rom[1],
                     sweep_speed_dps=speed_dps, lag_up_by_sector=up, lag_down_by_sector=down,
                     lag_spread_by_sector=spread,
                     margin_by_sector={s: round(v, 4) for s, v in margins.items() if math.isfinite(v)},
                     lag_up_deg=round(statistics.fmean(up.values()), 4),
                     lag_down_deg=round(statistics.fmean(down.values()), 4),
                     rest_err_deg=round(statistics.fmean(rest), 4) if rest else 0.0,
                     rest_spread_deg=round(statistics.fmean(spreads), 4) if spreads else 0.0,
                     backlash_deg=round(statistics.median(backlash), 4) if backlash else 0.0,
                     settle_ms=round(statistics.fmean(settle), 1) if settle else 0.0,
                     diag_ms=sum(m.diag_ms for m in good), moves=len(good))


def default_path() -> Path:
    """The reference file in the state directory (runtime.atomic.state_path)."""
    return state_path(FILE_NAME)


def load(path: Path) -> Optional[Reference]:
    """The stored reference, None when there is none yet. Raises ReferenceError (one line) for a bad file."""
    try:
        text = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ReferenceError(f"turntable health reference {path} cannot be read: {exc.strerror}") from None
    try:
        # msgspec reads the sectors' string keys back as numbers and checks every field.
        return msgspec.json.decode(text, type=Reference)
    except msgspec.ValidationError as exc:
        problem = str(exc)
    except msgspec.DecodeError as exc:
        problem = f"not valid JSON ({exc})"
    raise ReferenceError(f"turntable health reference {path}: {problem}; run `swivel health sweep` to record a new one")


def save(path: Path, ref: Reference) -> None:
    """Atomically (temp file, fsync, rename): a power cut never leaves half a reference. Raises OSError."""
    write_atomic(path, msgspec.json.format(msgspec.json.encode(ref), indent=1), prefix=".health-")
