"""`swivel diagnose --compare`: a period whose ssl got slower is reported as ssl's change, not another stage's."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from device.diagnose.journal import Journal
from device.diagnose.records import build_record
from test_journal import MS, timeline


def period(tmp: Path, name: str, slow_ms: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    j = Journal(tmp / name)
    for i in range(30):
        wake, tl = timeline((10_000 + 4000 * i) * MS, slow_ssl_ms=int(slow_ms + rng.gamma(2.0, 10.0)))
        j.append(build_record(wake, tl, {"host": float(rng.uniform(0.3, 0.6)), "services": {"vision": 0.3}}))
    return j.dir


def test_compare_names_ssl(tmp_path):
    old, new = period(tmp_path, "old", 0, 1), period(tmp_path, "new", 250, 2)
    r = subprocess.run([sys.executable, "-m", "device", "diagnose", "--compare", str(old), str(new), "--json"],
                       capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["changes"][0]["node"] == "ssl" and out["changes"][0]["mean_change_s"] > 0.2
    assert out["new_mean_s"] - out["old_mean_s"] > 0.2
