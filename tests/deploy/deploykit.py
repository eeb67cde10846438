"""Helpers for the deploy tests: parse unit files, stage them for systemd-analyze, run it."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SYSTEMD_DIR = REPO / "systemd"
SERVICES = ("motor", "ssl", "vision", "policy", "web", "speaker", "wake", "satellite", "health")
UNITS = tuple(f"swivel-{s}.service" for s in SERVICES)
INSTALL_BIN = "/opt/swivel/bin/swivel"


# What a checkout holds that is not the project: the test venv, git's store, caches and build leftovers.
NOT_SOURCES = (".venv", ".git", "__pycache__", ".pytest_cache", "*.egg-info", ".hypothesis")


def copy_checkout(dest: Path) -> Path:
    """A copy of this checkout at dest (e.g. a path under /tmp with spaces), as a user's fresh clone would be.

    The deploy tests install and boot from such a copy, so nothing they run may depend on where the checkout
    lives. The firmware build is kept (install.sh ships the hex when it is there).
    """
    shutil.copytree(REPO, dest, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    return dest


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values in order]}}; keys may repeat (DeviceAllow=, Environment=), as systemd allows."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        m = re.fullmatch(r"\[(.+)\]", line)
        if m:
            current = sections.setdefault(m.group(1), {})
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{path}: key outside a section: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def words(values: list[str]) -> list[str]:
    return [w for v in values for w in v.split()]


def swivel_executable() -> Path:
    """The venv's real `swivel` console script (what /opt/swivel/bin/swivel is after an install)."""
    exe = Path(sys.executable).parent / "swivel"
    if not exe.exists():
        found = shutil.which("swivel")
        assert found, "no swivel console script next to the test interpreter: run `make setup`"
        exe = Path(found)
    return exe


def stage_units(dest: Path) -> Path:
    """Copy every unit into dest with /opt/swivel/bin/ rewritten to dest/opt/swivel/bin/, a real executable.

    `systemd-analyze verify` refuses a unit whose ExecStart binary does not exist, and /opt/swivel is only
    there after `make install` on the device. `--root=` is no way out: it also wants the whole systemd unit
    tree (sysinit.target, ...) under the root. So the staged copy differs from the shipped unit in that one
    path and nothing else (test_staging_changes_only_the_binary_path checks it), and that path points at the
    venv's real `swivel` script, so verify's existence and executable checks still mean something.
    """
    bindir = dest / "opt" / "swivel" / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    link = bindir / "swivel"
    if not link.exists():
        link.symlink_to(swivel_executable())
    for src in list(SYSTEMD_DIR.glob("*.service")) + list(SYSTEMD_DIR.glob("*.target")):
        text = src.read_text().replace("/opt/swivel/bin/", f"{bindir}/")
        (dest / src.name).write_text(text)
    return dest


def analyze(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    exe = shutil.which("systemd-analyze")
    assert exe, "systemd-analyze not found: install the systemd package (tools/setup.sh)"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


_SCORE_RE = re.compile(r"Overall exposure level for (\S+): (\d+(?:\.\d+)?) ")


def exposure(unit_path: Path) -> tuple[float, str]:
    """(score, full report) of `systemd-analyze security --offline=true` for one unit file."""
    res = analyze("security", "--offline=true", "--no-pager", str(unit_path))
    out = res.stdout + res.stderr
    m = _SCORE_RE.search(out)
    assert m, f"no exposure score in systemd-analyze output (rc={res.returncode}):\n{out}"
    return float(m.group(2)), out

