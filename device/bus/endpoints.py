"""Where the bus lives: one runtime directory of ipc:// sockets, one endpoint per publisher."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError


def default_runtime_dir() -> Path:
    """$SWIVEL_RUNTIME_DIR, else $XDG_RUNTIME_DIR/swivel, else /run/swivel (the systemd RuntimeDirectory)."""
    if os.environ.get("SWIVEL_RUNTIME_DIR"):
        return Path(os.environ["SWIVEL_RUNTIME_DIR"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "swivel"
    return Path("/run/swivel")


def resolve_runtime_dir(configured: str = "") -> Path:
    return Path(configured) if configured else default_runtime_dir()


def ensure_runtime_dir(path: Path) -> Path:
    """Create the directory (mode 0750) and prove it is writable, or raise a UserError that says so."""
    try:
        path.mkdir(mode=0o750, parents=True, exist_ok=True)
        probe = path / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UserError(f"runtime directory {path} is not usable: {exc.strerror or exc}") from None
    return path


def pub_endpoint(runtime_dir: Path, publisher: str) -> str:
    return f"ipc://{runtime_dir / (publisher + '.pub')}"


def rpc_endpoint(runtime_dir: Path, name: str = "motion") -> str:
    return f"ipc://{runtime_dir / (name + '.sock')}"
