"""The goal envelope: z3 proves it over formulas of Rom.clamp and GoalFilter.on_goal, and hypothesis keeps the
formulas in step with the Python (z3 evaluating a formula on concrete values gets what the function returns)."""
from __future__ import annotations

import math
from fractions import Fraction

import z3
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from device.bus.schemas import MotorGoal
from device.motor.config import MotorConfig
from device.motor.goals import GoalFilter, wire_down, wire_round, wire_up
from device.policy.core import Rom
from device.policy.envelope import INWARD_SLACK, ROUND_SLACK, goal_filter, prove_all, rom_clamp


def val(x: float) -> z3.RatNumRef:
    return z3.RealVal(Fraction(x))


def ev(expr) -> Fraction:
    v = z3.simplify(expr)
    return Fraction(v.numerator_as_long(), v.denominator_as_long())


def concrete(fn):
    """A Python rounding function applied inside a formula whose inputs are all concrete."""
    return lambda e: val(fn(float(ev(e))))


def test_every_envelope_theorem_holds():
    """Among them the two gaps an earlier proof found and goals.py closed: the rounded target and limits
    inside the unrounded range (it could be 0.005 deg past), and no positive speed sent as 0."""
    results = prove_all()
    assert len(results) == 8
    for r in results:
        assert r.proved, (r.name, r.counterexample)


angles = st.floats(-400, 400, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(deg=angles, lo=st.floats(-180, 180), hi=st.floats(-180, 180))
def test_rom_clamp_formula_matches_python(deg, lo, hi):
    assume(lo <= hi)
    assert ev(rom_clamp(val(deg), val(lo), val(hi))) == Fraction(Rom(lo, hi).clamp(deg))


finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(t=finite, s=finite, a=finite, gmin=finite, gmax=finite,
       cmin=st.floats(-180, 180), width=st.floats(1e-4, 360), cs=st.floats(1e-4, 180), ca=st.floats(1e-4, 360))
def test_goal_filter_formula_matches_python(t, s, a, gmin, gmax, cmin, width, cs, ca):
    cmax = cmin + width
    assume(cmax <= 180)
    cfg = MotorConfig(rom_min_deg=cmin, rom_max_deg=cmax, max_speed_dps=cs, max_accel_dps2=ca)
    gf = GoalFilter(cfg)
    took = gf.on_goal(MotorGoal(t_ns=1, seq=1, target_deg=t, max_speed_dps=s, max_accel_dps2=a,
                                rom_min_deg=gmin, rom_max_deg=gmax), 0.0)
    f = goal_filter(val(t), val(s), val(a), val(gmin), val(gmax), val(cmin), val(cmax), val(cs), val(ca),
                    concrete(wire_round), concrete(wire_up), concrete(wire_down))
    assert z3.is_true(z3.simplify(f.accepted)) == took
    if took:
        # The formula, with the Python rounding functions put in for the proof's uninterpreted ones, must
        # give exactly the numbers the filter sends.
        assert gf.wanted_action.args == tuple(float(ev(x)) for x in (f.wire_target, f.wire_speed, f.wire_accel))
        assert gf.wanted_limits.args == tuple(float(ev(x)) for x in (f.wire_lo, f.wire_hi, f.wire_cfg_speed,
                                                                     f.wire_cfg_accel))


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


steps = st.integers(-18000, 18000).map(lambda k: k / 100)
next_to_a_step = st.builds(lambda x, d: math.nextafter(x, x + d), steps, st.sampled_from([-1.0, 0.0, 1.0]))


@settings(max_examples=500, deadline=None)
@given(x=st.one_of(finite, next_to_a_step))
def test_inward_rounding_facts_hold_of_wire_up_and_down(x):
    """What the proof assumes of wire_up and wire_down, and that each is the nearest 0.01 step on its side."""
    slack = ev(INWARD_SLACK)
    up, down = wire_up(x), wire_down(x)
    assert Fraction(x) <= Fraction(up) <= Fraction(x) + slack
    assert Fraction(x) - slack <= Fraction(down) <= Fraction(x)
    assert round(up, 2) == up and round(down, 2) == down          # on a step the wire carries exactly
    assert round(up - 0.01, 2) < x < round(down + 0.01, 2)
