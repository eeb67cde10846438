"""The policy's side of turntable health (pure core): the sweep through the policy, gentle goals, acknowledgement."""
from __future__ import annotations

from device.bus.schemas import HealthState, MotorState, People
from device.policy.config import PolicyConfig
from device.policy.core import Policy

S = 1_000_000_000


def still(heading: float, t_ns: int) -> MotorState:
    return MotorState(t_ns=t_ns, heading_deg=heading, homed=True)


def fed(p: Policy, heading: float, t_ns: int) -> Policy:
    """Fresh word from the motor and from vision (nobody in view): nothing holds the device still."""
    p.on_motor(still(heading, t_ns), t_ns)
    p.on_people(People(t_ns=t_ns), t_ns)
    return p


def test_gentle_halves_the_acceleration_until_acknowledged_then_back():
    cfg = PolicyConfig()
    p = fed(Policy(cfg, 0), 0.0, S)
    p.tick(S)
    p.cmd_turn(60.0, S)
    g = p.tick(S).goal
    assert g.mode == "move" and g.max_accel_dps2 == cfg.motion.max_accel_dps2
    p.on_health(HealthState(t_ns=3, status="attention", needs_attention=True, kind="snag", gentle=True))
    out = p.tick(S + 1)                     # the move under way takes the gentle acceleration at once
    assert out.goal is not None and out.goal.max_accel_dps2 == cfg.motion.max_accel_dps2 * cfg.motion.gentle_accel_scale
    assert out.state.gentle and 0 < out.goal.max_accel_dps2 <= cfg.motion.max_accel_dps2
    p.cmd_health_ack(S + 2)
    assert p.tick(S + 2).state.health_ack_ns == S + 2
    p.on_health(HealthState(t_ns=5, status="attention", needs_attention=True, kind="snag", acknowledged=True))
    out = p.tick(S + 3)
    assert out.goal.max_accel_dps2 == cfg.motion.max_accel_dps2 and not out.state.gentle


def test_the_health_sweep_is_a_calm_out_and_back_over_the_range():
    cfg = PolicyConfig()
    p = fed(Policy(cfg, 0), 20.0, S)
    p.tick(S)
    p.cmd_health_sweep(S)
    out = p.tick(S + 1)
    assert out.state.mode == "sweeping" and out.goal.source == "sweep"
    assert out.goal.target_deg == cfg.rom.max_deg                      # the nearer end first
    assert out.goal.max_speed_dps == cfg.motion.sweep_speed_dps
    assert out.goal.max_accel_dps2 == min(cfg.motion.sweep_accel_dps2, cfg.motion.max_accel_dps2)
    assert p.task.waypoints == [cfg.rom.max_deg, cfg.rom.min_deg, cfg.rom.max_deg]
