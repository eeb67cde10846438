"""Faults mid-motion with real processes: SIGKILL of the policy (the motor's dead man's switch stops the table),
of the motor service (the firmware's host timeout stops it), of vision and of ssl (the policy holds without
them), the serial cable pulled and plugged back, the MCU reset, the camera unplugged; each time the turntable
stops short of its target, and once the process or device is back, motion resumes. The microphones unplugged
and plugged back: ssl says so in its heartbeat and recovers by itself.

The stack is the real one: the simulated world (whose turntable is the real firmware in simavr), vision on the
simulated camera, motor, policy and ssl, each `swivel service NAME` in its own process, as
systemd would run them. Moves are asked for the way an app does, with `swivel motion turn`; devices are
unplugged through the world's control inbox (`device.sim.control`), as a scenario event would. The heading is
the plant's truth (`sim.world`), not what the motor service believes. The cable is a pty relay between the
MCU's pty and the port the motor service opens: unplugging closes it and removes the device node, plugging
back makes a new one under the same name, like a USB serial adapter. Slow (about a minute): marked `slow`.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deploykit import REPO, swivel_executable  # noqa: E402

from device.bus.pubsub import Subscriber  # noqa: E402
from device.sim.control import send_event  # noqa: E402

pytestmark = pytest.mark.slow

SERVICES = ("motor", "ssl", "vision", "policy")
A, B = -140.0, 140.0                 # the two ends the table is sent between (inside the default ROM)
STILL_DEG = 0.3                      # "stopped": the heading moves less than this ...
STILL_WINDOW_S = 0.6                 # ... over this long
SCENE = """# Fault tests: an empty living room; nothing to follow, so only the app's turns move the table.
name = "faults"
duration_s = 3600
[room]
size_m = [6.0, 5.0, 2.7]
device_m = [3.0, 2.5, 0.9]
"""


class SerialCable:
    """A pty relay standing for the cable between the MCU's UART and the Pi: unplug() and plug() it."""

    def __init__(self, mcu_path: Path, port_path: Path):
        self.mcu_path, self.port_path = mcu_path, port_path
        # Non-blocking both ends: with nobody reading (the port closed, the motor restarting) a pty's
        # buffer fills and a blocking write would wedge the relay. A cable with no listener loses bytes.
        self.mcu = os.open(os.path.realpath(mcu_path), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.mcu)
        self.master = self.slave = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._lock = threading.Lock()
        self._thread.start()

    def plug(self) -> None:
        with self._lock:
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self.master, self.slave = master, slave
            tmp = self.port_path.with_suffix(".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(os.ttyname(slave))
            tmp.rename(self.port_path)                       # the device node appears

    def unplug(self) -> None:
        with self._lock:
            self.port_path.unlink(missing_ok=True)           # the device node goes ...
            for fd in (self.master, self.slave):             # ... and the open port hangs up
                if fd is not None:
                    os.close(fd)
            self.master = self.slave = None

    def _pump(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                fds = [self.mcu] + ([self.master] if self.master is not None else [])
            try:
                ready, _, _ = select.select(fds, [], [], 0.01)
            except (OSError, ValueError):
                continue
            with self._lock:
                for fd in ready:
                    try:
                        data = os.read(fd, 4096)
                    except OSError:                          # EAGAIN, or EIO while an end is closed
                        continue
                    try:
                        if fd == self.mcu:
                            if self.master is not None:      # unplugged: the MCU talks to nobody
                                os.write(self.master, data)
                        elif fd == self.master and data:
                            os.write(self.mcu, data)
                    except OSError:                          # full (EAGAIN) or gone (EIO): drop the bytes
                        pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.unplug()
        os.close(self.mcu)


class Stack:
    def __init__(self, rdir: Path):
        self.rdir = rdir
        self.cfg = rdir / "swivel.toml"
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ, SWIVEL_RUNTIME_DIR=str(rdir), PYTHONUNBUFFERED="1")
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            self.env.pop(k, None)
        self.sub = (Subscriber(rdir).subscribe("world", "sim.world").subscribe("policy", "policy.state")
                    .subscribe("motor", "motor.state"))
        for s in SERVICES:
            self.sub.subscribe(s)
        self.trace: list[tuple[float, float]] = []      # (monotonic, true heading)
        self.policy_state = None
        self.motor_state = None

    def spawn(self, name: str, argv: list[str]) -> None:
        with open(self.rdir / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, cwd=self.rdir)

    def start_service(self, name: str) -> None:
        self.spawn(name, [str(swivel_executable()), "--config", str(self.cfg), "service", name])

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            for topic, msg in self.sub.poll(20):
                if topic == "sim.world":
                    self.trace.append((time.monotonic(), msg.heading_deg))
                elif topic == "policy.state":
                    self.policy_state = msg
                elif topic == "motor.state":
                    self.motor_state = msg
            if time.monotonic() >= end:
                return

    def heading(self) -> float:
        return self.trace[-1][1]

    def alive(self, name: str) -> bool:
        return self.sub.alive(name, 1.0)

    def wait(self, cond, timeout: float, what: str):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump(0.05)
            if cond():
                return
        raise AssertionError(f"{what}: not within {timeout} s; heading {self.trace[-1:]}; "
                             f"policy {getattr(self.policy_state, 'decision', None)}\n{self.logs()}")

    def motion(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(swivel_executable()), "motion", "--runtime-dir", str(self.rdir), *args],
                              capture_output=True, text=True, timeout=30, env=self.env)

    def logs(self, lines: int = 12) -> str:
        out = []
        for p in sorted(self.rdir.glob("*.log")):
            tail = p.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {p.name}\n" + "\n".join(tail))
        return "\n".join(out)

    def stop(self) -> None:
        for name in ["policy", "ssl", "vision", "motor", "world"]:
            p = self.procs.get(name)
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.sub.close()


