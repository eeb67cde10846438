"""The event journal: records built from real bus messages, bounded rotation, and one-line errors on bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from device.bus.schemas import DoaEstimate, MotorGoal, MotorState, People, PolicyState, WakeEvent
from device.diagnose.journal import FILE_NAME, Journal, load_records
from device.diagnose.records import SCHEMA_VERSION, build_record
from device.errors import UserError

MS = 1_000_000


def timeline(t0: int, slow_ssl_ms: int = 0) -> tuple[WakeEvent, dict]:
    wake = WakeEvent(t_ns=t0 + 150 * MS, start_ns=t0 - 1500 * MS, end_ns=t0, engine="test")
    sent = wake.t_ns + (90 + slow_ssl_ms) * MS
    doa = DoaEstimate(t_ns=t0, start_ns=wake.start_ns, end_ns=t0, azimuth_deg=70.0, confidence=0.8,
                      ambiguous=False, sent_ns=sent, phase="final")
    goal = MotorGoal(t_ns=sent + 40 * MS, seq=1, target_deg=70.0)
    states = [MotorState(t_ns=t0 - 500 * MS, heading_deg=0.0, retransmits=2),
              MotorState(t_ns=goal.t_ns + 60 * MS, heading_deg=1.0, moving=True, retransmits=3, queue=1)]
    people = People(t_ns=t0 - 100 * MS, fps=14.5, people=[])
    pol = PolicyState(t_ns=goal.t_ns, mode="turning", decision="turn to 70.0", reason="sound")
    return wake, {"wake.event": [wake], "ssl.doa": [doa], "motor.goal": [goal], "motor.state": states,
                  "vision.people": [people], "policy.state": [pol]}


def test_record_has_every_stage_and_no_audio():
    wake, tl = timeline(10_000 * MS)
    rec = build_record(wake, tl, {"host": 0.5, "services": {"vision": 0.7}})
    assert rec["v"] == SCHEMA_VERSION and rec["outcome"] == "moved"
    assert rec["stages_s"] == {"wake": 0.15, "ssl": 0.09, "policy": 0.04, "motor": 0.06}
    assert rec["total_s"] == pytest.approx(0.34)
    assert rec["motor"]["retransmits"] == 1 and rec["motor"]["queue"] == 1
    assert rec["vision"] == {"people": 0, "fps": 14.5, "blind": False}
    assert rec["policy"]["decision"] == "turn to 70.0"
    text = json.dumps(rec)
    assert "samples" not in text and "energy_map" not in text     # no audio, no images
    del tl["motor.goal"]
    held = build_record(wake, tl)
    assert held["outcome"] == "held" and held["stages_s"]["policy"] is None and held["total_s"] is None


def test_rotation_bounds_size_and_files(tmp_path):
    j = Journal(tmp_path, max_bytes=2000, keep=3)
    wake, tl = timeline(10_000 * MS)
    rec = build_record(wake, tl)
    for i in range(200):
        rec["id"] = i
        j.append(rec)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [FILE_NAME, f"{FILE_NAME}.1", f"{FILE_NAME}.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
    ids = [r["id"] for r in load_records(tmp_path)]
    assert ids == sorted(ids) and ids[-1] == 199 and ids[0] > 0       # oldest dropped, order kept


def test_bad_input_is_one_line(tmp_path):
    with pytest.raises(UserError, match="no journal here"):
        load_records(tmp_path)
    (tmp_path / FILE_NAME).write_text("")
    with pytest.raises(UserError, match="empty"):
        load_records(tmp_path)
    wake, tl = timeline(10_000 * MS)
    good = json.dumps(build_record(wake, tl))
    (tmp_path / FILE_NAME).write_text(good + "\n" + good[:40])     # a power cut mid-line: dropped
    assert len(load_records(tmp_path)) == 1
    (tmp_path / FILE_NAME).write_text(good[:40] + "\n" + good + "\n")
    with pytest.raises(UserError, match=r":1: not a journal record"):
        load_records(tmp_path)
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"scenario": "x"}))
    with pytest.raises(UserError, match="without a \"journal\""):
        load_records(report)
    # history too short, through the command: exit 2 and one line, no traceback
    (tmp_path / FILE_NAME).write_text(good + "\n")
    r = subprocess.run([sys.executable, "-m", "device", "diagnose", str(tmp_path)], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 2 and "history too short" in r.stderr and len(r.stderr.strip().splitlines()) == 1
