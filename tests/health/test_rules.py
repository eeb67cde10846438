"""The pure parts of turntable health: thresholds from a false-alarm budget, the attention state, the reference file."""
from __future__ import annotations

import json
import math
import random

import pytest

from device.health import reference
from device.health.attention import Attention
from device.health.detector import FLOORS, KINDS, Verdict, thresholds_from_healthy


def test_threshold_extrapolates_the_healthy_tail_to_the_budget():
    rng = random.Random(1)
    values = [rng.expovariate(10.0) for _ in range(2000)]          # P(x > t) = exp(-10 t)
    t = thresholds_from_healthy({k: values for k in KINDS}, 1e-3)
    # Each kind gets budget / 6: the true quantile is ln(6000) / 10 = 0.87.
    for k in KINDS:
        assert abs(t[k] - math.log(6000) / 10) < 0.15, t[k]
    quiet = thresholds_from_healthy({k: [0.0] * 50 for k in KINDS}, 1e-3)
    assert quiet == FLOORS                                            # never below the sensor's resolution
    with pytest.raises(ValueError, match="slip: only 3 healthy values"):
        thresholds_from_healthy({"slip": [0.1, 0.2, 0.3]}, 1e-3)


def verdict(kind, worst, angle=None):
    return Verdict({kind or "slip": worst}, kind, angle, {}, 8)


def test_acknowledged_stays_quiet_until_new_or_worse():
    a = Attention(clear_ratio=0.5, worse_ratio=1.5)
    assert not a.update(verdict(None, 0.4)) and not a.gentle
    assert a.update(verdict("snag", 1.2, 40.0)) and a.gentle and a.angle_deg == 40.0
    assert not a.update(verdict("snag", 1.3, 40.0))                 # still raised, not news
    assert a.acknowledge(1.3) and not a.gentle and a.raised
    assert not a.update(verdict("snag", 1.8, 40.0)) and not a.gentle   # a little worse: still acknowledged
    assert a.update(verdict("snag", 2.0, 40.0)) and a.gentle          # 1.5 x what was acknowledged: news
    a.acknowledge(2.0)
    assert a.update(verdict("sensor_offset", 1.1)) and a.gentle and a.kind == "sensor_offset"   # a new kind
    assert not a.update(verdict(None, 0.3)) and not a.raised and not a.gentle                 # went away
    assert not a.acknowledge(0.0)                                     # nothing to acknowledge


def test_reference_file_round_trip_and_bad_files_are_one_line(tmp_path):
    path = tmp_path / reference.FILE_NAME
    assert reference.load(path) is None
    ref = reference.Reference(lag_up_by_sector={3: -0.1, 20: -0.2}, lag_down_by_sector={3: 0.1}, lag_up_deg=-0.15,
                              lag_down_deg=0.1, rest_err_deg=-0.2, backlash_deg=0.3, moves=3)
    reference.save(path, ref)
    assert reference.load(path) == ref                              # sector keys come back as numbers
    path.write_text('{"format": 1, "lag_up_deg": 0.1')                 # cut short (a full disk)
    with pytest.raises(reference.ReferenceError) as e:
        reference.load(path)
    assert str(e.value).startswith(f"turntable health reference {path}: not valid JSON") and "\n" not in str(e.value)
    path.write_text('{"format": 1, "lag_up_deg": "far"}')
    with pytest.raises(reference.ReferenceError, match=r"Expected `float`, got `str` - at `\$.lag_up_deg`"):
        reference.load(path)
    path.write_text(json.dumps({"format": 1, "lag_up_by_sector": {"99": 0.1}}))
    with pytest.raises(reference.ReferenceError, match=f"{path}: sector 99"):
        reference.load(path)
    path.write_text(json.dumps({"format": 2}))
    with pytest.raises(reference.ReferenceError, match="format 2 is not 1"):
        reference.load(path)


def test_the_web_page_gets_the_turntable_line_and_may_acknowledge():
    from device.bus.schemas import HealthState, SectorScore
    from device.policy.config import ZonesConfig
    from device.web.live import LiveState
    from device.web.server import COMMANDS
    live = LiveState(ZonesConfig(), 0.5, 10)
    view = live.on_turntable(HealthState(t_ns=1, status="attention", needs_attention=True, kind="snag", angle_deg=40.0,
                                         gentle=True, sectors=[SectorScore(35.0, 0.2)]))
    assert json.loads(json.dumps(view)) == view and live.last["turntable"] is view     # sent again to a new page
    assert view["type"] == "turntable" and view["kind"] == "snag" and view["angle"] == 40.0 and view["gentle"]
    assert COMMANDS["health_ack"] == ("health_ack", {})           # the page's button: a motion API op, decided there


def test_home_assistant_gets_a_health_sensor_and_an_acknowledge_button():
    from aioesphomeapi import api_pb2 as pb

    from device.bus.schemas import HealthState
    from device.satellite import entities
    states = entities.EntityStates()
    states.on_health(HealthState(t_ns=1, status="attention", needs_attention=True, kind="snag", angle_deg=40.0))
    msg = states.state_message(9)
    assert isinstance(msg, pb.TextSensorStateResponse) and msg.state == "needs attention: snag at 40 deg"
    req = entities.command_request(pb.ButtonCommandRequest(key=10), states)
    assert req.op == "health_ack" and req.principal == entities.PRINCIPAL     # the access policy decides
    kinds = {type(m).__name__ for m in entities.list_messages("swivel")}
    assert "ListEntitiesTextSensorResponse" in kinds


def test_the_live_view_says_what_needs_attention():
    import io

    from device.bus.schemas import HealthState
    from device.run.liveview import LiveView, health_line
    from device.sim.scenario import load_scenario

    class Recorded:
        last = {"health.state": HealthState(t_ns=1, status="attention", needs_attention=True, kind="snag",
                                            angle_deg=40.0, gentle=True)}
    text = "\n".join(LiveView(load_scenario("default"), out=io.StringIO()).lines(Recorded(), 1.0))
    assert "health NEEDS ATTENTION: probable snag at 40 deg (moving gently until `swivel health ack`)" in text
    quiet = health_line(HealthState(t_ns=1, status="no_reference"))
    assert quiet.startswith("health no reference (`swivel health sweep` records one)")
