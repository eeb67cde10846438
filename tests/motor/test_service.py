"""The motor service on the real firmware: goals over ZeroMQ in, motor.state out, dead man's switch, GPIO."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gpiozero import Device

from device.bus.pubsub import Publisher, Subscriber
from device.bus.schemas import MotorGoal
from device.config import Config
from device.motor.config import MotorConfig
from device.motor.service import MotorService

REPO = Path(__file__).resolve().parents[2]


class Harness:
    """The service in this process (so its mock pins can be inspected), a stand-in policy publisher and
    a motor.state subscriber, all on real ZeroMQ sockets in the test's runtime directory."""

    def __init__(self, runtime_dir: Path, **motor):
        cfg = Config(motor=MotorConfig(**motor))
        cfg.bus.runtime_dir = str(runtime_dir)
        self.svc = MotorService(cfg, runtime_dir)
        self.svc.setup()
        self.policy = Publisher("policy", runtime_dir, heartbeat_s=0.2)
        self.sub = Subscriber(runtime_dir).subscribe("motor", "motor.state")
        self.states = []
        self.seq = 0
        self.goal: MotorGoal | None = None
        self.policy_talks = True

    def send(self, **kw) -> None:
        self.seq += 1
        self.goal = MotorGoal(t_ns=time.monotonic_ns(), seq=self.seq, **kw)
        self.policy.publish("motor.goal", self.goal)

    def spin(self, seconds: float, until=None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.svc.loop.run_once()
            now = time.monotonic()
            if self.policy_talks:
                self.policy.tick()          # heartbeat, and the last goal republished as is every 0.1 s
            for name, msg in self.sub.poll(0):
                if name == "motor.state":
                    self.states.append((now, msg))
            if until is not None and self.states and until(self.states[-1][1]):
                return

    def close(self) -> None:
        self.svc.teardown()
        self.svc.pub.close()
        self.svc.sub.close()
        self.policy.close()
        self.sub.close()
        self.svc.ctx.term()


@pytest.fixture
def rig(sim, runtime_dir):
    h = Harness(runtime_dir, max_speed_dps=90.0, max_accel_dps2=180.0, rom_min_deg=-120, rom_max_deg=120)
    h.spin(1.0, until=lambda s: s.link_ok and s.homed)
    yield h
    h.close()


def test_goal_turns_the_table_and_state_follows(sim, rig):
    assert rig.states and rig.states[-1][1].link_ok and rig.states[-1][1].homed
    rig.send(target_deg=45.0, max_speed_dps=60.0, max_accel_dps2=120.0)
    rig.spin(4.0, until=lambda s: s.goal_seq == rig.seq and not s.moving and abs(s.heading_deg - 45) < 0.1)
    last = rig.states[-1][1]
    assert abs(last.heading_deg - 45.0) < 0.1 and abs(sim.angle_deg() - 45.0) < 0.1
    assert last.goal_seq == rig.seq and last.fault is None and not last.host_timeout
    assert any(s.moving and 0 < s.velocity_dps <= 60.0 * 1.01 for _, s in rig.states)
    # motor.state comes at >= 20 Hz with monotonic capture times.
    recent = [(t, s) for t, s in rig.states if t > rig.states[-1][0] - 1.0]
    assert len(recent) >= 20
    assert all(b.t_ns >= a.t_ns for (_, a), (_, b) in zip(recent, recent[1:]))
    # The idle keepalive reads the MCU's STATUS about once a second: its step-underrun counter (0: the
    # planner kept ahead of the steps) rides on motor.state for the event journal.
    rig.spin(1.5, until=lambda s: s.underruns is not None)
    assert rig.states[-1][1].underruns == 0


def test_goal_beyond_the_range_of_motion_is_clamped(sim, rig):
    rig.send(target_deg=170.0, max_speed_dps=180.0, max_accel_dps2=360.0, rom_min_deg=-150, rom_max_deg=60)
    rig.spin(4.0, until=lambda s: s.goal_seq == rig.seq and not s.moving and s.heading_deg > 59)
    last = rig.states[-1][1]
    assert abs(last.heading_deg - 60.0) < 0.1 and last.at_limit
    speeds = [abs(s.velocity_dps) for _, s in rig.states]
    assert max(speeds) <= 90.0 * 1.01                         # the service's own speed limit, not the goal's


def test_dead_mans_switch_stops_the_motor_when_the_policy_goes_silent(sim, rig):
    rig.send(target_deg=110.0, max_speed_dps=60.0, max_accel_dps2=120.0)
    rig.spin(1.0)
    assert rig.states[-1][1].moving
    rig.policy_talks = False                                  # no goals, no heartbeats
    t_silent = time.monotonic()
    rig.spin(2.5, until=lambda s: not s.moving and time.monotonic() - t_silent > 0.5)
    rig.spin(0.3)
    last = rig.states[-1][1]
    assert not last.moving and "dead man" in (last.fault or "")
    assert not last.host_timeout                              # the service stopped it, the MCU did not have to
    assert sim.angle_deg() < 100.0
    # 0.5 s dead-man timeout + 0.5 s to brake from 60 deg/s at 120 deg/s^2, plus loop slack.
    stopped_at = next(t for t, s in rig.states if t > t_silent and not s.moving)
    assert stopped_at - t_silent < 0.5 + 0.5 + 0.3


def test_stall_and_manual_turn_are_reported(sim, rig):
    sim.add_obstacle(15.0)
    rig.send(target_deg=50.0, max_speed_dps=60.0, max_accel_dps2=120.0)
    rig.spin(3.0, until=lambda s: s.stalled)
    last = rig.states[-1][1]
    assert last.stalled and last.fault.startswith("stall") and not last.moving
    sim.clear_obstacles()
    rig.send(mode="hold")
    rig.spin(0.3)
    sim.hand_push(-20.0, 0.5)
    rig.spin(1.5, until=lambda s: s.manual)
    assert rig.states[-1][1].manual


def test_mcu_restart_is_detected_and_the_heading_survives_it(sim, rig):
    rig.send(target_deg=-30.0, max_speed_dps=90.0, max_accel_dps2=180.0)
    rig.spin(3.0, until=lambda s: s.goal_seq == rig.seq and not s.moving and abs(s.heading_deg + 30) < 0.1)
    sim.reset_mcu()
    rig.spin(2.0, until=lambda s: rig.svc.mcu_resets_seen >= 1 and s.homed and s.link_ok)
    assert rig.svc.mcu_resets_seen == 1 and sim.state().mcu_resets == 1
    last = rig.states[-1][1]
    assert last.homed and abs(last.heading_deg + 30.0) < 0.5    # the absolute sensor says where it is
    rig.send(target_deg=0.0, max_speed_dps=90.0, max_accel_dps2=180.0)
    rig.spin(3.0, until=lambda s: s.goal_seq == rig.seq and not s.moving and abs(s.heading_deg) < 0.1)
    assert abs(sim.angle_deg()) < 360 / 1024      # after a restart the position is good to one sensor count


def test_status_led_and_reset_line(sim, rig):
    led = Device.pin_factory.pin(rig.svc.mc.status_led_pin)
    reset = Device.pin_factory.pin(rig.svc.mc.reset_pin)
    assert led.state                                          # link up, no fault: LED on
    assert reset.state                                        # RESET is active low: high = MCU running
    reset.clear_states()                                      # the mock pin outlives earlier tests' devices
    sim.stop()                                                # the MCU goes silent
    rig.spin(2.0, until=lambda s: not s.link_ok)
    rig.spin(1.5)
    assert not rig.states[-1][1].link_ok and "link" in rig.states[-1][1].fault
    assert not led.state                                      # LED off without a link
    levels = [s.state for s in reset.states]
    assert 0 in levels and levels[-1] == 1                    # pulled low once, released again
    assert rig.svc.reset_pulses >= 1


def test_swivel_service_motor_runs_as_its_own_process(sim, runtime_dir):
    cfg_path = runtime_dir / "swivel.toml"
    cfg_path.write_text('[motor]\nserial_backend = "sim"\nport = "/dev/does-not-exist"\n[gpio]\nbackend = "mock"\n')
    env = dict(os.environ, SWIVEL_RUNTIME_DIR=str(runtime_dir))
    proc = subprocess.Popen([sys.executable, "-m", "device", "--config", str(cfg_path), "service", "motor"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sub = Subscriber(runtime_dir).subscribe("motor", "motor.state")
    try:
        got = None
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and got is None:
            for name, msg in sub.poll(100):
                if name == "motor.state" and msg.link_ok:
                    got = msg
        assert got is not None, "no motor.state with link_ok from `swivel service motor`"
        assert abs(got.heading_deg - sim.angle_deg()) < 0.5
    finally:
        sub.close()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
