"""Policy test fixtures: a small room (people, switches, a goal-following turntable), driven in simulated time or over the bus."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import msgspec
import pytest

from device.bus.pubsub import Publisher, Subscriber
from device.bus.schemas import (DoaCandidate, DoaEstimate, MotionReply, MotorGoal, MotorState, People, Person,
                                PolicyAlert, PolicyState, SimWorld)
from device.config import parse_config
from device.policy.angles import wrap
from device.policy.config import PolicyConfig
from device.policy.core import Policy

REPO = Path(__file__).resolve().parents[2]
S = 1_000_000_000


@dataclass
class Someone:
    world_deg: float
    distance_m: float = 2.0
    engagement: float = 0.9
    confidence: float = 0.9
    still_until_s: float = 0.0     # vision calls the face `static` (no micro-motion seen yet) until then


@dataclass
class Room:
    """What the policy's inputs describe: people (world azimuth), the shutter, the turntable.

    The turntable stands in for the motor service: it moves towards a "move" goal at the goal's speed,
    stops on "stop"/"hold", and reports manual/stalled/fault flags the test sets.
    """
    heading: float = 0.0
    people: dict[int, Someone] = field(default_factory=dict)
    shutter_closed: bool = False
    camera_blind: str = ""             # a blind reason other than the shutter
    mute: bool = False
    manual: bool = False
    stalled: bool = False
    fault: Optional[str] = None
    hfov: float = 66.0
    goal: Optional[MotorGoal] = None
    moving: bool = False
    velocity: float = 0.0
    obstacle_at: Optional[float] = None   # the turntable stalls when it reaches this heading going up
    limit_at: Optional[float] = None      # the motor's own limit: it stops there going up, without a stall
    report_seq: bool = True               # whether motor.state echoes the goal sequence number
    _last_seq: int = -1

    def advance(self, dt: float) -> None:
        g = self.goal
        self.moving, self.velocity = False, 0.0
        if g is not None and g.mode == "move" and g.seq != self._last_seq and self.stalled:
            self.stalled = False             # like the firmware: a new move goal clears the stall flag
        self._last_seq = g.seq if g is not None else -1
        if g is None or g.mode != "move" or self.manual or self.stalled:
            return
        err = g.target_deg - self.heading
        step = min(abs(err), g.max_speed_dps * dt)
        if step < 1e-6:
            return
        new = self.heading + (step if err > 0 else -step)
        if self.obstacle_at is not None and self.heading < self.obstacle_at <= new:
            self.heading, self.stalled = self.obstacle_at, True
            return
        if self.limit_at is not None and new > self.limit_at:
            self.heading = self.limit_at
            return
        self.heading = new
        self.moving, self.velocity = True, (g.max_speed_dps if err > 0 else -g.max_speed_dps)

    def motor_state(self, t_ns: int) -> MotorState:
        fault = self.fault or ("stall: driver StallGuard (DIAG) tripped" if self.stalled else None)
        return MotorState(t_ns=t_ns, heading_deg=round(self.heading, 3), velocity_dps=self.velocity,
                          moving=self.moving, stalled=self.stalled, manual=self.manual, fault=fault,
                          goal_seq=self.goal.seq if self.goal and self.report_seq else -1)

    def visible(self) -> dict[int, float]:
        """Device-frame bearing of everyone inside the camera's view."""
        out = {}
        for pid, p in self.people.items():
            b = wrap(p.world_deg - self.heading)
            if abs(b) <= self.hfov / 2:
                out[pid] = b
        return out

    def people_msg(self, t_ns: int, noise: Callable[[], float] = lambda: 0.0) -> People:
        if self.shutter_closed or self.camera_blind:
            return People(t_ns=t_ns, heading_deg=self.heading, blind=True,
                          blind_reason="shutter closed" if self.shutter_closed else self.camera_blind)
        return People(t_ns=t_ns, heading_deg=self.heading, fps=10.0, people=[
            Person(track_id=pid, bearing_deg=b + noise(), elevation_deg=0.0, distance_m=self.people[pid].distance_m,
                   engagement=self.people[pid].engagement, confidence=self.people[pid].confidence,
                   static=t_ns < self.people[pid].still_until_s * S)
            for pid, b in sorted(self.visible().items())])

    def doa(self, t_ns: int, world_deg: float, confidence: float = 0.9, ambiguous: bool = False,
            others: tuple[float, ...] = (), trigger: str = "wake") -> DoaEstimate:
        """A sound estimate from world azimuth `world_deg` (and rival candidates), in the device frame."""
        az = wrap(world_deg - self.heading)
        cands = [DoaCandidate(azimuth_deg=az, power=1.0)] + [
            DoaCandidate(azimuth_deg=wrap(o - self.heading), power=0.95) for o in others]
        # Captured over the last 20 ms (the room's heading is the heading during that span).
        return DoaEstimate(t_ns=t_ns, start_ns=t_ns - S // 50, end_ns=t_ns, azimuth_deg=az, heading_deg=self.heading,
                           confidence=confidence, ambiguous=ambiguous, candidates=cands, trigger=trigger)


