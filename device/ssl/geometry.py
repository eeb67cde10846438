"""Microphone array geometry as data: load a preset or a TOML file into an ArrayGeometry."""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

SPEED_OF_SOUND_M_S = 343.0
PRESET_DIR = Path(__file__).parent / "arrays"


@dataclass(frozen=True)
class ArrayGeometry:
    """Mic positions (metres, device frame: x = screen normal, y = left, z = up) and the sample rate.

    `channel_map[i]` is the capture channel that carries mic i, and `capture_channels` the number of
    channels the input device delivers (a ReSpeaker USB board adds processed and playback channels).
    """
    name: str
    sample_rate: int
    positions: np.ndarray            # (M, 3)
    channel_map: tuple[int, ...]
    capture_channels: int

    @property
    def n_mics(self) -> int:
        return self.positions.shape[0]

    @property
    def center(self) -> np.ndarray:
        return self.positions.mean(axis=0)

    @property
    def radius(self) -> float:
        """Largest horizontal distance of a mic from the array centre."""
        d = self.positions[:, :2] - self.center[:2]
        return float(np.max(np.hypot(d[:, 0], d[:, 1])))

    def pairs(self) -> list[tuple[int, int]]:
        return [(i, j) for i in range(self.n_mics) for j in range(i + 1, self.n_mics)]

    def max_delay_s(self) -> float:
        """Largest possible time difference of arrival between any two mics."""
        p = self.positions
        return float(max(np.linalg.norm(p[i] - p[j]) for i, j in self.pairs())) / SPEED_OF_SOUND_M_S

    def far_field_delays(self, azimuth_deg: np.ndarray, elevation_deg: float = 0.0) -> np.ndarray:
        """Arrival time of a plane wave at each mic relative to the array centre, shape (A, M), seconds.

        A source at azimuth a sends a wave travelling along -u(a); mics closer to the source hear it
        first, so the delay is -(p . u) / c.
        """
        az = np.radians(np.asarray(azimuth_deg, dtype=float))
        el = math.radians(elevation_deg)
        u = np.stack([np.cos(az) * math.cos(el), np.sin(az) * math.cos(el),
                      np.full_like(az, math.sin(el))], axis=-1)
        rel = self.positions - self.center
        return -(u @ rel.T) / SPEED_OF_SOUND_M_S

    def select_mics(self, block: np.ndarray) -> np.ndarray:
        """Pick the mic channels (in mic order) out of a captured block of shape (n, capture_channels)."""
        if block.shape[1] == self.n_mics and self.capture_channels == self.n_mics:
            return block
        return block[:, list(self.channel_map)]


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_array(name_or_path: str | Path) -> ArrayGeometry:
    """A preset name (e.g. "respeaker4") or a path to a TOML geometry file; UserError if unusable."""
    text = str(name_or_path)
    path = Path(text)
    if not path.suffix and (PRESET_DIR / f"{text}.toml").exists():
        path = PRESET_DIR / f"{text}.toml"
    if not path.exists():
        raise UserError(f"no array preset or geometry file {text!r} (presets: {', '.join(preset_names())})")
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"cannot read array geometry {path}: {exc}") from None
    return parse_array(data, source=str(path))


def parse_array(data: dict, source: str = "array geometry") -> ArrayGeometry:
    """Validate the decoded TOML table of an array and build the geometry."""
    rate = data.get("sample_rate")
    if not isinstance(rate, int) or not 8000 <= rate <= 192000:
        raise UserError(f"{source}: sample_rate must be an integer between 8000 and 192000, got {rate!r}")
    mics = data.get("mics")
    if not isinstance(mics, list) or len(mics) < 3:
        raise UserError(f"{source}: needs at least 3 [[mics]] entries with x, y, z in metres")
    positions, channels = [], []
    for i, mic in enumerate(mics):
        try:
            xyz = [float(mic[k]) for k in ("x", "y", "z")]
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{source}: mic {i + 1} needs numeric x, y and z (metres)") from None
        if max(abs(v) for v in xyz) > 1.0:
            raise UserError(f"{source}: mic {i + 1} is more than 1 m from the origin; positions are in metres")
        positions.append(xyz)
        channels.append(int(mic.get("channel", i)))
    pos = np.array(positions)
    capture = int(data.get("capture_channels", len(mics)))
    if len(set(channels)) != len(channels) or min(channels) < 0 or max(channels) >= capture:
        raise UserError(f"{source}: mic channels {channels} must be distinct and below capture_channels={capture}")
    spread = pos[:, :2] - pos[:, :2].mean(axis=0)
    if np.linalg.matrix_rank(spread, tol=1e-4) < 2:
        raise UserError(f"{source}: the mics must span a plane (a line array cannot tell front from back)")
    for i in range(len(pos)):
        for j in range(i + 1, len(pos)):
            if np.linalg.norm(pos[i] - pos[j]) < 1e-3:
                raise UserError(f"{source}: mics {i + 1} and {j + 1} are at the same place")
    return ArrayGeometry(name=str(data.get("name", Path(source).stem)), sample_rate=rate, positions=pos,
                         channel_map=tuple(channels), capture_channels=capture)
