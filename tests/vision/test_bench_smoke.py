"""The vision benchmark runs end to end on a tiny set and reports every figure it promises."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_vision_smoke(subprocess_env):
    out = subprocess.run([sys.executable, str(REPO / "tools/bench/bench_vision.py"), "--scenes", "1", "--no-write"],
                         capture_output=True, text=True, timeout=300, env=subprocess_env)
    assert out.returncode == 0, out.stderr[-2000:]
    for needle in ("| **up to 3 m** |", "bearing error median", "engagement accuracy",
                   "**whole per-frame pipeline**", "Targets:"):
        assert needle in out.stdout