def config(text: str = "") -> PolicyConfig:
    """A PolicyConfig from [policy...] TOML, through the real config loader."""
    return parse_config(text, "<test>").policy


class CoreSim:
    """The pure Policy driven with simulated time: motor at 20 Hz, vision at 10 Hz, one tick per 50 ms."""

    def __init__(self, cfg: Optional[PolicyConfig] = None, room: Optional[Room] = None, start_s: float = 100.0):
        self.cfg = cfg or PolicyConfig()
        self.room = room or Room(hfov=self.cfg.zones.hfov_deg)
        self.t = int(start_s * S)
        self.policy = Policy(self.cfg, self.t)
        self.goals: list[MotorGoal] = []
        self.alerts: list[PolicyAlert] = []
        self.state: Optional[PolicyState] = None
        self.noise: Callable[[], float] = lambda: 0.0
        self.vision_alive = True
        self.n = 0
        self.on_goal: list[Callable[[MotorGoal, "CoreSim"], None]] = []

    def step(self, dt: float = 0.05) -> None:
        self.t += int(dt * S)
        self.n += 1
        self.room.advance(dt)
        self.policy.on_motor(self.room.motor_state(self.t), self.t)
        if self.vision_alive and self.n % 2 == 0:
            self.policy.on_people(self.room.people_msg(self.t, self.noise), self.t)
        self.policy.set_muted(self.room.mute)
        out = self.policy.tick(self.t)
        if out.goal is not None:
            self.goals.append(out.goal)
            self.room.goal = out.goal
            for check in self.on_goal:
                check(out.goal, self)
        self.alerts += out.alerts
        self.state = out.state

    def run(self, seconds: float) -> None:
        for _ in range(int(round(seconds / 0.05))):
            self.step()

    def run_until(self, pred: Callable[["CoreSim"], bool], seconds: float) -> bool:
        for _ in range(int(round(seconds / 0.05))):
            self.step()
            if pred(self):
                return True
        return False

    def hear(self, world_deg: float, **kw) -> None:
        self.policy.on_doa(self.room.doa(self.t, world_deg, **kw), self.t)

    def moves(self) -> list[MotorGoal]:
        return [g for g in self.goals if g.mode == "move"]


@pytest.fixture
def sim() -> Callable[..., CoreSim]:
    return lambda text="", **kw: CoreSim(config(text), **kw)


# ---- the real policy process ---------------------------------------------------------------------

FAST = """
[bus]
heartbeat_s = 0.2
heartbeat_timeout_s = 1.0
[policy]
mute_pin = 27
[policy.zones]
dwell_s = 1.5
[policy.rules]
hand_respect_s = 1.5
api_respect_s = 1.0
cue_hold_s = 1.5
vision_timeout_s = 1.0
[policy.away]
first_pan_s = 0.5
end_dwell_s = 0.2
min_alert_gap_s = 0.5
[policy.motion]
max_speed_dps = 120.0
max_accel_dps2 = 300.0
pan_speed_dps = 120.0
"""


