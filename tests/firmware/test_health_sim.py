"""HEALTH frames from the real firmware in simavr: off unless asked, and each plant fault moves the signature."""
from __future__ import annotations

import statistics
import time

import pytest

from device.motor.link import MotorLink
from device.motor.protocol import REPORT_HEALTH, AckResult, Flags
from device.sim.turntable import SimTurntable

SWEEP = ((60.0, 90.0, 180.0), (0.0, 90.0, 180.0))    # out and back: one reversal, a cruise through 22..38 degrees


class Rig:
    """One simulated turntable and a link that records every HEALTH with the TELEMETRY it follows."""

    def __init__(self, tt: SimTurntable):
        self.tt = tt
        self.windows: list = []
        self.link = MotorLink(str(tt.pty_link), on_health=lambda h, t, ns: self.windows.append((h, t))).start()
        assert self.link.wait_connected(3.0) and self.link.wait_telemetry(2.0) is not None

    def talk(self, seconds: float, until=None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.link.ping()
            if until is not None and until():
                return
            time.sleep(0.04)

    def at_rest(self) -> bool:
        t = self.link.wait_telemetry(0.3)
        return t is not None and not t.flags & Flags.MOVING

    def sweep(self) -> list[list]:
        """Each move of SWEEP, then 0.5 s at rest: the (Health, Telemetry) windows of each."""
        legs = []
        for target, v, a in SWEEP:
            i0 = len(self.windows)
            assert self.link.move(target, v, a) in (AckResult.OK, AckResult.CLAMPED)
            self.talk(0.2)
            self.talk(4.0, until=self.at_rest)
            self.talk(0.5)
            legs.append([w for w in self.windows[i0:] if w[1] is not None])
        return legs


@pytest.fixture(scope="module")
def rig(firmware_built, tmp_path_factory):
    tt = SimTurntable(tmp_path_factory.mktemp("health"), firmware_built, step_log=False).start()
    r = Rig(tt)
    yield r
    r.link.close()
    tt.stop()


def signature(legs) -> dict:
    """What the bench and the health service look at, from one SWEEP."""
    moving = [(h, t) for leg in legs for h, t in leg if t.flags & Flags.MOVING]
    cruise = [h.err_mean_deg * (1 if t.velocity_deg_s > 0 else -1) for h, t in moving if abs(t.velocity_deg_s) > 80]
    rest = [[h for h, t in leg[-10:] if not t.flags & Flags.MOVING] for leg in legs]
    return {
        "lag_deg": statistics.mean(cruise),                       # err along the motion (negative = behind)
        "margin_deg": statistics.mean(h.stall_margin_deg for h, _ in moving),
        "margin_by_angle": [(t.position_deg, h.stall_margin_deg) for h, t in moving],
        "rest_err_deg": [statistics.mean(h.err_mean_deg for h in r) for r in rest],
        "rest_spread_deg": max(h.err_max_deg - h.err_min_deg for r in rest for h in r),
        "backlash_deg": legs[-1][-1][0].backlash_deg,            # the return move reversed the steps
        "diag_ms": sum(h.diag_ms for leg in legs for h, _ in leg),
    }


def test_no_health_until_asked_then_one_per_telemetry(rig):
    """SET_REPORTS off (the default after reset) is the old protocol: telemetry only."""
    link = rig.link
    rig.tt.reset_mcu()
    rig.talk(0.6)
    before = (link.counters.rx_health, link.counters.rx_telemetry)
    rig.talk(0.5)
    assert link.counters.rx_health == before[0] and link.counters.rx_telemetry - before[1] >= 15
    assert link.set_reports(REPORT_HEALTH | 0x40) == AckResult.CLAMPED     # unknown bit: ignored, said so
    assert link.set_reports(REPORT_HEALTH) == AckResult.OK
    n0, t0 = len(rig.windows), link.counters.rx_telemetry
    rig.talk(0.5)
    got = rig.windows[n0:]
    assert len(got) >= 20 and abs(len(got) - (link.counters.rx_telemetry - t0)) <= 1
    assert all(t is not None for _, t in got)                               # each follows its own TELEMETRY
    seqs = [h.seq for h, _ in got]
    assert all((b - a) % 256 == 1 for a, b in zip(seqs, seqs[1:]))         # every 20 ms, none missing
    h, _ = got[-1]
    assert h.steps == 0 and h.diag_ms == 0 and h.stall_margin_deg > 2.5 and h.settle_ms is None
    assert link.set_reports(0) == AckResult.OK
    n0 = link.counters.rx_health
    rig.talk(0.3)
    assert link.counters.rx_health - n0 <= 1                                # one may have been on the line
    assert link.set_reports(REPORT_HEALTH) == AckResult.OK
    assert link.home() == AckResult.OK


@pytest.fixture(scope="module")
def healthy_legs(rig):
    rig.tt.clear_faults()
    return rig.sweep()


@pytest.fixture(scope="module")
def healthy(healthy_legs):
    return signature(healthy_legs)


def test_a_move_fills_the_windows(healthy_legs):
    out, back = healthy_legs
    assert sum(h.steps for h, _ in out) == 60 * 20                          # every step of the move, once
    assert sum(h.steps for h, _ in back) == -60 * 20
    assert 34 <= max(abs(h.steps) for h, _ in out) <= 38                    # 90 deg/s x 20 ms x 20 steps/deg
    assert out[-1][0].settle_ms is not None and out[-1][0].settle_ms < 100


def faulted(rig, kind, severity, angle=None, width=None) -> dict:
    rig.tt.set_fault(kind, severity, angle, width)
    try:
        return signature(rig.sweep())
    finally:
        rig.tt.clear_faults()
        rig.link.move(0.0, 90, 180)
        rig.talk(2.0, until=rig.at_rest)


def test_healthy_signature_is_tight(healthy):
    assert -0.2 < healthy["lag_deg"] < 0.05 and healthy["margin_deg"] > 2.5
    assert all(abs(e) < 0.36 for e in healthy["rest_err_deg"]) and healthy["rest_spread_deg"] < 0.05
    assert healthy["backlash_deg"] is not None and healthy["backlash_deg"] <= 0.45 and healthy["diag_ms"] == 0


def test_friction_lags_more_and_eats_stall_margin(rig, healthy):
    s = faulted(rig, "friction", 0.3)
    assert s["lag_deg"] < healthy["lag_deg"] - 0.2
    assert s["margin_deg"] < healthy["margin_deg"] - 0.15


def test_snag_shows_at_its_angle_only(rig, healthy):
    s = faulted(rig, "snag", 0.6, 30.0, 6.0)
    def near(sig, lo, hi):
        return [m for a, m in sig["margin_by_angle"] if lo <= a <= hi]
    assert min(near(s, 28, 40)) < min(near(healthy, 28, 40)) - 0.25           # at the snag (the table lags it)
    away = [m for a, m in s["margin_by_angle"] if a < 20 or a > 45]
    assert min(away) > min(m for a, m in healthy["margin_by_angle"] if a < 20 or a > 45) - 0.1
    assert s["diag_ms"] == 0                                                # a drag, not a stall


def test_belt_slip_drifts_the_error(rig, healthy):
    s = faulted(rig, "belt_slip", 0.02)
    # 60 degrees out at the normal running load lose about 2 % of the travel: the table stops short.
    assert s["rest_err_deg"][0] < healthy["rest_err_deg"][0] - 0.6


def test_backlash_reads_as_backlash(rig, healthy):
    s = faulted(rig, "backlash", 1.0)
    assert s["backlash_deg"] > healthy["backlash_deg"] + 0.6
    assert s["lag_deg"] < healthy["lag_deg"] - 0.3                         # half the band, every way


def test_sensor_offset_is_a_constant_error_at_rest(rig, healthy):
    s = faulted(rig, "sensor_offset", 1.0)
    shift = [a - b for a, b in zip(s["rest_err_deg"], healthy["rest_err_deg"])]
    assert all(0.6 < d < 1.4 for d in shift), shift
    assert abs(shift[0] - shift[1]) < 0.45                                  # the same both ways: not a lag


def test_sensor_noise_spreads_the_error(rig, healthy):
    s = faulted(rig, "sensor_noise", 0.3)
    assert s["rest_spread_deg"] > healthy["rest_spread_deg"] + 0.5
