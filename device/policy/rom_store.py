"""Where the range of motion is stored between restarts (a small TOML file), and how it is read and written safely."""
from __future__ import annotations

import tempfile
import tomllib
from pathlib import Path
from typing import Optional

import msgspec

from ..config import describe_validation_error, locate_key
from ..errors import UserError
from ..runtime.atomic import state_path, write_atomic
from .config import Azimuth

FILE_NAME = "rom.toml"


class RomStateError(UserError):
    """The stored range of motion is unreadable or invalid; the message names the file, line and key."""


class StoredRom(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    min_deg: Azimuth
    max_deg: Azimuth
    source: str = "api"              # api | hand

    def __post_init__(self):
        if self.min_deg >= self.max_deg:
            raise ValueError("min_deg must be smaller than max_deg")


def default_state_path() -> Path:
    """The range-of-motion file in the state directory (runtime.atomic.state_path)."""
    return state_path(FILE_NAME)


def resolve_state_path(configured: str) -> Path:
    return Path(configured).expanduser() if configured else default_state_path()


def load(path: Path) -> Optional[StoredRom]:
    """The stored range, None when nothing was stored yet. Raises RomStateError for a bad file."""
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None                      # nothing stored (check_writable says if it never can be)
    except OSError as exc:
        raise RomStateError(f"range-of-motion state {path} cannot be read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RomStateError(f"range-of-motion state {path}: not valid TOML: {exc}") from None
    try:
        return msgspec.convert(data, StoredRom)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if "$" not in message and "unknown field" not in message:
            # A check across keys: point at min_deg, where the user would look first.
            line = locate_key(text, ["min_deg"])
            where = f"{path} line {line}" if line else str(path)
            raise RomStateError(f"range-of-motion state {where}: min_deg/max_deg: {message}") from None
        raise RomStateError("range-of-motion state " + describe_validation_error(message, text, str(path))) from None


def check_writable(path: Path) -> Optional[str]:
    """None when the state file can be written, else a one-line explanation (the service keeps running)."""
    hint = "(set policy.state_file, or STATE_DIRECTORY)"
    blocking = next((p for p in [path.parent, *path.parent.parents] if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        what = "it" if blocking == path.parent else str(blocking)
        return f"range of motion cannot be stored in {path.parent}: {what} is not a directory {hint}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".rom-probe-"):
            pass
    except OSError as exc:
        return f"range of motion cannot be stored in {path.parent}: {exc.strerror or exc} {hint}"
    return None


def save(path: Path, rom: StoredRom) -> None:
    """Write atomically (temp file, fsync, rename) so a power cut never leaves half a file. Raises OSError."""
    text = ("# Range of motion of the turntable (world azimuth, degrees), written by the swivel policy service.\n"
            f"min_deg = {rom.min_deg:.1f}\nmax_deg = {rom.max_deg:.1f}\nsource = \"{rom.source}\"\n")
    write_atomic(path, text, prefix=".rom-")
