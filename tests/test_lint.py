"""Static checks of the whole tree: pyflakes finds no unused import, undefined name or dead assignment, and
every Python file opens with a docstring that says what it is for."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREES = ("device", "tests", "tools")


def python_files():
    return sorted(p for t in TREES for p in (REPO / t).rglob("*.py") if "__pycache__" not in p.parts)


def test_pyflakes_is_clean():
    out = subprocess.run([sys.executable, "-m", "pyflakes", *TREES], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_python_file_states_its_purpose():
    missing = [str(p.relative_to(REPO)) for p in python_files()
               if not ast.get_docstring(ast.parse(p.read_text()))]
    assert not missing, f"files without a purpose line: {missing}"
