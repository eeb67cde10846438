"""Motion of the real firmware under simavr, measured from the STEP-pin edges the harness records."""
from __future__ import annotations

import time

import pytest

from device.motor.protocol import AckResult, Fault, Flags
from device.sim.turntable import CPU_HZ, peak_speed_accel, step_times

STEPS_PER_DEG = 20


def at_rest(link) -> bool:
    """A fresh telemetry frame says the motor is not moving (no frame yet: not known to be at rest)."""
    t = link.wait_telemetry(0.3)
    return t is not None and not t.flags & Flags.MOVING


def flagged(link, flag) -> bool:
    t = link.wait_telemetry(0.3)
    return t is not None and bool(t.flags & flag)


def run_move(sim, link, keep_alive, target_deg, vmax, amax, timeout_s=4.0):
    before = len(sim.step_edges())
    assert link.move(target_deg, vmax, amax) in (AckResult.OK, AckResult.CLAMPED)
    keep_alive(link, timeout_s, until=lambda: at_rest(link))
    return sim.step_edges()[before:]


@pytest.mark.parametrize("target,vmax,amax", [(90.0, 180.0, 360.0), (-40.0, 60.0, 90.0)])
def test_speed_and_accel_stay_within_commanded_limits(sim, link, keep_alive, target, vmax, amax):
    assert link.set_limits(-180, 180, 180, 360) == AckResult.OK
    edges = run_move(sim, link, keep_alive, target, vmax, amax)
    times, pos = step_times(edges)
    peak_v, peak_a = peak_speed_accel(times)
    peak_v_deg, peak_a_deg = peak_v / STEPS_PER_DEG, peak_a / STEPS_PER_DEG
    assert peak_v_deg <= vmax * 1.01, f"peak speed {peak_v_deg:.2f} deg/s over {vmax}"
    assert peak_a_deg <= amax * 1.01, f"peak accel {peak_a_deg:.2f} deg/s^2 over {amax}"
    # The profile really used its limits (a test that never reaches them proves nothing).
    assert peak_v_deg >= vmax * 0.97 and peak_a_deg >= amax * 0.9
    assert link.status().step_underruns == 0                # the planner always kept ahead of the steps
    # Ends on the exact target step count, all steps in one direction.
    assert abs(pos[-1]) == abs(round(target * STEPS_PER_DEG)) == len(pos)
    assert sim.state().motor_steps == round(target * STEPS_PER_DEG)
    # The 90-degree move at the hardware limits takes the physical minimum of 1.0 s: first to last
    # edge is that minus the first step's own interval, sqrt(2 / a) = 16.7 ms.
    if target == 90.0:
        assert 0.975 <= times[-1] - times[0] <= 1.0


def test_soft_limits_hold_when_the_host_asks_for_more(sim, link, keep_alive):
    assert link.set_limits(-30, 25, 90, 180) == AckResult.OK
    edges = run_move(sim, link, keep_alive, 120.0, 90, 180)
    assert link.telemetry.flags & Flags.AT_LIMIT
    assert sim.state().motor_steps == 25 * STEPS_PER_DEG
    # Speed and accel above the limits are clamped too (ACK says so).
    assert link.move(-170, 500, 5000) == AckResult.CLAMPED
    keep_alive(link, 3.0, until=lambda: at_rest(link))
    assert sim.state().motor_steps == -30 * STEPS_PER_DEG
    edges = sim.step_edges()
    times, _ = step_times([e for e in edges[len(edges) - 55 * STEPS_PER_DEG:]])
    peak_v, peak_a = peak_speed_accel(times)
    assert peak_v / STEPS_PER_DEG <= 90 * 1.01 and peak_a / STEPS_PER_DEG <= 180 * 1.01
    # A host asking for more than the hardware can do gets the hardware's limits.
    assert link.set_limits(-999, 999, 1000, 9000) == AckResult.CLAMPED
    st = link.status()
    assert (st.min_deg, st.max_deg, st.vmax_deg_s, st.amax_deg_s2) == (-180, 180, 180, 360)


def test_host_silence_stops_the_motor_within_250ms_plus_deceleration(sim, link, keep_alive):
    vmax, amax = 90.0, 180.0
    assert link.move(170.0, vmax, amax) == AckResult.OK
    keep_alive(link, 0.8)                 # cruising at vmax by now (0.5 s to accelerate)
    t_silent = time.monotonic()
    time.sleep(1.5)                       # say nothing
    _, last_rx = sim.sync()
    edges = sim.step_edges()
    times, pos = step_times(edges)
    stop_delay = times[-1] - last_rx / CPU_HZ
    decel_s = vmax / amax
    assert stop_delay <= 0.250 + decel_s + 0.03, f"stopped {stop_delay:.3f} s after the last host byte"
    assert stop_delay >= 0.250, "stopped before the host had been silent for 250 ms"
    assert abs(pos[-1]) < 170 * STEPS_PER_DEG, "it went all the way instead of stopping"
    # The stop was a controlled deceleration, not a crash stop.
    tail = [t for t in times if t >= times[-1] - decel_s - 0.05]
    _, peak_a = peak_speed_accel(tail)
    assert peak_a / STEPS_PER_DEG <= amax * 1.01
    tel = link.wait_telemetry(1.0)
    assert tel.flags & Flags.HOST_TIMEOUT and not tel.flags & Flags.MOVING
    assert link.status().host_timeouts >= 1
    assert time.monotonic() - t_silent > 1.0