@pytest.fixture(scope="module")
def stack():
    build = subprocess.run(["make", "-s", "-C", str(REPO / "firmware_mcu"), "all", "sim"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    rdir = Path(tempfile.mkdtemp(prefix="swf-", dir="/tmp"))      # ipc:// paths must stay short
    (rdir / "scene.toml").write_text(SCENE)
    port = rdir / "cable.tty"
    (rdir / "swivel.toml").write_text(f"""# Fault tests: simulated backends; the motor reaches the MCU through the test's cable.
[bus]
runtime_dir = "{rdir}"
[gpio]
backend = "mock"
[ssl]
backend = "sim"
[vision]
camera_backend = "sim"
[motor]
serial_backend = "serial"
port = "{port}"
[policy]
state_file = "{rdir / 'policy-state.json'}"
""")
    st = Stack(rdir)
    cable = None
    try:
        st.spawn("world", [sys.executable, "-m", "device.sim.world", "--scenario", str(rdir / "scene.toml"),
                           "--runtime-dir", str(rdir), "--fast-plant",
                           "--wait-for", ",".join(SERVICES)])      # only these run here (no wake engine, no web)
        end = time.monotonic() + 30
        while not (rdir / "mcu.pty").exists():
            assert time.monotonic() < end and st.procs["world"].poll() is None, st.logs()
            time.sleep(0.1)
        cable = SerialCable(rdir / "mcu.pty", port)
        cable.plug()
        st.cable = cable
        for s in SERVICES:
            st.start_service(s)
        st.wait(lambda: all(st.alive(s) for s in SERVICES) and st.trace, 120, "every service up")
        # Ready to move: the policy sees the motor and vision (no hold left but the ones of an empty room).
        st.wait(lambda: st.policy_state is not None and not {"motor_fault", "vision_unavailable", "ssl_unavailable"}
                & set(st.policy_state.holds), 60, "policy without motor/vision holds")
        _resumes(st, A)                                  # every test then turns a long way, A <-> B
        yield st
    finally:
        st.stop()
        if cable:
            cable.close()


def _turn(st: Stack, target: float) -> None:
    """Ask for a turn like an app; retried while the policy still holds (it may have just restarted)."""
    end = time.monotonic() + 30
    while True:
        res = st.motion("turn", f"{target:g}")
        if res.returncode == 0:
            return
        assert time.monotonic() < end, res.stdout + res.stderr
        st.pump(0.5)


def _stopped_after(st: Stack, t0: float, window_s: float = STILL_WINDOW_S) -> float | None:
    """First time after t0 from which the heading stays within STILL_DEG for window_s, or None."""
    pts = [(t, h) for t, h in st.trace if t >= t0]
    for i, (t, h) in enumerate(pts):
        later = [h2 for t2, h2 in pts[i:] if t2 <= t + window_s]
        if pts[-1][0] >= t + window_s and max(later) - min(later) < STILL_DEG:
            return t
    return None


def _fault_mid_motion(st: Stack, target: float, fault, limit_s: float, at: float = 0.25,
                      short_deg: float = 60.0) -> tuple[float, float]:
    """Start a long turn, apply the fault `at` of the way, check the table stops at least short_deg short
    of the target within limit_s; return (time it took, heading at the fault)."""
    start = st.heading()
    _turn(st, target)
    st.wait(lambda: abs(st.heading() - start) > abs(target - start) * at, 20, "motion under way")
    t_fault, h_fault = time.monotonic(), st.heading()
    fault()
    st.pump(limit_s + STILL_WINDOW_S + 1.0)
    t_still = _stopped_after(st, t_fault)
    assert t_still is not None, f"still turning {limit_s + 1:.1f} s after the fault: {st.trace[-5:]}"
    assert t_still - t_fault < limit_s, f"stopped only {t_still - t_fault:.2f} s after the fault"
    h_stop = st.heading()
    print(f"fault at {h_fault:.1f} deg: still {t_still - t_fault:.2f} s later at {h_stop:.1f} deg (target {target:g})")
    assert abs(target - h_stop) > short_deg, f"reached {h_stop:.1f} (target {target}) despite the fault"
    st.pump(1.0)
    assert abs(st.heading() - h_stop) < STILL_DEG, "moved again while the fault lasted"
    return t_still - t_fault, h_fault


def _resumes(st: Stack, target: float) -> None:
    """Normal behaviour is back: the app's turn is taken and carried out. A turn that a hold cancels (the
    motor still reconnecting, or a link that drops for a moment on a loaded machine: the policy stops and
    drops the goal, as it should) is asked for again, as an app that sees the hold in policy.state would."""
    end = time.monotonic() + 60
    while True:
        st.wait(lambda: st.policy_state is not None and not st.policy_state.holds, 30, "policy without holds")
        _turn(st, target)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            st.pump(0.2)
            if abs(st.heading() - target) < 2.0 and _stopped_after(st, time.monotonic() - 1.0, 0.5):
                return
            cancelled = st.policy_state is not None and (st.policy_state.mode, st.policy_state.target_source) != ("turning", "api")
            if time.monotonic() - t0 > 1.5 and cancelled and _stopped_after(st, time.monotonic() - 1.0, 0.8):
                print(f"turn to {target:g} ended at {st.heading():.1f}: {st.policy_state.reason}; asking again")
                break
        assert time.monotonic() < end, f"not at {target} (heading {st.heading():.1f})\n{st.logs()}"


def _target(st: Stack) -> float:
    return B if st.heading() < 0 else A


def test_policy_sigkill_mid_motion_deadman_stops_and_restart_resumes(stack):
    target = _target(stack)
    policy = stack.procs["policy"]
    # Dead man's switch (0.5 s) plus braking from full speed (~0.5 s); the limit leaves room for a loaded machine.
    took, _ = _fault_mid_motion(stack, target, lambda: policy.send_signal(signal.SIGKILL), limit_s=2.5)
    assert policy.wait(5) == -signal.SIGKILL
    stack.start_service("policy")                     # what Restart=on-failure does
    stack.wait(lambda: stack.alive("policy"), 60, "policy back")
    _resumes(stack, target)


def test_motor_sigkill_mid_motion_firmware_stops_and_restart_resumes(stack):
    target = _target(stack)
    motor = stack.procs["motor"]
    # The firmware's host timeout (250 ms) plus braking (~0.5 s), in the simulator's time (it may lag).
    took, _ = _fault_mid_motion(stack, target, lambda: motor.send_signal(signal.SIGKILL), limit_s=2.0)
    assert motor.wait(5) == -signal.SIGKILL
    stack.start_service("motor")
    stack.wait(lambda: stack.alive("motor"), 60, "motor back")
    _resumes(stack, target)


def test_serial_cable_pulled_mid_motion_then_plugged_back(stack):
    target = _target(stack)
    took, _ = _fault_mid_motion(stack, target, stack.cable.unplug, limit_s=2.0)
    stack.pump(2.0)                                   # out for a while
    assert stack.procs["motor"].poll() is None, "the motor service must ride out a lost port"
    stack.cable.plug()
    _resumes(stack, target)
    assert stack.procs["motor"].poll() is None


@pytest.mark.parametrize("name", ["vision", "ssl"])
def test_sensor_service_sigkill_mid_motion_policy_holds_and_restart_resumes(stack, name):
    # Without vision the shutter state is unknown; without ssl the device is not whole: the policy holds
    # (after vision_timeout_s or heartbeat_timeout_s, 2 s each), which stops the turn, until systemd has
    # the service back. Early in a long turn, so the hold lands well before the end.
    target = _target(stack)
    proc = stack.procs[name]
    hold = "vision_unavailable" if name == "vision" else "ssl_unavailable"
    _fault_mid_motion(stack, target, lambda: proc.send_signal(signal.SIGKILL), limit_s=4.5, at=0.08,
                      short_deg=15.0)
    assert proc.wait(5) == -signal.SIGKILL
    assert hold in stack.policy_state.holds, stack.policy_state.holds
    stack.start_service(name)
    stack.wait(lambda: stack.alive(name), 90, f"{name} back")
    _resumes(stack, target)


def test_mcu_reset_mid_motion_is_detected_and_recovered(stack):
    target = _target(stack)
    motor_log = stack.rdir / "motor.log"
    restarts_before = motor_log.read_text(errors="replace").count("MCU restarted")
    start = stack.heading()
    _turn(stack, target)
    stack.wait(lambda: abs(stack.heading() - start) > abs(target - start) / 4, 20, "motion under way")
    send_event(stack.rdir, "mcu_reset")
    # The rebooted MCU is noticed at its first telemetry (its uptime went back) and told everything again:
    # limits, where it stands (the absolute angle sensor survives the reset) and the goal, so the turn goes on.
    stack.wait(lambda: motor_log.read_text(errors="replace").count("MCU restarted") > restarts_before, 10,
               "the motor service noticing the restart")
    assert stack.procs["motor"].poll() is None
    stack.wait(lambda: abs(stack.heading() - target) < 2.0 and _stopped_after(stack, time.monotonic() - 1.0, 0.5),
               30, f"reaching {target} after the reset")
    # What the motor service believes is what the table does: no offset crept in through the reboot.
    stack.wait(lambda: stack.motor_state is not None and not stack.motor_state.moving, 5, "motor at rest")
    assert abs(stack.motor_state.heading_deg - stack.heading()) < 1.0, (stack.motor_state.heading_deg, stack.heading())
    _resumes(stack, _target(stack))


def test_camera_unplugged_mid_motion_stops_then_plugged_back_resumes(stack):
    target = _target(stack)
    # Vision reports itself blind at its next frame; the policy holds (shutter state unknown) and stops.
    _fault_mid_motion(stack, target, lambda: send_event(stack.rdir, "camera_unplug"), limit_s=3.0)
    assert "vision_unavailable" in stack.policy_state.holds
    assert any("camera" in r for r in stack.policy_state.hold_reasons), stack.policy_state.hold_reasons
    assert stack.procs["vision"].poll() is None, "vision must ride out a lost camera"
    send_event(stack.rdir, "camera_plug")
    _resumes(stack, target)


def test_microphones_unplugged_then_plugged_back(stack):
    send_event(stack.rdir, "mics_unplug")
    stack.wait(lambda: stack.sub.heartbeat_state.get("ssl") == "degraded", 10, "ssl reporting lost audio")
    assert stack.procs["ssl"].poll() is None, "ssl must ride out lost microphones"
    send_event(stack.rdir, "mics_plug")
    stack.wait(lambda: stack.sub.heartbeat_state.get("ssl") == "running", 10, "ssl hearing again")
    log = (stack.rdir / "ssl.log").read_text(errors="replace")
    assert "audio input lost" in log and "audio input back" in log
    # Sound lost is not a reason to stand still: the app's turns went on being taken throughout.
    assert stack.policy_state is not None and "ssl_unavailable" not in stack.policy_state.holds
