"""Fixtures shared by every test: a private bus directory and the path of the venv's Python."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def runtime_dir():
    # ipc:// paths must stay under ~107 bytes, so use a short directory in /tmp rather than tmp_path.
    with tempfile.TemporaryDirectory(prefix="swv-", dir="/tmp") as d:
        yield Path(d)


@pytest.fixture
def python_exe() -> str:
    return sys.executable


@pytest.fixture
def subprocess_env(runtime_dir):
    env = dict(os.environ)
    env["SWIVEL_RUNTIME_DIR"] = str(runtime_dir)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NOTIFY_SOCKET", None)
    return env