def test_obstacle_is_detected_as_a_stall_and_motion_stops(sim, link, keep_alive):
    sim.add_obstacle(20.0)
    assert link.move(80.0, 60, 120) == AckResult.OK
    keep_alive(link, 3.0, until=lambda: flagged(link, Flags.STALLED))
    keep_alive(link, 0.3)
    tel = link.telemetry
    assert tel.flags & Flags.STALLED and tel.flags & Flags.FAULT and not tel.flags & Flags.MOVING
    assert tel.fault == Fault.STALL_DIAG and tel.fault_reason.startswith("stall")
    st = sim.state()
    assert abs(st.angle_deg - 20.0) < 0.01                     # it never got past the obstacle
    assert st.lost_steps < STEPS_PER_DEG                       # StallGuard: within a degree of lost steps
    steps_then = st.motor_steps
    keep_alive(link, 0.5)
    assert sim.state().motor_steps == steps_then               # and it stays stopped
    assert abs(tel.position_deg - 20.0) < 1.0                  # position re-synced to the sensor
    # It does not push into the obstacle again, but moves away freely.
    assert link.move(60.0, 60, 120) == AckResult.CLAMPED
    keep_alive(link, 0.5)
    assert sim.state().lost_steps == st.lost_steps
    assert link.move(-10.0, 60, 120) == AckResult.OK
    keep_alive(link, 2.0, until=lambda: at_rest(link))
    assert abs(sim.angle_deg() - (-10.0)) < 0.5
    assert link.status().stalls == 1


def test_hand_push_is_reported_as_manual_and_the_driver_lets_go(sim, link, keep_alive):
    assert link.hold() == AckResult.OK
    keep_alive(link, 0.2)
    assert link.telemetry.flags & Flags.ENABLED
    sim.hand_push(30.0, 0.6)
    seen_manual = []
    keep_alive(link, 1.0, until=lambda: (seen_manual.append(link.telemetry.flags) or
                                         bool(link.telemetry.flags & Flags.MANUAL)))
    tel = link.telemetry
    assert tel.flags & Flags.MANUAL and not tel.flags & Flags.ENABLED
    keep_alive(link, 1.5)                 # push ends, then 0.5 s still -> manual clears, holds again
    tel = link.wait_telemetry(1.0) or link.telemetry
    assert not tel.flags & Flags.MANUAL and tel.flags & Flags.ENABLED
    assert abs(sim.angle_deg() - 30.0) < 0.01
    assert abs(tel.position_deg - 30.0) < 0.5 and abs(tel.measured_deg - 30.0) < 0.5
    assert link.status().manual_turns == 1
    assert sim.state().motor_steps == 0   # the firmware never fought the hand


def test_lost_steps_are_caught_by_the_angle_sensor_alone(sim, link, keep_alive):
    sim.set_stallguard(False)                 # a driver whose StallGuard never fires
    sim.add_obstacle(-12.0)
    assert link.move(-60.0, 45, 90) == AckResult.OK
    keep_alive(link, 3.0, until=lambda: flagged(link, Flags.STALLED))
    keep_alive(link, 0.2)
    tel = link.telemetry
    assert tel.flags & Flags.STALLED and not tel.flags & Flags.MOVING and not tel.flags & Flags.DIAG
    assert tel.fault == Fault.STALL_SENSOR
    st = sim.state()
    # Detected once commanded and measured diverged by the 3-degree threshold (plus a sensor count).
    assert 3 * STEPS_PER_DEG <= st.lost_steps <= 4 * STEPS_PER_DEG
    assert abs(tel.position_deg - (-12.0)) < 0.5


def test_set_zero_and_home(sim, link, keep_alive):
    assert link.move(30.0, 90, 180) == AckResult.OK
    keep_alive(link, 2.0, until=lambda: at_rest(link))
    assert link.set_zero() == AckResult.OK                    # here becomes 0 (stored in EEPROM)
    tel = link.wait_telemetry(1.0) or link.telemetry
    assert tel.flags & Flags.HOMED and abs(tel.position_deg) < 0.2 and abs(tel.measured_deg) < 0.2
    assert link.move(-10.0, 90, 180) == AckResult.OK          # -10 in the new frame = 20 in the table's
    keep_alive(link, 2.0, until=lambda: at_rest(link))
    assert abs(sim.angle_deg() - 20.0) < 0.4
    sim.reset_mcu()                                           # the stored zero survives a restart
    keep_alive(link, 1.0, until=lambda: flagged(link, Flags.HOMED))
    assert link.home() == AckResult.OK
    tel = link.wait_telemetry(1.0) or link.telemetry
    assert tel.flags & Flags.HOMED and abs(tel.position_deg - (-10.0)) < 0.4
    assert link.move(5.0, 90, 180) == AckResult.OK
    assert link.set_zero() == AckResult.REJECTED              # only at rest
