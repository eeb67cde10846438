"""The goal envelope: z3 proves it over formulas of Rom.clamp and GoalFilter.on_goal, and hypothesis keeps the
formulas in step with the Python (z3 evaluating a formula on concrete values gets what the function returns)."""
from __future__ import annotations

from fractions import Fraction

import z3
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from device.bus.schemas import MotorGoal
from device.motor.config import MotorConfig
from device.motor.goals import GoalFilter
from device.policy.core import Rom
from device.policy.envelope import ROUND_SLACK, goal_filter, known_gaps, prove_all, rom_clamp


def val(x: float) -> z3.RatNumRef:
    return z3.RealVal(Fraction(x))


def ev(expr) -> Fraction:
    v = z3.simplify(expr)
    return Fraction(v.numerator_as_long(), v.denominator_as_long())


def test_every_envelope_theorem_holds():
    results = prove_all()
    assert len(results) == 5
    for r in results:
        assert r.proved, (r.name, r.counterexample)


def test_the_documented_gaps_are_real():
    """README "Proofs": rounding for the wire may leave the range by < 0.005 deg, and a speed below
    0.005 deg/s becomes 0, which the MCU reads as "its limit"."""
    assert [r.proved for r in known_gaps()] == [False, False]


angles = st.floats(-400, 400, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(deg=angles, lo=st.floats(-180, 180), hi=st.floats(-180, 180))
def test_rom_clamp_formula_matches_python(deg, lo, hi):
    assume(lo <= hi)
    assert ev(rom_clamp(val(deg), val(lo), val(hi))) == Fraction(Rom(lo, hi).clamp(deg))


finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(t=finite, s=finite, a=finite, gmin=finite, gmax=finite,
       cmin=st.floats(-180, 180), width=st.floats(0.01, 360), cs=st.floats(0.01, 180), ca=st.floats(0.01, 360))
def test_goal_filter_formula_matches_python(t, s, a, gmin, gmax, cmin, width, cs, ca):
    cmax = cmin + width
    assume(cmax <= 180)
    cfg = MotorConfig(rom_min_deg=cmin, rom_max_deg=cmax, max_speed_dps=cs, max_accel_dps2=ca)
    gf = GoalFilter(cfg)
    took = gf.on_goal(MotorGoal(t_ns=1, seq=1, target_deg=t, max_speed_dps=s, max_accel_dps2=a,
                                rom_min_deg=gmin, rom_max_deg=gmax), 0.0)
    f = goal_filter(val(t), val(s), val(a), val(gmin), val(gmax), val(cmin), val(cmax), val(cs), val(ca))
    assert z3.is_true(z3.simplify(f.accepted)) == took
    if took:
        # The Python rounds for the wire; the formula's values, rounded the same way, must be those numbers.
        target, speed, accel = gf.wanted_action.args
        lo, hi = gf.wanted_limits.args[:2]
        assert (target, speed, accel) == tuple(round(float(ev(x)), 2) for x in (f.target, f.speed, f.accel))
        assert (lo, hi) == (round(float(ev(f.lo)), 2), round(float(ev(f.hi)), 2))


@settings(max_examples=500, deadline=None)
@given(x=finite, y=finite)
def test_rounding_facts_hold_of_python_round(x, y):
    """What the proof assumes of round(x, 2): within ROUND_SLACK of x, and monotone."""
    slack = ev(ROUND_SLACK)
    assert abs(Fraction(round(x, 2)) - Fraction(x)) <= slack
    if x <= y:
        assert round(x, 2) <= round(y, 2)
    for c in (-180.0, 180.0, 360.0):
        assert round(c, 2) == c
