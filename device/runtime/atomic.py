"""State files: where they live, and writing one atomically (temp file, fsync, rename) so a power cut never leaves half."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def state_path(file_name: str) -> Path:
    """$STATE_DIRECTORY (systemd StateDirectory=, first entry), else $XDG_STATE_HOME/swivel, else /var/lib/swivel."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0]) / file_name
    if os.environ.get("XDG_STATE_HOME"):
        return Path(os.environ["XDG_STATE_HOME"]) / "swivel" / file_name
    return Path("/var/lib/swivel") / file_name


def write_atomic(path: Path, data: bytes | str, prefix: str = ".swivel-") -> None:
    """Replace `path` with `data` in one step; the folder is made if missing. Raises OSError."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
