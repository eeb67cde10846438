"""The motor service asks the real firmware for HEALTH and publishes each window on `motor.health` (real ZeroMQ)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from device.bus.pubsub import Publisher, Subscriber
from device.bus.schemas import MotorGoal
from device.config import Config
from device.motor.config import MotorConfig
from device.motor.service import MotorService

REPO = Path(__file__).resolve().parents[2]


def test_motor_health_follows_a_move_and_resumes_after_an_mcu_restart(sim, runtime_dir):
    cfg = Config(motor=MotorConfig(max_speed_dps=90.0, max_accel_dps2=180.0))
    cfg.bus.runtime_dir = str(runtime_dir)
    svc = MotorService(cfg, runtime_dir)
    svc.setup()
    policy = Publisher("policy", runtime_dir, heartbeat_s=0.2)
    sub = Subscriber(runtime_dir).subscribe("motor", "motor.health", "motor.state")
    health, states = [], []

    def spin(seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            svc.loop.run_once()
            policy.tick()
            for name, msg in sub.poll(0):
                if name in ("motor.health", "motor.state"):
                    (health if name == "motor.health" else states).append(msg)
            if until is not None and until():
                return

    try:
        spin(5.0, until=lambda: len(health) > 10 and states and states[-1].homed)
        assert health, "no motor.health on the bus"
        policy.publish("motor.goal", MotorGoal(t_ns=time.monotonic_ns(), seq=1, target_deg=40.0,
                                               max_speed_dps=90.0, max_accel_dps2=180.0))
        n0 = len(health)
        spin(4.0, until=lambda: len(health) > n0 + 20 and not health[-1].moving and health[-1].settle_ms is not None)
        move = health[n0:]
        assert sum(h.steps for h in move) == 40 * 20                 # each window's steps add up to the move
        assert any(h.moving and h.velocity_dps > 80 for h in move)
        assert abs(move[-1].commanded_deg - 40.0) < 0.01 and abs(move[-1].measured_deg - 40.0) < 0.4
        assert all(h.stall_margin_deg > 2.0 and h.diag_ms == 0 for h in move)   # a healthy turntable
        assert all(b.mcu_ms - a.mcu_ms == 20 for a, b in zip(move, move[1:]))  # one per TELEMETRY, none lost
        assert all(b.t_ns > a.t_ns for a, b in zip(move, move[1:]))
        # The MCU forgets SET_REPORTS on a reset; the service sends it again.
        sim.reset_mcu()
        spin(2.0, until=lambda: svc.mcu_resets_seen >= 1)
        n1 = len(health)
        spin(2.0, until=lambda: len(health) > n1 + 5)
        assert len(health) > n1 + 5 and health[-1].mcu_ms < 3000
        assert svc.health_unpaired <= 2
    finally:
        svc.teardown()
        svc.pub.close()
        svc.sub.close()
        policy.close()
        sub.close()
        svc.ctx.term()


def _run_service(runtime_dir, toml: str, seconds: float):
    """`swivel service motor` as its own process; what it publishes on motor.health and motor.state."""
    cfg_path = runtime_dir / "swivel.toml"
    cfg_path.write_text(toml + '[gpio]\nbackend = "mock"\n')
    env = dict(os.environ, SWIVEL_RUNTIME_DIR=str(runtime_dir))
    proc = subprocess.Popen([sys.executable, "-m", "device", "--config", str(cfg_path), "service", "motor"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sub = Subscriber(runtime_dir).subscribe("motor", "motor.health", "motor.state")
    got = {"motor.health": [], "motor.state": []}
    try:
        deadline = time.monotonic() + 15.0
        started = None
        while time.monotonic() < deadline:
            for name, msg in sub.poll(100):
                if name in got:
                    got[name].append(msg)
            if started is None and any(s.link_ok for s in got["motor.state"]):
                started = time.monotonic()
            if started is not None and time.monotonic() - started > seconds:
                break
    finally:
        sub.close()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    return got


def test_the_service_process_publishes_motor_health(sim, runtime_dir):
    got = _run_service(runtime_dir, '[motor]\nserial_backend = "sim"\n', 1.0)
    h = got["motor.health"]
    assert len(h) >= 30, f"{len(h)} motor.health messages in 1 s"      # 50 Hz
    assert all(not m.moving and m.steps == 0 and m.stall_margin_deg > 2.5 for m in h)
    assert abs(h[-1].measured_deg - sim.angle_deg()) < 0.5


def test_health_reports_off_is_the_old_protocol(sim, runtime_dir):
    got = _run_service(runtime_dir, '[motor]\nserial_backend = "sim"\nhealth_reports = false\n', 1.0)
    assert got["motor.state"] and got["motor.health"] == []
