"""tools/soak.py's parts: the generated soak scene is a valid scenario that keeps people moving and talking,
and the /proc sampling reads real figures of a real process tree."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("swivel_soak", REPO / "tools" / "soak.py")
soak = importlib.util.module_from_spec(_spec)
sys.modules["swivel_soak"] = soak          # dataclasses look their module up there
_spec.loader.exec_module(soak)

from device.sim.scenario import load_scenario, person_at  # noqa: E402


def test_generated_scene_covers_the_whole_run(tmp_path):
    sc = load_scenario(str(soak.soak_scenario(3600, tmp_path / "soak.toml")))
    assert sc.duration_s == 3600 and len(sc.person) == 2
    times = sorted(s.t for s in sc.speech)
    assert times[0] < 30 and times[-1] > 3600 - 30
    assert max(b - a for a, b in zip(times, times[1:])) <= 20.0
    assert {s.person for s in sc.speech} == {1, 2}
    assert all(s.text.startswith(sc.wake_word) for s in sc.speech)
    for p in sc.person:     # each keeps moving to the end
        late = {round(person_at(p, t).azimuth_deg) for t in range(3000, 3600, 10)}
        assert len(late) > 3


def test_sampling_follows_a_real_process_tree():
    # A child that allocates 64 MiB and keeps it: its RSS must show it, and its role must be recognised.
    code = "import time; b = bytearray(64 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c",
                               f"import subprocess, sys; subprocess.run([sys.executable, '-c', {code!r}, "
                               f"'service', 'motor'])"])
    try:
        deadline = time.monotonic() + 20
        found = {}
        while time.monotonic() < deadline:
            found = {pid: argv for pid, argv in soak.children_of(parent.pid).items() if soak.role_of(argv)}
            if found and (s := soak.sample(next(iter(found)))) and s[0] > 60 * 1024:
                break
            time.sleep(0.2)
        assert [soak.role_of(a) for a in found.values()] == ["motor"]
        rss_kib, cpu_s = soak.sample(next(iter(found)))
        assert 60 * 1024 < rss_kib < 200 * 1024 and cpu_s >= 0
    finally:
        for pid in soak.children_of(parent.pid):
            os.kill(pid, 9)
        parent.kill()
        parent.wait()
    assert soak.sample(parent.pid) is None


def test_trend_and_verdict():
    flat = [(t, 100.0 + (0.3 if t % 20 else -0.3)) for t in range(0, 3600, 10)]
    assert abs(soak.slope_per_hour(flat)) < 0.5
    growing = [(t, 100.0 + t / 360) for t in range(0, 3600, 10)]     # +10 MiB/h
    assert abs(soak.slope_per_hour(growing) - 10.0) < 0.01
    row = {"rss_start_mib": 100.0, "rss_mid_mib": 105.0, "rss_end_mib": 110.0, "change_mib": 10.0,
           "second_half_mib": 5.0, "trend_mib_per_h": 10.0, "cpu_pct": 5.0, "restarts": 0}
    res = {"duration_s": 3600, "scenario_generated": True, "scenario": "", "warmup_s": 120, "exit_code": 0,
           "rows": {r: dict(row, change_mib=0.5, second_half_mib=0.2) for r in soak.ROLES}}
    assert "no process grew beyond noise" in soak.markdown(res, "cmd")
    # A step early on that then stays flat (a buffer filling once) is not growth ...
    res["rows"]["ssl"] = dict(row, change_mib=19.0, second_half_mib=0.4, trend_mib_per_h=-2.0)
    assert "no process grew beyond noise" in soak.markdown(res, "cmd")
    # ... growth that goes on is.
    res["rows"]["vision"] = row
    assert "grew beyond noise in the second half, or restarted: vision" in soak.markdown(res, "cmd")
