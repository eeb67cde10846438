"""The simulated turntable: the real firmware in the libsimavr harness, its UART on a pty, a plant model behind it."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..run.reaper import die_with_parent

CPU_HZ = 16_000_000
REPO = Path(__file__).resolve().parents[2]
FIRMWARE_BUILD = REPO / "firmware_mcu" / "build"
DEFAULT_ELF = FIRMWARE_BUILD / "swivel.elf"
HARNESS = FIRMWARE_BUILD / "swivel-sim"
PTY_LINK = "mcu.pty"

# Turntable faults the plant can model (firmware_mcu/sim/plant.h), with what each severity means.
FAULT_KINDS = {
    "friction": "extra load, a fraction of the motor's holding torque (everywhere, or a sector at angle_deg)",
    "snag": "load at angle_deg (width_deg wide, default 6), a fraction of the holding torque; >= 1 stalls there",
    "belt_slip": "fraction of the motor's travel the table loses at the normal running load (e.g. 0.01)",
    "backlash": "dead band on reversal, degrees",
    "sensor_offset": "degrees added to the angle sensor's reading (the magnet shifted)",
    "sensor_noise": "noise on each angle reading, degrees RMS",
}


@dataclass(frozen=True)
class PlantState:
    """One report line of the harness."""
    sim_s: float           # simulated time since the harness started
    angle_deg: float       # true turntable heading (world degrees)
    motor_steps: int       # steps the driver executed
    enabled: bool          # driver energised (EN low)
    diag: bool             # DIAG line as the plant drives it
    lost_steps: int        # steps eaten by obstacles
    step_edges: int        # STEP rising edges seen (enabled or not)
    mcu_resets: int        # MCU resets seen by the harness (watchdog or reset_mcu)


class SimTurntable:
    """Runs firmware_mcu's harness; the motor service reaches the firmware through `<runtime_dir>/mcu.pty`.

    fast_plant=True makes the harness lighter for whole-stack runs on a busy machine: the angle sensor
    is refreshed once per simulated millisecond instead of on every step and no step log is written.
    The firmware, its timing and the serial link are the same either way. Tests that measure step
    timing (tests/firmware) and every scenario run use the default; the fault tests use fast_plant.
    """

    def __init__(self, runtime_dir: Path, elf: Path | None = None, fast_plant: bool = False, *,
                 step_log: bool | None = None, start_angle_deg: float = 0.0, speed: float = 1.0,
                 isr_probe: tuple[int, int] | None = None):
        self.runtime_dir = Path(runtime_dir)
        self.elf = Path(elf) if elf else DEFAULT_ELF
        self.fast_plant = fast_plant
        self.step_log_path: Path | None = None
        if step_log if step_log is not None else not fast_plant:
            self.step_log_path = self.runtime_dir / "mcu-steps.log"
        self.isr_log_path: Path | None = self.runtime_dir / "mcu-isr.log" if isr_probe else None
        self.isr_probe = isr_probe
        self.start_angle_deg = start_angle_deg
        self.speed = speed
        self.pty_link = self.runtime_dir / PTY_LINK
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._replies: queue.Queue[str] = queue.Queue()
        self._state: PlantState | None = None
        self._state_cv = threading.Condition()
        self._cmd_lock = threading.Lock()
        self.pty_path: str | None = None
        self.crashed: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self, timeout_s: float = 5.0) -> "SimTurntable":
        for path, what in ((HARNESS, "the simavr harness"), (self.elf, "the firmware")):
            if not path.exists():
                raise UserError(f"{what} is not built ({path}); run `make firmware` first")
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(HARNESS), "--elf", str(self.elf), "--pty-link", str(self.pty_link),
               "--speed", str(self.speed), "--angle", str(self.start_angle_deg)]
        if self.step_log_path:
            cmd += ["--steplog", str(self.step_log_path)]
        if self.isr_probe and self.isr_log_path:
            cmd += ["--isrlog", str(self.isr_log_path), "--isr", f"{self.isr_probe[0]:x}:{self.isr_probe[1]}"]
        if self.fast_plant:
            cmd.append("--fast-plant")
        # It dies with the thread that starts it (the world's main thread, a test), even one that is SIGKILLed.
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                      preexec_fn=die_with_parent(signal.SIGTERM))
        self._reader = threading.Thread(target=self._read_stdout, name="simavr-harness", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout_s
        with self._state_cv:
            while self._state is None:
                left = deadline - time.monotonic()
                if left <= 0 or self._proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("the simavr harness did not start")
                self._state_cv.wait(left)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.stdin.write("quit\n")
                proc.stdin.flush()
                proc.wait(timeout=2.0)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        try:
            if self.pty_link.is_symlink() and os.readlink(self.pty_link) == self.pty_path:
                self.pty_link.unlink()
        except OSError:
            pass

    def __enter__(self) -> "SimTurntable":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- harness output -----------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "state" and len(parts) == 9:
                st = PlantState(float(parts[1]), float(parts[2]), int(parts[3]), parts[4] == "1",
                                parts[5] == "1", int(parts[6]), int(parts[7]), int(parts[8]))
                with self._state_cv:
                    self._state = st
                    self._state_cv.notify_all()
            elif parts[0] == "pty":
                self.pty_path = parts[1]
            elif parts[0] in ("ok", "error"):
                self._replies.put(line.strip())
            elif parts[0] == "crashed":
                self.crashed = line.strip()
        with self._state_cv:
            self._state_cv.notify_all()

    def _command(self, line: str, timeout_s: float = 2.0) -> str:
        with self._cmd_lock:
            if not self.running:
                raise RuntimeError("the simavr harness is not running")
            while not self._replies.empty():
                self._replies.get_nowait()
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
            try:
                reply = self._replies.get(timeout=timeout_s)
            except queue.Empty:
                raise RuntimeError(f"the simavr harness did not answer {line!r}") from None
        if reply.startswith("error"):
            raise ValueError(reply)
        return reply

    # -- the world's view ---------------------------------------------------------------------------
    def state(self) -> PlantState:
        with self._state_cv:
            if self._state is None:
                raise RuntimeError("the simavr harness has not reported yet")
            return self._state

    def angle_deg(self) -> float:
        return self.state().angle_deg

    def wait_sim_time(self, sim_s: float, timeout_s: float = 10.0) -> PlantState:
        """Block until the harness has simulated up to sim_s."""
        deadline = time.monotonic() + timeout_s
        with self._state_cv:
            while self._state is None or self._state.sim_s < sim_s:
                left = deadline - time.monotonic()
                if left <= 0 or not self.running:
                    raise TimeoutError(f"simulation did not reach {sim_s:.3f} s")
                self._state_cv.wait(left)
            return self._state

    def add_obstacle(self, world_deg: float) -> None:
        self._command(f"obstacle {float(world_deg):.4f}")

    def set_stallguard(self, enabled: bool) -> None:
        """Off: the driver's DIAG line never rises, so only the angle sensor can notice a stall."""
        self._command(f"diag {1 if enabled else 0}")

    def clear_obstacles(self) -> None:
        self._command("clear")

    def set_fault(self, kind: str, severity: float, angle_deg: float | None = None,
                  width_deg: float | None = None) -> None:
        """Inject a fault in the plant (FAULT_KINDS); setting a kind again replaces it, severity 0 removes it."""
        if kind not in FAULT_KINDS:
            raise UserError(f"unknown turntable fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if kind == "snag" and angle_deg is None:
            raise UserError("a snag needs angle_deg")
        if width_deg is not None and angle_deg is None:
            raise UserError(f"{kind}: width_deg needs angle_deg")
        if severity < 0 and kind != "sensor_offset":
            raise UserError(f"{kind}: severity must be >= 0, got {severity}")
        line = f"fault {kind} {float(severity):.6f}"
        if angle_deg is not None:
            line += f" {float(angle_deg):.4f}"
            if width_deg is not None:
                if width_deg <= 0:
                    raise UserError(f"{kind}: width_deg must be > 0, got {width_deg}")
                line += f" {float(width_deg):.4f}"
        self._command(line)

    def clear_faults(self) -> None:
        """The healthy turntable again (obstacles are separate: clear_obstacles)."""
        self._command("clear_faults")

    def hand_push(self, delta_deg: float, duration_s: float = 0.5) -> None:
        self._command(f"push {float(delta_deg):.4f} {float(duration_s):.4f}")

    def reset_mcu(self) -> None:
        self._command("reset")

    def sync(self) -> tuple[int, int]:
        """Flush the step log; returns (simulated cycle now, cycle at which the last host byte arrived)."""
        parts = self._command("sync").split()
        return int(parts[2]), int(parts[3])

    def step_edges(self) -> list[tuple[int, int, bool]]:
        """Every STEP rising edge so far: (cycle, direction +1/-1, driver enabled)."""
        if self.step_log_path is None:
            raise RuntimeError("this turntable was started without a step log")
        self.sync()
        edges = []
        with open(self.step_log_path) as f:
            for line in f:
                c, d, e = line.split()
                edges.append((int(c), int(d), e == "1"))
        return edges

    def summary(self) -> dict:
        st = self._state
        return {"angle_deg": st.angle_deg if st else None, "motor_steps": st.motor_steps if st else None,
                "lost_steps": st.lost_steps if st else None, "sim_s": st.sim_s if st else None,
                "mcu_resets": st.mcu_resets if st else None,
                "crashed": self.crashed}


def step_times(edges: list[tuple[int, int, bool]]) -> tuple[list[float], list[int]]:
    """Seconds and cumulative position (steps) of each executed step edge."""
    times, pos, p = [], [], 0
    for cycle, d, enabled in edges:
        if not enabled:
            continue
        p += d
        times.append(cycle / CPU_HZ)
        pos.append(p)
    return times, pos


def velocity_windows(times: list[float], window_s: float = 0.005) -> list[tuple[float, float]]:
    """(mid time, speed in steps/s) over consecutive windows of at least window_s, in one direction.

    For uniform acceleration the mean speed over an interval equals the speed at its midpoint, and a
    window of several milliseconds keeps the step timing jitter (a few microseconds) below 0.2 %.
    """
    out, i, n = [], 0, len(times)
    while i < n - 1:
        j = i + 1
        while j < n - 1 and times[j] - times[i] < window_s:
            j += 1
        dt = times[j] - times[i]
        if dt > 0:
            out.append(((times[i] + times[j]) / 2, (j - i) / dt))
        i = j
    return out


def peak_speed_accel(times: list[float], window_s: float = 0.005, fit_s: float = 0.04) -> tuple[float, float]:
    """Peak speed (steps/s) and peak |acceleration| (steps/s^2) of one move, from its step times.

    Acceleration is twice the curvature of a least-squares parabola fitted to position over time in
    sliding windows of fit_s: a constant-acceleration stretch is exactly a parabola, and the fit
    averages out the interrupt-latency jitter of single edges. Across a change of acceleration the fit
    blends both sides, so it can only under-estimate the peak, never over-estimate it.
    """
    import numpy as np

    v = velocity_windows(times, window_s)
    if not v:
        return 0.0, 0.0
    peak_v = max(s for _, s in v)
    t = np.asarray(times)
    p = np.arange(len(t), dtype=float)
    peak_a = 0.0
    start, step = t[0], fit_s / 4
    while start + fit_s <= t[-1]:
        lo, hi = np.searchsorted(t, [start, start + fit_s])
        if hi - lo >= 6:
            tt = t[lo:hi] - t[lo]
            c2 = np.polyfit(tt, p[lo:hi], 2)[0]
            peak_a = max(peak_a, abs(2.0 * c2))
        start += step
    return peak_v, peak_a