class Harness:
    """A real `swivel service policy` process, and this test process playing motor, vision, ssl and the world
    on real ZeroMQ sockets: it publishes what the room looks like and records what the policy sends."""

    def __init__(self, runtime_dir: Path, workdir: Path, extra: str = "", env: Optional[dict] = None):
        self.runtime_dir = runtime_dir
        self.room = Room()
        self.cfg_path = workdir / "swivel.toml"
        self.state_file = workdir / "state" / "rom.toml"
        text = FAST
        if extra.startswith("[policy]\n"):
            # Keys of the [policy] table itself go into the one [policy] table of the base config.
            lines = extra.split("\n")[1:]
            n = next((i for i, line in enumerate(lines) if line.startswith("[")), len(lines))
            text = text.replace("[policy]\n", "[policy]\n" + "\n".join(lines[:n]) + "\n", 1)
            extra = "\n".join(lines[n:])
        text += extra
        if "state_file" not in extra:
            text = text.replace("[policy]\n", f"[policy]\nstate_file = \"{self.state_file}\"\n", 1)
        self.cfg_path.write_text(text)
        self.env = dict(env or os.environ)
        self.env["SWIVEL_RUNTIME_DIR"] = str(runtime_dir)
        self.env["PYTHONPATH"] = str(REPO) + os.pathsep + self.env.get("PYTHONPATH", "")
        self.env.pop("NOTIFY_SOCKET", None)
        self.pubs = {name: Publisher(name, runtime_dir, heartbeat_s=0.2) for name in ("motor", "vision", "ssl", "world")}
        self.sub = Subscriber(runtime_dir).subscribe("policy", "motor.goal", "policy.state", "policy.alert")
        self.goals: list[MotorGoal] = []
        self.states: list[PolicyState] = []
        self.alerts: list[PolicyAlert] = []
        self.vision_alive = True
        self.ssl_alive = True                            # False: ssl's heartbeat stops, as if it crashed
        self.heartbeat = None                            # the policy's latest heartbeat
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = workdir / "policy.log"

    def start(self) -> "Harness":
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "device", "--config", str(self.cfg_path), "service", "policy"],
                                     cwd=REPO, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        ok = self.run_until(lambda h: h.state is not None and h.goal is not None, 15.0)
        assert ok, f"policy did not come up:\n{self.logs()}"
        return self

    def logs(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> int:
        for p in self.pubs.values():
            p.close()
        self.sub.close()
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    @property
    def state(self) -> Optional[PolicyState]:
        return self.states[-1] if self.states else None

    @property
    def goal(self) -> Optional[MotorGoal]:
        return self.goals[-1] if self.goals else None

    def moves(self) -> list[MotorGoal]:
        return [g for g in self.goals if g.mode == "move"]

    def step(self, dt: float = 0.05) -> None:
        now = time.monotonic_ns()
        self.room.advance(dt)
        self.pubs["motor"].publish("motor.state", self.room.motor_state(now))
        if self.vision_alive:
            self.pubs["vision"].publish("vision.people", self.room.people_msg(now))
        self.pubs["world"].publish("sim.world", SimWorld(t_ns=now, heading_deg=self.room.heading,
                                                         shutter_closed=self.room.shutter_closed, mute=self.room.mute))
        for name, p in self.pubs.items():
            if (name != "vision" or self.vision_alive) and (name != "ssl" or self.ssl_alive):
                p.tick()
        for topic, msg in self.sub.poll(int(dt * 1000)):
            if topic == "motor.goal" and (not self.goals or msg.seq != self.goals[-1].seq):
                self.goals.append(msg)
                self.room.goal = msg
            elif topic == "policy.state":
                self.states.append(msg)
            elif topic == "policy.alert":
                self.alerts.append(msg)
            elif topic == "hb" and msg.service == "policy":
                self.heartbeat = msg
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"policy exited with {self.proc.returncode}:\n{self.logs()}")

    def run(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.step()

    def run_until(self, pred: Callable[["Harness"], bool], seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.step()
            if pred(self):
                return True
        return False

    def hear(self, world_deg: float, **kw) -> None:
        self.pubs["ssl"].publish("ssl.doa", self.room.doa(time.monotonic_ns(), world_deg, **kw))

    def holds_seen(self) -> set[str]:
        return {h for s in self.states for h in s.holds}

    def motion(self, *args: str, user: Optional[int] = None) -> subprocess.CompletedProcess:
        """Run the real `swivel motion --json ...` client (as another uid when `user` is given), while this
        process keeps playing motor and vision so the policy's inputs never go quiet meanwhile."""
        cmd = [sys.executable, "-m", "device", "motion", "--json", *args]
        proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, user=user)
        end = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < end:
            self.step()
        out, err = proc.communicate(timeout=5)
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    def call(self, **request) -> "MotionReply":
        """One motion API request from this process (same uid as the service)."""
        from device.bus.rpc import RpcClient
        from device.bus.schemas import MotionRequest
        return RpcClient(self.runtime_dir).call(MotionRequest(**request))


@pytest.fixture
def harness(runtime_dir, tmp_path):
    made: list[Harness] = []

    def make(extra: str = "", start: bool = True, **kw) -> Harness:
        h = Harness(runtime_dir, tmp_path, extra, **kw)
        made.append(h)
        # Let the policy's subscriber find our endpoints before it starts deciding.
        return h.start() if start else h

    yield make
    for h in made:
        h.stop()


def reply(proc: subprocess.CompletedProcess) -> dict:
    """The JSON reply printed by `swivel motion --json`."""
    assert proc.stdout.strip(), f"no reply; stderr: {proc.stderr}"
    return msgspec.json.decode(proc.stdout.strip().splitlines()[-1])
