"""Routine moves on the real firmware in simavr (faster than real time), cut into moves by the health service's own code."""
from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from device.bus.schemas import MotorHealth                              # noqa: E402
from device.health.features import Move, MoveTracker                    # noqa: E402
from device.motor.link import LinkError, MotorLink                       # noqa: E402
from device.motor.protocol import REPORT_HEALTH, AckResult, Flags       # noqa: E402
from device.sim.turntable import SimTurntable                           # noqa: E402

ROUTINE_SPEED_DPS = 80.0          # the policy's default [policy.motion]
ROUTINE_ACCEL_DPS2 = 160.0
SWEEP_SPEED_DPS = 20.0
SWEEP_ACCEL_DPS2 = 80.0


def window(h, t, t_ns: int) -> MotorHealth:
    """What the motor service publishes for one HEALTH with its TELEMETRY (device/motor/service.py)."""
    return MotorHealth(t_ns=t_ns, commanded_deg=t.position_deg, measured_deg=t.measured_deg,
                       velocity_dps=t.velocity_deg_s, moving=bool(t.flags & Flags.MOVING),
                       err_mean_deg=h.err_mean_deg, err_min_deg=h.err_min_deg, err_max_deg=h.err_max_deg,
                       stall_margin_deg=h.stall_margin_deg, steps=h.steps, diag_ms=h.diag_ms,
                       settle_ms=h.settle_ms, backlash_deg=h.backlash_deg, mcu_ms=t.mcu_ms)


class Rig:
    """One simulated turntable at `speed` x real time; every HEALTH window goes through a MoveTracker."""

    def __init__(self, tmp: Path, speed: float = 2.0, elf: Optional[Path] = None):
        self.speed = speed
        self.tt = SimTurntable(tmp, elf, fast_plant=True, speed=speed).start()
        self.tracker = MoveTracker()
        self.moves: list[Move] = []
        self.lock = threading.Lock()
        # A busy machine can hold the harness back: give its answers time (the MCU's own timing is simulated).
        self.link = MotorLink(str(self.tt.pty_link), ack_timeout_s=0.2, retries=6, on_health=self._on_health).start()
        if not (self.link.wait_connected(5.0) and self.link.wait_telemetry(3.0) is not None):
            raise RuntimeError("the simulated MCU did not answer")
        self.host_timeouts = 0
        self._timed_out = False
        self._running = True
        # Pings on their own thread: the MCU brakes after 250 ms (simulated) of host silence, and a busy machine
        # must not turn a wait in the main thread into a braked move.
        self._pinger = threading.Thread(target=self._ping_loop, name="health-rig-pings", daemon=True)
        self._pinger.start()
        assert self.link.set_reports(REPORT_HEALTH) == AckResult.OK
        self.link.home()
        self.heading = 0.0

    def _ping_loop(self) -> None:
        while self._running:
            try:
                self.link.ping()
            except LinkError:
                pass
            time.sleep(0.01)

    def _on_health(self, h, t, t_ns) -> None:
        if t is None:
            return
        timed_out = bool(t.flags & Flags.HOST_TIMEOUT)
        if timed_out and not self._timed_out:
            self.host_timeouts += 1                       # the machine held the pings back: that move is no evidence
        self._timed_out = timed_out
        with self.lock:
            if t.flags & (Flags.MANUAL | Flags.STALLED | Flags.HOST_TIMEOUT):
                self.tracker.interrupt()                  # what the service does on motor.state
            m = self.tracker.feed(window(h, t, t_ns))
            if m is not None:
                self.moves.append(m)

    def talk(self, sim_s: float, until=None) -> None:
        """Wait sim_s seconds of simulated time (the harness's own clock: a busy machine only makes it longer)."""
        end = self.tt.state().sim_s + sim_s
        while self.tt.state().sim_s < end:
            if until is not None and until():
                return
            time.sleep(0.01)

    def arrived(self, target: float) -> bool:
        t = self.link.telemetry
        return t is not None and not t.flags & Flags.MOVING and abs(t.target_deg - target) < 0.05

    def resync(self) -> None:
        """HOME at rest: the MCU takes its step count from the sensor again (a slipped belt leaves an error)."""
        self.link.home()
        self.talk(0.3)

    def move(self, target: float, speed: float = ROUTINE_SPEED_DPS, accel: float = ROUTINE_ACCEL_DPS2,
             rest_s: float = 1.4) -> None:
        """One move and the rest after it (long enough for the tracker to close it)."""
        for _ in range(4):                                # again after a braked (host-timeout) move
            r = self.link.move(target, speed, accel)
            if r not in (AckResult.OK, AckResult.CLAMPED):
                raise RuntimeError(f"MOVE answered {r}")
            self.talk(0.1)
            self.talk(abs(target - self.heading) / speed + 3.0,
                      until=lambda: self.arrived(target) or self._timed_out)
            if self.arrived(target):
                break
        n = len(self.moves)
        self.talk(rest_s)
        self.talk(1.0, until=lambda: len(self.moves) > n)     # the tracker closes it 1.2 s after it stopped
        self.heading = target

    def routine(self, n: int, rng: random.Random, lo: float = -150.0, hi: float = 150.0) -> list[Move]:
        """n routine moves: turns to someone, 8..120 degrees away, anywhere in the range."""
        first = len(self.moves)
        for _ in range(n):
            while True:
                target = round(rng.uniform(lo, hi), 1)
                if 8.0 <= abs(target - self.heading) <= 120.0:
                    break
            self.move(target)
        return self.moves_since(first)

    def sweep(self, lo: float = -150.0, hi: float = 150.0) -> list[Move]:
        """The reference sweep the policy runs: nearer end, far end, back (calm speed)."""
        first = len(self.moves)
        ends = (lo, hi) if abs(self.heading - lo) <= abs(self.heading - hi) else (hi, lo)
        for target in (ends[0], ends[1], ends[0]):
            self.move(target, SWEEP_SPEED_DPS, SWEEP_ACCEL_DPS2)
        return self.moves_since(first)

    def reference(self, lo: float = -150.0, hi: float = 150.0, tries: int = 4):
        """The reference from a whole sweep: one a busy machine braked (host timeout) or cut short is run again."""
        from device.health import reference
        for attempt in range(tries):
            before = self.host_timeouts
            try:
                ref = reference.build(self.sweep(lo, hi), (lo, hi), SWEEP_SPEED_DPS)
            except ValueError:
                ref = None
            whole = int((hi - lo) / 10.0) - 1          # sectors each way
            if (ref is not None and self.host_timeouts == before and ref.moves >= 3
                    and min(len(ref.lag_up_by_sector), len(ref.lag_down_by_sector)) >= whole):
                return ref
        raise RuntimeError(f"no whole reference sweep in {tries} tries (is the machine overloaded?)")

    def moves_since(self, first: int) -> list[Move]:
        with self.lock:
            return list(self.moves[first:])

    def close(self) -> None:
        self._running = False
        self._pinger.join(1.0)
        self.link.close()
        self.tt.stop()
