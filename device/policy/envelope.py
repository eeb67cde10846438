"""The goal envelope as z3 formulas: whatever a goal asks, what reaches the MCU lies inside the range of motion and the hardware limits.

Two clamping functions stand between a wish and the motor, and both are written here again as formulas:
- Rom.clamp (device/policy/core.py): the policy's target inside its range of motion;
- GoalFilter.on_goal (device/motor/goals.py): the motor service's own clamp of any goal off the bus (it
  trusts nothing: range, speed and acceleration against its configured limits, then rounded for the wire:
  the range inward, the target clamped into the rounded range, speeds and accelerations never to 0).
tests/proofs/test_envelope.py keeps the formulas in step with the Python: z3 evaluates them on concrete
values hypothesis draws and must get what the Python functions return.

Floats: the functions only compare and take min/max, which are exact on doubles, so reals model them;
Python's round(x, 2) is an uninterpreted function with the facts that hold of it (within 0.005 plus one
ulp of x, monotone, exact on -180 and 180), and goals.wire_up/wire_down (the range rounded inward) two
more with theirs (at or above x, at or below x, within 0.01 plus one ulp), each instantiated where the
proof needs it (tests check the facts on random doubles and on doubles next to every 0.01 step). The firmware's own clamp is proved separately (Frama-C WP, firmware_mcu/proofs).
"""
from __future__ import annotations

from dataclasses import dataclass

import z3

from ..motor.config import HW_MAX_ACCEL_DPS2, HW_MAX_DEG, HW_MAX_SPEED_DPS, HW_MIN_DEG

ROUND_SLACK = z3.RealVal("0.005") + z3.RealVal("1e-12")    # |round(x, 2) - x|, for |x| well below 1e3
INWARD_SLACK = z3.RealVal("0.01") + z3.RealVal("1e-12")    # |wire_up(x) - x|, |wire_down(x) - x|
WIRE_STEP = z3.RealVal("0.01")                             # goals.WIRE_STEP, the least rate on the wire


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
    lo: object              # the range, unrounded
    hi: object
    target: object          # unrounded
    speed: object
    accel: object
    wire_lo: object         # what goes on the wire
    wire_hi: object
    wire_target: object
    wire_speed: object
    wire_accel: object
    wire_cfg_speed: object  # the limits frame's speed and acceleration
    wire_cfg_accel: object


def goal_filter(g_target, g_speed, g_accel, g_rmin, g_rmax, c_rmin, c_rmax, c_speed, c_accel,
                near, up, down) -> FilterOut:
    """GoalFilter.on_goal for a move goal with finite numbers (it rejects the rest before this point).

    near, up, down stand for goals.wire_round, wire_up, wire_down: z3 functions in the proof, the Python
    functions themselves when tests evaluate the formula on concrete values."""
    def rate(x):
        return zmax(near(x), WIRE_STEP)                    # goals.wire_rate
    lo = zmax(c_rmin, zmin(g_rmin, g_rmax))
    hi = zmin(c_rmax, zmax(g_rmin, g_rmax))
    wlo, whi = up(lo), down(hi)
    accepted = z3.And(g_speed > 0, g_accel > 0, z3.Not(lo > hi), z3.Not(wlo > whi))
    target, speed, accel = zmin(zmax(g_target, lo), hi), zmin(g_speed, c_speed), zmin(g_accel, c_accel)
    return FilterOut(accepted, lo, hi, target, speed, accel, wlo, whi, zmin(zmax(near(target), wlo), whi),
                     rate(speed), rate(accel), rate(c_speed), rate(c_accel))


@dataclass
class Result:
    name: str
    proved: bool
    counterexample: str = ""


def _prove(name: str, hyps: list, claim) -> Result:
    """Proved: no model of the hypotheses breaks the claim, and the hypotheses have a model (else any claim
    would follow, say from rounding facts that contradict each other)."""
    s = z3.Solver()
    s.add(*hyps)
    if s.check() != z3.sat:
        return Result(name, False, "the hypotheses contradict each other")
    s.add(z3.Not(claim))
    r = s.check()
    return Result(name, r == z3.unsat, "" if r == z3.unsat else str(s.model()))


def prove_all() -> list[Result]:
    R = z3.Function("round2", z3.RealSort(), z3.RealSort())
    Up = z3.Function("wire_up", z3.RealSort(), z3.RealSort())
    Down = z3.Function("wire_down", z3.RealSort(), z3.RealSort())

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

    def inward_facts(lo, hi):
        """What holds of wire_up and wire_down: never outward, and less than a step plus an ulp inward."""
        return [lo <= Up(lo), Up(lo) <= lo + INWARD_SLACK, hi - INWARD_SLACK <= Down(hi), Down(hi) <= hi]

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
    f = goal_filter(gt, gs, ga, gmin, gmax, cmin, cmax, cs, ca, R, Up, Down)
    facts = rounding_facts(f.target, f.speed, f.accel, cs, ca) + inward_facts(f.lo, f.hi)
    took = cfg + facts + [f.accepted]
    out.append(_prove("motor move inside the limits it sends the MCU", took,
                      z3.And(f.wire_lo <= f.wire_target, f.wire_target <= f.wire_hi)))
    out.append(_prove("motor move and limits inside the unrounded range", took,
                      z3.And(f.lo <= f.wire_lo, f.wire_hi <= f.hi, f.lo <= f.wire_target, f.wire_target <= f.hi)))
    out.append(_prove("motor move inside the hardware range", took,
                      z3.And(HW_MIN_DEG <= f.wire_target, f.wire_target <= HW_MAX_DEG,
                             HW_MIN_DEG <= f.wire_lo, f.wire_hi <= HW_MAX_DEG)))
    out.append(_prove("motor limits inside its configured range", cfg + [f.accepted],
                      z3.And(cmin <= f.lo, f.lo <= f.hi, f.hi <= cmax)))
    out.append(_prove("motor speed and acceleration within config and hardware", took,
                      z3.And(0 < f.speed, f.speed <= cs, f.wire_speed <= HW_MAX_SPEED_DPS,
                             0 < f.accel, f.accel <= ca, f.wire_accel <= HW_MAX_ACCEL_DPS2,
                             f.wire_cfg_speed <= HW_MAX_SPEED_DPS, f.wire_cfg_accel <= HW_MAX_ACCEL_DPS2)))
    out.append(_prove("a positive speed or acceleration never reaches the wire as 0 (the MCU's limit)", took,
                      z3.And(f.wire_speed > 0, f.wire_accel > 0, f.wire_cfg_speed > 0, f.wire_cfg_accel > 0)))
    out.append(_prove("the rounding rejects no range at least 0.02 degrees wide",
                      cfg + inward_facts(f.lo, f.hi) + [gs > 0, ga > 0, f.hi - f.lo >= z3.RealVal("0.02") + 2 * z3.RealVal("1e-12")],
                      f.accepted))
    return out
