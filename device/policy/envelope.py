"""The goal envelope as z3 formulas: whatever a goal asks, what reaches the MCU lies inside the range of motion and the hardware limits.

Two clamping functions stand between a wish and the motor, and both are written here again as formulas:
- Rom.clamp (device/policy/core.py): the policy's target inside its range of motion;
- GoalFilter.on_goal (device/motor/goals.py): the motor service's own clamp of any goal off the bus (it
  trusts nothing: range, speed and acceleration against its configured limits, then rounded for the wire).
tests/proofs/test_envelope.py keeps the formulas in step with the Python: z3 evaluates them on concrete
values hypothesis draws and must get what the Python functions return.

Floats: the functions only compare and take min/max, which are exact on doubles, so reals model them;
Python's round(x, 2) is an uninterpreted function with the facts that hold of it (within 0.005 plus one
ulp of x, monotone, exact on -180 and 180), each instantiated where the proof needs it (tests check the
facts on random doubles). The firmware's own clamp is proved separately (Frama-C WP, firmware_mcu/proofs).
"""
from __future__ import annotations

from dataclasses import dataclass

import z3

from ..motor.config import HW_MAX_ACCEL_DPS2, HW_MAX_DEG, HW_MAX_SPEED_DPS, HW_MIN_DEG

ROUND_SLACK = z3.RealVal("0.005") + z3.RealVal("1e-12")    # |round(x, 2) - x|, for |x| well below 1e3


def zmin(a, b):
    """Python's min(a, b): b only when it is smaller."""
    return z3.If(b < a, b, a)


def zmax(a, b):
    """Python's max(a, b): b only when it is larger."""
    return z3.If(b > a, b, a)


def rom_clamp(deg, lo, hi):
    """Rom.clamp: min(max(deg, lo), hi)."""
    return zmin(zmax(deg, lo), hi)


@dataclass
class FilterOut:
    accepted: object
    lo: object
    hi: object
    target: object          # unrounded
    speed: object
    accel: object


def goal_filter(g_target, g_speed, g_accel, g_rmin, g_rmax, c_rmin, c_rmax, c_speed, c_accel) -> FilterOut:
    """GoalFilter.on_goal for a move goal with finite numbers (it rejects the rest before this point)."""
    lo = zmax(c_rmin, zmin(g_rmin, g_rmax))
    hi = zmin(c_rmax, zmax(g_rmin, g_rmax))
    accepted = z3.And(g_speed > 0, g_accel > 0, z3.Not(lo > hi))
    return FilterOut(accepted, lo, hi, zmin(zmax(g_target, lo), hi), zmin(g_speed, c_speed), zmin(g_accel, c_accel))


@dataclass
class Result:
    name: str
    proved: bool
    counterexample: str = ""


def _prove(name: str, hyps: list, claim) -> Result:
    s = z3.Solver()
    s.add(*hyps, z3.Not(claim))
    r = s.check()
    return Result(name, r == z3.unsat, "" if r == z3.unsat else str(s.model()))


def prove_all() -> list[Result]:
    R = z3.Function("round2", z3.RealSort(), z3.RealSort())

    def rounding_facts(*xs):
        """What holds of Python's round(x, 2), instantiated at the terms the proof uses."""
        exact = tuple(z3.RealVal(c) for c in sorted({HW_MIN_DEG, HW_MAX_DEG, HW_MAX_SPEED_DPS, HW_MAX_ACCEL_DPS2}))
        facts = [R(c) == c for c in exact]                   # whole numbers round to themselves
        for x in xs:
            facts += [x - ROUND_SLACK <= R(x), R(x) <= x + ROUND_SLACK]
        for a in xs + exact:
            for b in xs + exact:
                facts.append(z3.Implies(a <= b, R(a) <= R(b)))
        return facts

    out = []
    # 1. The policy: any target, any range of motion inside the turntable's.
    x, lo, hi = z3.Reals("target lo hi")
    rom = [HW_MIN_DEG <= lo, lo <= hi, hi <= HW_MAX_DEG]
    t = rom_clamp(R(x), lo, hi)                             # _make_goal: rom.clamp(round(target, 2))
    out.append(_prove("policy goal inside its range of motion", rom + rounding_facts(x), z3.And(lo <= t, t <= hi)))

    # 2. The motor service: any goal at all (the bus is not trusted), any valid [motor] config.
    gt, gs, ga, gmin, gmax = z3.Reals("goal_target goal_speed goal_accel goal_rom_min goal_rom_max")
    cmin, cmax, cs, ca = z3.Reals("cfg_rom_min cfg_rom_max cfg_speed cfg_accel")
    cfg = [HW_MIN_DEG <= cmin, cmin < cmax, cmax <= HW_MAX_DEG, 0 < cs, cs <= HW_MAX_SPEED_DPS,
           0 < ca, ca <= HW_MAX_ACCEL_DPS2]
    f = goal_filter(gt, gs, ga, gmin, gmax, cmin, cmax, cs, ca)
    facts = rounding_facts(f.target, f.lo, f.hi, f.speed, f.accel, cs, ca, cmin, cmax)
    sent_t, sent_lo, sent_hi = R(f.target), R(f.lo), R(f.hi)
    out.append(_prove("motor move inside the limits it sends the MCU", cfg + facts + [f.accepted],
                      z3.And(sent_lo <= sent_t, sent_t <= sent_hi)))
    out.append(_prove("motor move inside the hardware range", cfg + facts + [f.accepted],
                      z3.And(HW_MIN_DEG <= sent_t, sent_t <= HW_MAX_DEG, HW_MIN_DEG <= sent_lo, sent_hi <= HW_MAX_DEG)))
    out.append(_prove("motor limits inside its configured range", cfg + [f.accepted],
                      z3.And(cmin <= f.lo, f.lo <= f.hi, f.hi <= cmax)))
    out.append(_prove("motor speed and acceleration within config and hardware", cfg + facts + [f.accepted],
                      z3.And(0 < f.speed, f.speed <= cs, R(f.speed) <= HW_MAX_SPEED_DPS,
                             0 < f.accel, f.accel <= ca, R(f.accel) <= HW_MAX_ACCEL_DPS2)))
    return out


def known_gaps() -> list[Result]:
    """Stronger claims z3 refutes (documented in README "Proofs"; the counterexamples are the point)."""
    R = z3.Function("round2", z3.RealSort(), z3.RealSort())
    gt, gs, ga, gmin, gmax = z3.Reals("goal_target goal_speed goal_accel goal_rom_min goal_rom_max")
    cmin, cmax, cs, ca = z3.Reals("cfg_rom_min cfg_rom_max cfg_speed cfg_accel")
    cfg = [HW_MIN_DEG <= cmin, cmin < cmax, cmax <= HW_MAX_DEG, 0 < cs, cs <= HW_MAX_SPEED_DPS,
           0 < ca, ca <= HW_MAX_ACCEL_DPS2]
    f = goal_filter(gt, gs, ga, gmin, gmax, cmin, cmax, cs, ca)
    facts = [R(v) >= v - ROUND_SLACK for v in (f.target, f.speed)] + [R(v) <= v + ROUND_SLACK for v in (f.target, f.speed)]
    return [
        _prove("rounded target inside the unrounded range", cfg + facts + [f.accepted],
               z3.And(f.lo <= R(f.target), R(f.target) <= f.hi)),
        _prove("a positive speed stays positive on the wire", cfg + facts + [f.accepted], R(f.speed) > 0),
    ]
