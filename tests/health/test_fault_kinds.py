"""On the real firmware in simavr (2x real time): healthy routine moves raise nothing, each turntable fault is named.

The moves go through the health service's own code (MoveTracker, Detector) with its shipped thresholds
(device/health/config.py), against a reference recorded by a sweep on the same simulated turntable.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from device.health.config import DEFAULT_THRESHOLDS
from device.health.detector import Detector

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "bench"))
from health_rig import Rig  # noqa: E402

MAX_MOVES = 12
SPEED = 3.0          # x real time: the firmware in simavr and the host link keep up with this on a loaded machine
CONFIRM = 5          # the kind is read a few moves after the first raise: reversals and long moves keep coming


@pytest.fixture(scope="module")
def ref(firmware_built, tmp_path_factory):
    rig = Rig(tmp_path_factory.mktemp("sweep"), speed=SPEED)
    try:
        return rig.reference(-150.0, 150.0)
    finally:
        rig.close()


def first_verdict(tmp: Path, ref, seed: int, fault=None, moves: int = MAX_MOVES):
    """A fresh turntable (the fault from the start), routine moves until the detector raises something and CONFIRM
    moves more; the last verdict that raised, and the move of the first raise."""
    rig = Rig(tmp, speed=SPEED)
    try:
        if fault is not None:
            rig.tt.set_fault(*fault)
        det = Detector(ref, DEFAULT_THRESHOLDS)
        rng = random.Random(seed)
        found, last = None, None
        for i in range(moves + CONFIRM):
            if found is None and i >= moves or found is not None and i >= found + CONFIRM:
                break
            for m in rig.routine(1, rng):
                v = det.add(m)
                if v is not None and v.kind is not None:
                    found, last = found or i + 1, v
        return last, found
    finally:
        rig.close()


def test_the_reference_sweep_covers_the_range_both_ways(ref):
    assert ref.moves >= 3 and len(ref.lag_up_by_sector) >= 28 and len(ref.lag_down_by_sector) >= 28
    assert abs(ref.lag_up_deg) < 0.5 and abs(ref.lag_down_deg) < 0.5 and ref.rest_spread_deg < 0.05
    assert ref.diag_ms == 0


def test_healthy_moves_raise_nothing(ref, tmp_path):
    v, n = first_verdict(tmp_path, ref, seed=7, moves=14)
    assert v is None, f"raised {v.kind} at healthy move {n}: {v.ratios}"


@pytest.mark.parametrize("fault,kind", [
    (("belt_slip", 0.02, None), "slip"),
    (("sensor_offset", 1.0, None), "sensor_offset"),
    (("sensor_noise", 0.3, None), "sensor_noise"),
    (("backlash", 1.0, None), "backlash"),
    (("friction", 0.4, 60.0, 60.0), "friction"),          # a stiff sector of the bearing, 30..90 degrees
], ids=lambda x: x if isinstance(x, str) else x[0])
def test_each_fault_is_named(ref, tmp_path, fault, kind):
    v, n = first_verdict(tmp_path, ref, seed=11, fault=fault)
    assert v is not None, f"{fault[0]} not detected in {MAX_MOVES} moves"
    assert v.kind == kind, (v.kind, v.ratios)


def test_a_snag_is_named_with_its_angle(ref, tmp_path):
    v, n = first_verdict(tmp_path, ref, seed=5, fault=("snag", 0.6, 40.0))
    assert v is not None and v.kind == "snag", v and (v.kind, v.ratios)
    assert abs(v.angle_deg - 40.0) <= 8.0, v.angle_deg
