"""Hardware-in-the-loop: the four real service processes, the simulated world and the real firmware in
simavr run a scenario; the run report must show what the scenario's [expect] table says."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from device.config import load_config
from device.run.launcher import run_stack
from device.run.report import wrap
from device.sim.scenario import load_scenario

# Every shipped scene: each zone behaviour (cooking: dead zone, holding_zone, walk_to_edge: motion zone),
# each no-move rule a scene can provoke (shutter, mute, ambiguous sound, outside the range, hand turn,
# obstacle), several people, a TV, and away mode's alert. About 10-25 s each.
SCENARIOS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    cache = {}

    def run(name):
        if name not in cache:
            out = tmp_path_factory.mktemp(name) / "report.json"
            run_stack(name, None, None, str(out), view=False)
            cache[name] = json.loads(out.read_text())
        return cache[name]
    return run


def final_error(report, azimuth):
    return abs(wrap(report["final_heading_deg"] - azimuth))


# Known to fail, each with an open issue: the reason is printed by every run (-ra), nothing is hidden.
KNOWN_FAILING: dict[str, str] = {}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_FAILING[n], strict=False))
                                  if n in KNOWN_FAILING else n for n in SCENARIOS])
def test_scenario_meets_its_expectations(reports, name):
    sc = load_scenario(name)
    rep = reports(name)
    exp = sc.expect
    assert rep["exit_codes"] and all(code == 0 for code in rep["exit_codes"].values()), rep["exit_codes"]
    assert rep["messages"].get("motor.state", 0) > 20 * 0.5 * sc.duration_s
    if exp.faces_person is not None:
        person = sc.person_by_id(exp.faces_person)
        az = person.path[-1].azimuth_deg
        assert rep["final_heading_deg"] is not None
        assert final_error(rep, az) <= exp.tolerance_deg, rep["events"]
    if exp.still:
        assert rep["moves"] == 0, rep["events"]
        assert abs(rep["final_heading_deg"]) < 1.0
    if exp.max_moves is not None:
        assert rep["moves"] <= exp.max_moves, rep["decisions"]
    if exp.min_moves is not None:
        assert rep["moves"] >= exp.min_moves, rep["decisions"]
    if exp.final_heading_deg is not None:
        assert abs(wrap(rep["final_heading_deg"] - exp.final_heading_deg)) <= exp.tolerance_deg, rep["decisions"]
    if exp.alerts is not None:
        assert len(rep["alerts"]) >= exp.alerts, rep["decisions"]
        assert all(set(a) == {"t_s", "bearing_deg", "track_id", "kind"} for a in rep["alerts"])
    for hold in exp.holds:
        assert hold in rep["holds_seen"], rep["holds_seen"]
    # The configured (calm) limits, not just the hardware's, as seen in motor.state. Acceleration from
    # telemetry (the MCU's velocity is one step interval's, its times mapped onto the host clock) reads
    # ~7 % high at rest and more under load; the firmware tests measure it to 1 % from the step edges.
    # An obstacle or a hand stops or moves the table harder than any profile, so not there.
    cfg = load_config(None).policy.motion
    assert rep["peak_speed_dps"] <= cfg.max_speed_dps * 1.02
    if not {e.kind for e in sc.event} & {"obstacle", "hand_push"}:
        assert rep["peak_accel_dps2"] <= cfg.max_accel_dps2 * 1.25
    assert rep["dropped"] == {}


def test_default_report_has_the_per_event_figures(reports):
    rep = reports("default")
    wakes = [e for e in rep["events"] if e["wake"]]
    assert len(wakes) == 2
    first = wakes[0]
    # The first wake word turns the device from home (0) to the talker at 120 degrees.
    assert first["heading_before_deg"] is not None and abs(first["heading_before_deg"]) < 2
    # the real engine hears the keyword at its end, so the turn may begin while the sentence goes on
    spoken = first["utterance_s"][1] - first["utterance_s"][0]
    assert -spoken < first["motion_start_after_end_s"] < 3.0
    assert first["faced_after_end_s"] is not None and first["faced_after_end_s"] < 6.0
    assert first["final_error_deg"] <= 10
    # Where the time went: each stage after the one before it (the MCU's mapped capture time within 10 ms).
    stages = first["pipeline_after_end_s"]
    order = [stages[k] for k in ("wake_event_s", "ssl_doa_s", "move_goal_s")]
    assert all(v is not None for v in order) and order == sorted(order), stages
    assert stages["motion_s"] >= stages["move_goal_s"] - 0.011, stages
    assert abs(stages["motion_s"] - first["motion_start_after_end_s"]) < 0.1, stages
    assert any(d["azimuth_device_deg"] is not None for d in rep["doa_estimates"])
    assert rep["moves_per_minute"] is not None and rep["unnecessary_moves"] == 0
