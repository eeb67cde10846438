"""Loudspeaker driver layout as data: load a preset or a TOML file into a DriverLayout (like the mic arrays)."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

PRESET_DIR = Path(__file__).parent / "drivers"
STEREO_ROLES = ("L", "R", "M")          # what a driver plays in plain stereo: left, right, or their mean


@dataclass(frozen=True)
class DriverLayout:
    """Driver positions (metres, device frame: x = screen normal, y = left, z = up), facings and bypass roles.

    `stereo[i]` is what driver i plays in plain stereo (bypass): "L", "R" or "M" = (L + R) / 2. The
    device's right side (y < 0) is the left of a listener facing the screen, so it carries L.
    """
    name: str
    sample_rate: int
    positions: np.ndarray            # (N, 3)
    facing_deg: tuple[float, ...]
    stereo: tuple[str, ...]

    @property
    def n_drivers(self) -> int:
        return self.positions.shape[0]

    def bypass_matrix(self) -> np.ndarray:
        """(N, 2) gains from (L, R) to each driver in plain stereo: exact 0, 0.5 and 1 values."""
        m = np.zeros((self.n_drivers, 2))
        for i, role in enumerate(self.stereo):
            m[i] = {"L": (1.0, 0.0), "R": (0.0, 1.0), "M": (0.5, 0.5)}[role]
        return m


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_drivers(name_or_path: str | Path) -> DriverLayout:
    """A preset name (e.g. "cyl2") or a path to a TOML layout file; UserError if unusable."""
    text = str(name_or_path)
    path = Path(text)
    if not path.suffix and (PRESET_DIR / f"{text}.toml").exists():
        path = PRESET_DIR / f"{text}.toml"
    if not path.is_file():
        raise UserError(f"no driver preset or layout file {text!r} (presets: {', '.join(preset_names())})")
    try:
        source = path.read_text()
        data = tomllib.loads(source)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"cannot read driver layout {path}: {exc}") from None
    return parse_drivers(data, origin=str(path), text=source)


def _line_of_driver(text: str, index: int) -> str:
    """' line N' of the index-th [[drivers]] header in the TOML text, or '' when it cannot be found."""
    lines = [n for n, raw in enumerate(text.splitlines(), 1) if re.match(r"\s*\[\[\s*drivers\s*\]\]", raw)]
    return f" line {lines[index]}" if index < len(lines) else ""


def parse_drivers(data: dict, origin: str = "driver layout", text: str = "") -> DriverLayout:
    """Validate the decoded TOML table of a layout and build it; errors name the driver and its line."""
    rate = data.get("sample_rate", 48000)
    if not isinstance(rate, int) or not 8000 <= rate <= 192000:
        raise UserError(f"{origin}: sample_rate must be an integer between 8000 and 192000, got {rate!r}")
    drivers = data.get("drivers")
    if not isinstance(drivers, list) or len(drivers) < 2:
        raise UserError(f"{origin}: needs at least 2 [[drivers]] entries with x, y, z in metres")
    if len(drivers) > 16:
        raise UserError(f"{origin}: at most 16 drivers, got {len(drivers)}")
    positions, facings, roles = [], [], []
    for i, d in enumerate(drivers):
        where = f"{origin}{_line_of_driver(text, i)}: driver {i + 1}"
        if not isinstance(d, dict):
            raise UserError(f"{where}: must be a table with x, y, z")
        try:
            xyz = [float(d[k]) for k in ("x", "y", "z")]
        except KeyError as exc:
            raise UserError(f"{where}: missing {exc.args[0]} (metres)") from None
        except (TypeError, ValueError):
            raise UserError(f"{where}: x, y and z must be numbers (metres)") from None
        if max(abs(v) for v in xyz) > 1.0:
            raise UserError(f"{where}: more than 1 m from the origin; positions are in metres")
        facing = d.get("facing_deg", float(np.degrees(np.arctan2(xyz[1], xyz[0]))))
        if not isinstance(facing, (int, float)) or isinstance(facing, bool):
            raise UserError(f"{where}: facing_deg must be a number of degrees, got {facing!r}")
        role = d.get("stereo", "L" if xyz[1] < -1e-3 else "R" if xyz[1] > 1e-3 else "M")
        if role not in STEREO_ROLES:
            raise UserError(f"{where}: stereo must be one of {', '.join(STEREO_ROLES)}, got {role!r}")
        unknown = sorted(set(d) - {"x", "y", "z", "facing_deg", "stereo"})
        if unknown:
            raise UserError(f"{where}: unknown key {unknown[0]!r} (keys: x, y, z, facing_deg, stereo)")
        positions.append(xyz)
        facings.append(float(facing))
        roles.append(role)
    pos = np.array(positions)
    for i in range(len(pos)):
        for j in range(i + 1, len(pos)):
            if np.linalg.norm(pos[i] - pos[j]) < 1e-3:
                raise UserError(f"{origin}: drivers {i + 1} and {j + 1} are at the same place")
    if "L" not in roles and "M" not in roles or "R" not in roles and "M" not in roles:
        raise UserError(f"{origin}: plain stereo needs a driver playing L and one playing R (or M)")
    return DriverLayout(name=str(data.get("name", Path(origin).stem)), sample_rate=rate, positions=pos,
                        facing_deg=tuple(facings), stereo=tuple(roles))
