"""The pure policy: fed messages and commands with explicit times, it returns goals, alerts and its state.

No sockets, no clocks, no files: the service feeds it and publishes what it returns, and the tests
drive it directly (hypothesis streams) or through the service (real processes and sockets).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import msgspec

from ..bus.schemas import DoaEstimate, HealthState, MotorGoal, MotorState, People, PolicyAlert, PolicyState
from .angles import HeadingHistory, diff, to_world
from .away import Away, Pan, pan_waypoints
from .config import PolicyConfig, parse_hours
from .fusion import Aim, Fusion, WorldPerson
from .rules import AUTONOMOUS_ONLY, Hold, StallGuard, TimedHolds, ordered
from .track import Walk, walk_of, world_track
from .zones import DEAD, HOLDING, Dwell, classify, edges

OPS_NEED_HEADING = ("turn", "pan")


def shutter_closed(people: People) -> bool:
    """Vision says it is blind because of the shutter (reason "shutter" or "shutter closed")."""
    return people.blind and people.blind_reason.split(" ", 1)[0] == "shutter"


class CommandError(Exception):
    """A motion command that cannot be carried out now; the message says why (sent back to the app)."""


@dataclass
class Turn:
    target: float
    deadline_ns: int


@dataclass
class RomSetup:
    start_ns: int
    lo: float
    hi: float
    mark_min: Optional[float] = None
    mark_max: Optional[float] = None


@dataclass
class Intent:
    """What the policy wants this tick: kind = move | stop | hold | release | keep (leave the goal as it is)."""
    kind: str
    mode: str
    decision: str
    target: Optional[float] = None
    speed: Optional[float] = None
    source: str = ""
    zone: str = ""
    aim: Optional[Aim] = None
    accel: Optional[float] = None          # at most this acceleration (the health sweep's calm one)


@dataclass
class UtteranceMemory:
    world_deg: float               # where the policy took the sound to be
    accepted: bool                 # it became the cue (a turn or a look)
    ambiguous: bool                # it was held as ambiguous


@dataclass
class Output:
    goal: Optional[MotorGoal]                  # a new goal to publish (None: keep the last one)
    alerts: list[PolicyAlert]
    state: PolicyState
    rom_changed: bool = False                  # the ROM was set: the service stores it


@dataclass
class Rom:
    min_deg: float
    max_deg: float
    source: str = "config"

    def contains(self, deg: float) -> bool:
        return self.min_deg <= deg <= self.max_deg

    def clamp(self, deg: float) -> float:
        return min(max(deg, self.min_deg), self.max_deg)

    def text(self) -> str:
        return f"{self.min_deg:.0f}..{self.max_deg:.0f}"


class Policy:
    def __init__(self, cfg: PolicyConfig, now_ns: int, rom: Optional[Rom] = None):
        self.cfg = cfg
        self.rom = rom or Rom(cfg.rom.min_deg, cfg.rom.max_deg, "config")
        self.follow = cfg.follow
        self.fusion = Fusion(cfg.fusion, cfg.zones)
        self.away = Away(cfg.away, now_ns)
        self.history = HeadingHistory(keep_s=10.0)     # long enough for a wake word localized late
        self.stall = StallGuard(cfg.rules)
        self.timed = TimedHolds()
        self.dwell = Dwell(cfg.zones)
        self.motor: Optional[MotorState] = None
        self.motor_recv_ns: Optional[int] = None
        self.people_msg: Optional[People] = None
        self.people_recv_ns: Optional[int] = None
        self.muted = False
        # The turntable's own outer range (motor.rom_min_deg/rom_max_deg, the cable wrap): no range of
        # motion may reach beyond it, since the motor would clamp what the policy believes it can do.
        self.outer = (-180.0, 180.0)
        self.ssl_missing = ""        # set by the service from ssl's heartbeat: why ssl is not there, or ""
        self.task: Union[None, str, Turn, Pan] = None      # "stop", an API turn or a pan
        self.rom_setup: Optional[RomSetup] = None
        self.api_quiet_until_ns = 0
        self.goal: Optional[MotorGoal] = None
        self.goal_sent_ns = 0
        self.seq = 0
        self.moves = 0
        self.notes: list[str] = []
        # What each woken utterance's first estimate led to (ssl.doa utterance_id -> its memory), so that a
        # "final" after a "keyword" refines that turn rather than starting another (bounded).
        self.utterances: dict[int, UtteranceMemory] = {}
        self.speed_preset = "normal"
        self.gentle = False                    # health.state: the turntable needs attention, not acknowledged
        self.health_ack_ns = 0                 # the owner's last acknowledgement (motion API op health_ack)
        self._alerts: list[PolicyAlert] = []
        self._rom_changed = False
        self._force_goal = False

    # -- inputs -------------------------------------------------------------------------------------
    @property
    def heading(self) -> Optional[float]:
        return self.motor.heading_deg if self.motor is not None else None

    def on_motor(self, msg: MotorState, now_ns: int) -> None:
        prev = self.motor
        self.motor, self.motor_recv_ns = msg, now_ns
        self.history.add(msg.t_ns, msg.heading_deg)
        was_manual = prev is not None and prev.manual
        if msg.manual and not was_manual:
            # The user turns the screen: stop whatever we were doing and yield; this also clears a stall.
            self.task = None
            self.stall.clear()
            self.fusion.drop_cue()
            self.fusion.reset_target()
            self.dwell.reset()
        elif was_manual and not msg.manual:
            self.timed.set("hand_turn_recent", f"turned by hand: respecting it for {self.cfg.rules.hand_respect_s:.0f} s",
                           now_ns + int(self.cfg.rules.hand_respect_s * 1e9))
        if msg.stalled and (prev is None or not prev.stalled):
            self.stall.on_stall(msg.heading_deg, self._stall_direction(msg), now_ns)
            self.task = None
        if self.rom_setup is not None:
            self.rom_setup.lo = min(self.rom_setup.lo, msg.heading_deg)
            self.rom_setup.hi = max(self.rom_setup.hi, msg.heading_deg)

    def _stall_direction(self, msg: MotorState) -> int:
        if self.goal is not None and self.goal.mode == "move" and abs(diff(self.goal.target_deg, msg.heading_deg)) > 0.5:
            return 1 if diff(self.goal.target_deg, msg.heading_deg) > 0 else -1
        if abs(msg.velocity_dps) > 1.0:
            return 1 if msg.velocity_dps > 0 else -1
        return 0                                            # unknown: block both ways until cleared

    def _heading_at(self, t_ns: int, reported: Optional[float]) -> Optional[float]:
        h = self.history.at(t_ns)
        return h if h is not None else reported

    def on_health(self, msg: HealthState) -> None:
        """The health service says whether to move gently; a change applies to the move under way too."""
        if msg.gentle != self.gentle:
            self.gentle = msg.gentle
            self._force_goal = True

    def on_people(self, msg: People, now_ns: int) -> None:
        republished = self.people_msg is not None and self.people_msg.t_ns == msg.t_ns
        self.people_msg, self.people_recv_ns = msg, now_ns
        if republished:
            self.fusion.people_recv_ns = now_ns if not msg.blind else self.fusion.people_recv_ns
            return
        if msg.blind:
            self.fusion.clear_people()
            return
        heading = self._heading_at(msg.t_ns, msg.heading_deg)
        if heading is None:
            return                                          # cannot place anyone without a heading
        seen = [(WorldPerson(p.track_id, to_world(p.bearing_deg, heading), p.distance_m, p.engagement,
                             p.confidence), p.static) for p in msg.people]
        # A static face (a poster, or someone not yet seen to move) is never a target for motion. Away mode
        # alerts on it all the same: a pan sweeps past a person in under the seconds micro-motion takes,
        # and a missed intruder costs more than a poster's alert.
        self.fusion.set_people([w for w, static in seen if not static], msg.t_ns, now_ns)
        self.fusion.set_static([w for w, static in seen if static])
        self._alerts += self.away.alerts([w for w, _ in seen], msg.t_ns, now_ns)

    def on_doa(self, msg: DoaEstimate, now_ns: int) -> None:
        # Convert with the heading during the utterance, not now: the device may be turning.
        t = (msg.start_ns + msg.end_ns) // 2 if 0 < msg.start_ns <= msg.end_ns else msg.t_ns
        heading = self._heading_at(t, msg.heading_deg)
        if (heading is None or self.away.enabled or not self.follow or self.rom_setup is not None
                or self.muted or now_ns < self.api_quiet_until_ns):
            return                              # nobody asked us to listen now
        asks = msg.trigger != "vad" or self.cfg.fusion.turn_on_vad
        if msg.azimuth_deg is None:
            # ssl found no target inside the range (it knows the range from policy.state); a wake word whose
            # strongest direction lies outside it is reported, so the user learns why nothing turned.
            if asks and msg.candidates:
                top = to_world(msg.candidates[0].azimuth_deg, heading)
                if not self.rom.contains(top):
                    self.timed.set("outside_rom", f"sound at {top:.0f} deg is outside the range of motion "
                                   f"{self.rom.text()}", now_ns + int(self.cfg.rules.cue_hold_s * 1e9))
            return
        world = to_world(msg.azimuth_deg, heading)
        candidates = [(to_world(c.azimuth_deg, heading), c.power) for c in msg.candidates]
        ambiguous = msg.ambiguous
        walk = self._walk(msg)
        walk_dir = 0
        if walk is not None:
            # The talker walked while speaking: aim where the sound ended, not at the smear of the whole
            # utterance, and do not mistake the path they walked for a second talker.
            world, t, walk_dir = walk.end_deg, walk.end_t_ns, walk.direction
            on_path = [(d, p) for d, p in candidates if walk.covers(d, self.cfg.fusion.confirm_gate_deg)]
            candidates = [(world, 1.0)] + [c for c in candidates if c not in on_path]
            ambiguous = ambiguous and len(candidates) > 1
        prior = self.utterances.get(msg.utterance_id) if msg.utterance_id else None
        if prior is not None and msg.phase == "final" and prior.accepted:
            # A refinement of a turn already under way for this utterance: it may re-aim that turn, never
            # stop it for ambiguity nor start another for a difference within the dead zone.
            if ambiguous:
                return
            if abs(diff(world, prior.world_deg)) <= max(edges(self.cfg.zones, None).dead_deg,
                                                       self.cfg.fusion.confirm_gate_deg) and walk_dir == 0:
                return
        verdict = self.fusion.add_sound(world, msg.confidence, t, now_ns, candidates, ambiguous,
                                        self.rom.contains, self.rom.text(), msg.trigger, walk_dir)
        if msg.utterance_id:
            self.utterances[msg.utterance_id] = UtteranceMemory(
                world, verdict.accepted or (prior is not None and prior.accepted and msg.phase == "final"),
                verdict.rule == "ambiguous_sound")
            while len(self.utterances) > 8:
                self.utterances.pop(next(iter(self.utterances)))
        if verdict.rule and asks:
            # (Plain speech that is ambiguous or out of range is only ignored: TV chatter must not hold.)
            self.timed.set(verdict.rule, verdict.reason, now_ns + int(self.cfg.rules.cue_hold_s * 1e9))
        elif verdict.accepted:
            self.timed.clear("ambiguous_sound")
            self.timed.clear("outside_rom")

    def _walk(self, msg: DoaEstimate) -> Optional[Walk]:
        """The walk in the estimate's track (each point converted with the heading at its own time), or None
        when the track is missing, unsteady (two sources) or moved less than walk_min_deg."""
        if not msg.track:
            return None
        f = self.cfg.fusion
        w = walk_of(world_track(msg.track, lambda t: self._heading_at(t, msg.heading_deg), f.min_confidence),
                    f.walk_jump_deg, msg.end_ns)
        if w is None or not w.steady or abs(w.moved_deg) < f.walk_min_deg:
            return None
        return w

    def set_muted(self, muted: bool) -> None:
        if muted and not self.muted:
            self.fusion.drop_cue()
        self.muted = muted

    # -- rules --------------------------------------------------------------------------------------
    def holds(self, now_ns: int) -> list[Hold]:
        r = self.cfg.rules
        out: list[Hold] = []
        pm = self.people_msg
        if pm is None:
            out.append(Hold("vision_unavailable", "no word from vision yet: shutter state unknown"))
        elif now_ns - self.people_recv_ns > r.vision_timeout_s * 1e9:
            out.append(Hold("vision_unavailable", f"vision silent over {r.vision_timeout_s:g} s: shutter state unknown"))
        elif shutter_closed(pm):
            out.append(Hold("shutter_closed", "camera shutter closed"))
        elif pm.blind:
            out.append(Hold("vision_unavailable", f"camera blind: {pm.blind_reason or 'no reason given'}"))
        if self.ssl_missing:
            out.append(Hold("ssl_unavailable", self.ssl_missing[:200]))
        m = self.motor
        if m is None:
            out.append(Hold("motor_fault", "no word from the motor yet"))
        elif now_ns - self.motor_recv_ns > r.motor_timeout_s * 1e9:
            out.append(Hold("motor_fault", f"motor silent over {r.motor_timeout_s:g} s"))
        elif m.fault and not m.fault.startswith("stall"):   # a stall is the stall rule's business
            out.append(Hold("motor_fault", f"motor fault: {m.fault}"[:200]))
        elif not m.link_ok:
            out.append(Hold("motor_fault", "motor controller link down"))
        if self.muted:
            out.append(Hold("mute", "mute button on"))
        if m is not None and m.manual:
            out.append(Hold("hand_turn", "being turned by hand"))
        self.stall.expire(now_ns)
        if self.stall.active:
            out.append(Hold("stall", self.stall.describe()[:200]))
        elif m is not None and m.stalled:
            out.append(Hold("stall", "motor stalled (obstacle)"))
        out += self.timed.active(now_ns)
        return ordered(out)

    def _blocking(self, holds: list[Hold], api: bool) -> list[Hold]:
        """Holds that stop a move outright (a stall only blocks its side: checked per target)."""
        out = []
        for h in holds:
            if h.name == "stall":
                continue
            if api and h.name in AUTONOMOUS_ONLY:
                continue
            out.append(h)
        return out

    # -- commands (the motion API calls these) ------------------------------------------------------
    def _check_can_move(self, target: Optional[float], now_ns: int) -> None:
        blocking = self._blocking(self.holds(now_ns), api=True)
        if blocking:
            raise CommandError("not moving: " + "; ".join(f"{h.name} ({h.reason})" for h in blocking))
        if target is not None and self.heading is not None and self.stall.blocks(target, self.heading):
            raise CommandError("not moving: stall (" + self.stall.describe() + ")")

    def cmd_turn(self, angle_deg: float, now_ns: int) -> None:
        if not -180.0 <= angle_deg <= 180.0:
            raise CommandError(f"angle {angle_deg:g} is not a world azimuth in -180..180 deg")
        if not self.rom.contains(angle_deg):
            raise CommandError(f"{angle_deg:g} deg is outside the range of motion {self.rom.text()} deg")
        if self.heading is None:
            raise CommandError("motor state unknown: cannot turn yet")
        if self.rom_setup is not None:
            raise CommandError("range-of-motion setup in progress: finish or cancel it first")
        self._check_can_move(angle_deg, now_ns)
        self.task = Turn(angle_deg, now_ns + self._travel_ns(angle_deg, self.cfg.motion.max_speed_dps))
        self._quiet_autonomy(now_ns)

    def cmd_pan(self, now_ns: int) -> None:
        if self.heading is None:
            raise CommandError("motor state unknown: cannot pan yet")
        if self.rom_setup is not None:
            raise CommandError("range-of-motion setup in progress: finish or cancel it first")
        self._check_can_move(None, now_ns)
        self.task = Pan(pan_waypoints(self.rom.min_deg, self.rom.max_deg, self.heading),
                        self.cfg.motion.pan_speed_dps, 1.0, "pan")
        self._quiet_autonomy(now_ns)

    def cmd_health_sweep(self, now_ns: int) -> None:
        """The turntable health reference: a calm sweep to the nearer end of the range, the far end and back
        (both ways over every angle, with a reversal at each end), resting at each end for the error at rest."""
        if self.heading is None:
            raise CommandError("motor state unknown: cannot sweep yet")
        if self.rom_setup is not None:
            raise CommandError("range-of-motion setup in progress: finish or cancel it first")
        self._check_can_move(None, now_ns)
        near, far, _ = pan_waypoints(self.rom.min_deg, self.rom.max_deg, self.heading)
        self.task = Pan([near, far, near], self.cfg.motion.sweep_speed_dps, 1.5, "sweep")
        self._quiet_autonomy(now_ns)

    def cmd_health_ack(self, now_ns: int) -> None:
        """The owner saw "needs attention": the health service stops asking for gentle motion (until worse)."""
        self.health_ack_ns = now_ns

    def cmd_stop(self, now_ns: int) -> None:
        self.task = "stop"
        self._quiet_autonomy(now_ns)

    def cmd_follow(self, enabled: bool) -> None:
        self.follow = enabled
        if not enabled:
            self.fusion.drop_cue()
            self.fusion.reset_target()
        else:
            self.api_quiet_until_ns = 0

    def cmd_away(self, enabled: bool, now_ns: int) -> None:
        self.away.set(enabled, now_ns)
        if not enabled and isinstance(self.task, Pan) and self.task.source == "away":
            self.task = "stop"
        self.fusion.drop_cue()
        self.fusion.reset_target()

    def cmd_speed(self, preset: str, motion) -> None:
        """A speed preset (the API works out its MotionConfig within the hardware limits)."""
        self.cfg = msgspec.structs.replace(self.cfg, motion=motion)
        self.speed_preset = preset
        self._force_goal = True                              # an ongoing move takes the new speed

    def cmd_away_hours(self, hours: str) -> None:
        """When away-mode pans may run ("HH:MM-HH:MM" local time, already validated; "" = any time)."""
        self.away.cfg = msgspec.structs.replace(self.away.cfg, hours=hours)
        self.away.hours = parse_hours(hours) if hours else None

    def cmd_set_rom(self, min_deg: float, max_deg: float, source: str = "api") -> None:
        for name, v in (("min", min_deg), ("max", max_deg)):
            if not -180.0 <= v <= 180.0:
                raise CommandError(f"range of motion {name} {v:g} is not a world azimuth in -180..180 deg")
        lo, hi = self.outer
        if min_deg < lo - 0.05 or max_deg > hi + 0.05:
            raise CommandError(f"range of motion {min_deg:g}..{max_deg:g} reaches beyond the turntable's outer "
                               f"range {lo:g}..{hi:g} (motor.rom_min_deg, motor.rom_max_deg)")
        if round(max_deg, 1) - round(min_deg, 1) < self.cfg.rom.min_width_deg:
            raise CommandError(f"range of motion {min_deg:g}..{max_deg:g} is narrower than "
                               f"{self.cfg.rom.min_width_deg:g} deg (min must come first)")
        # Stored with 0.1 deg resolution: keep exactly what a restart will read back.
        self.rom = Rom(round(min_deg, 1), round(max_deg, 1), source)
        self.stall.clear()                                   # a new range is a fresh start
        if isinstance(self.task, (Turn, Pan)):
            self.task = None
        self._rom_changed = True
        self._force_goal = True

    def cmd_rom_step(self, step: str, now_ns: int) -> None:
        """Set the range by hand: start (motor lets go), turn to each end (optionally mark min/max), done."""
        h = self.heading
        if step == "start":
            if h is None:
                raise CommandError("motor state unknown: cannot start range-of-motion setup")
            self.task = None
            self.rom_setup = RomSetup(now_ns, h, h)
            return
        setup = self.rom_setup
        if setup is None:
            raise CommandError("no range-of-motion setup in progress (start one with rom_step 'start')")
        if step == "cancel":
            self.rom_setup = None
        elif step in ("min", "max"):
            setattr(setup, "mark_" + step, h)
        elif step == "done":
            lo = setup.mark_min if setup.mark_min is not None else setup.lo
            hi = setup.mark_max if setup.mark_max is not None else setup.hi
            self.cmd_set_rom(round(lo, 1), round(hi, 1), "hand")   # raises if too narrow: setup stays open
            self.rom_setup = None
        else:
            raise CommandError(f"unknown rom_step {step!r}; expected start, min, max, done or cancel")

    def _quiet_autonomy(self, now_ns: int) -> None:
        """An app chose where to point: autonomous motion waits api_respect_s."""
        self.api_quiet_until_ns = now_ns + int(self.cfg.rules.api_respect_s * 1e9)
        self.fusion.drop_cue()
        self.fusion.reset_target()
        self.dwell.reset()

    def _travel_ns(self, target: float, speed: float) -> int:
        h = self.heading if self.heading is not None else target
        return int((abs(target - h) / speed + 5.0) * 1e9)

    # -- decision -----------------------------------------------------------------------------------
    def _arrived(self, target: float) -> bool:
        m = self.motor
        if m is None:
            return False
        if abs(diff(m.heading_deg, target)) <= self.cfg.motion.arrive_tol_deg and not m.moving:
            return True
        # The motor says it finished our latest goal, wherever it ended (e.g. its own limit).
        g = self.goal
        return (g is not None and g.mode == "move" and abs(g.target_deg - self.rom.clamp(target)) < 0.01
                and m.goal_seq == g.seq and not m.moving and m.t_ns > self.goal_sent_ns)

    def _moving_under_goal(self) -> bool:
        return self.goal is not None and self.goal.mode == "move" and not self._arrived(self.goal.target_deg)

    def _halt(self, why: list[Hold], mode: str = "hold", **kw) -> Intent:
        text = "; ".join(f"{h.name}: {h.reason}" for h in why)
        kind = "stop" if self._moving_under_goal() else "keep"
        return Intent(kind, mode, "hold: " + text, source="hold", **kw)

    def _decide(self, now_ns: int, holds: list[Hold]) -> Intent:
        m = self.motor
        if m is None:
            return Intent("keep", "idle", "waiting for motor.state")
        h = m.heading_deg
        if self.rom_setup is not None:
            if now_ns - self.rom_setup.start_ns > self.cfg.rom.setup_timeout_s * 1e9:
                self.rom_setup = None
                self.notes = self.notes[-7:] + ["range-of-motion setup timed out: range unchanged"]
            else:
                return Intent("release", "rom_setup", "turn the device by hand to each end, then 'rom done'",
                              source="rom")
        if m.manual:
            return Intent("release", "manual_hold", "yielding to a hand turn", source="hold")
        hard = self._blocking(holds, api=True)
        if hard and self.goal is not None and self.goal.mode == "move":
            # Whatever it was (an app's turn, a pan, following), stop now, and do not leave a move goal
            # standing that the motor might resume once the rule ends.
            self.task = None
            return Intent("stop", "hold", "hold: " + "; ".join(f"{x.name}: {x.reason}" for x in hard), source="hold")
        g = self.goal
        if g is not None and g.mode == "move" and self.stall.active and self.stall.blocks(g.target_deg, h):
            # Just bumped into something: do not leave a goal standing that pushes on into it.
            self.task = None
            return Intent("stop", "hold", "hold: stall: " + self.stall.describe(), source="hold")
        task = self.task
        if task == "stop":
            if self.goal is not None and self.goal.mode == "stop" and not m.moving:
                self.task = None               # stopped; the app's quiet time then runs its course
                return Intent("keep", "idle", "stopped by the motion API", source="api")
            return Intent("stop", "idle", "stopped by the motion API", source="api")
        if isinstance(task, Turn):
            if hard or self.stall.blocks(task.target, h):
                self.task = None
                return self._halt(hard or [Hold("stall", self.stall.describe())])
            if self._arrived(task.target) or now_ns > task.deadline_ns:
                self.task = None
                return Intent("keep", "idle", f"turned to {task.target:.0f} deg for an app")
            return Intent("move", "turning", f"turn to {task.target:.1f} for an app", task.target,
                          self.cfg.motion.max_speed_dps, "api")
        if isinstance(task, Pan):
            target = task.target
            if hard or (target is not None and self.stall.blocks(target, h)):
                self.task = None
                return self._halt(hard or [Hold("stall", self.stall.describe())])
            target = task.advance(target is not None and self._arrived(target), now_ns, h)
            if target is not None:
                if task.source == "sweep":
                    return Intent("move", "sweeping", f"health sweep: end {task.index + 1} of {len(task.waypoints)}",
                                  target, task.speed_dps, "sweep", accel=self.cfg.motion.sweep_accel_dps2)
                return Intent("move", "panning", f"pan: waypoint {task.index + 1} of {len(task.waypoints)}",
                              target, task.speed_dps, task.source)
            self.task = None
        if not self.rom.contains(h) and abs(h - self.rom.clamp(h)) > self.cfg.motion.arrive_tol_deg:
            # Outside the range (a hand turn, a new range): back to its nearest end, unless a rule says no.
            blocking = self._blocking(holds, api=False)
            if blocking:
                return self._halt(blocking)
            return Intent("move", "turning", "returning into the range of motion", self.rom.clamp(h),
                          self.cfg.motion.max_speed_dps, "rom")
        if self.away.enabled:
            if self.away.pan_due(now_ns) and not hard and not self.stall.active:
                self.away.pan_started(now_ns)
                self.task = Pan(pan_waypoints(self.rom.min_deg, self.rom.max_deg, h),
                                self.cfg.motion.pan_speed_dps, self.cfg.away.end_dwell_s, "away")
                return self._decide(now_ns, holds)
            return Intent("keep", "away", "away: watching between pans")
        if not self.follow:
            return Intent("keep", "idle", "follow is off")
        if now_ns < self.api_quiet_until_ns:
            return Intent("keep", "idle", "keeping the direction an app chose")
        return self._follow(now_ns, holds, h)

    def _follow(self, now_ns: int, holds: list[Hold], h: float) -> Intent:
        pm = self.people_msg
        view_ok = pm is not None and not pm.blind and now_ns - self.people_recv_ns <= self.cfg.rules.vision_timeout_s * 1e9
        still = self.motor is not None and not self.motor.moving
        self.fusion.clamp = self.rom.clamp                # a search stays inside the range of motion
        aim = self.fusion.aim(now_ns, h, view_ok, still)
        if aim is None:
            self.dwell.reset()
            return Intent("keep", "idle", self.fusion.note if self.fusion.cue else "nobody to face")
        target = aim.world_deg
        if not self.rom.contains(target):
            nearest = self.rom.clamp(target)
            # A person just past the end of the range stays in view at its end; further out, do not chase.
            if aim.source == "vision" and abs(diff(target, nearest)) <= self.cfg.zones.hfov_deg / 2 - self.cfg.zones.edge_min_deg:
                target = nearest
            else:
                self.timed.set("outside_rom", f"target at {target:.0f} deg is outside the range of motion {self.rom.text()}",
                               now_ns + int(self.cfg.rules.cue_hold_s * 1e9))
                self.fusion.drop_cue()
                return self._halt([Hold("outside_rom", f"target at {target:.0f} deg")], mode="idle",
                                  target=target, aim=aim)
        e = edges(self.cfg.zones, aim.distance_m)
        zone = classify(diff(aim.world_deg, h), e)         # where the person is in the view
        if target != aim.world_deg and abs(diff(target, h)) <= self.cfg.motion.arrive_tol_deg:
            return Intent("keep", "tracking", f"{aim.detail} beyond the end of the range: facing its end",
                          target, zone=zone, aim=aim)
        blocking = self._blocking(holds, api=False)
        if blocking:
            return self._halt(blocking, zone=zone, target=target, aim=aim)
        if self.stall.blocks(target, h):
            return self._halt([Hold("stall", self.stall.describe())], zone=zone, target=target, aim=aim)
        source = "sound" if aim.source == "sound" else "follow"
        speed = self.cfg.motion.max_speed_dps
        ahead = target                                    # a move after someone walking ends ahead of them
        if aim.lead_deg and target == aim.world_deg:      # (zones and the dwell judge where they are)
            ahead = self.rom.clamp(target + aim.lead_deg)
        g = self.goal
        if g is not None and g.mode == "move" and g.source in ("follow", "sound") and not self._arrived(g.target_deg):
            # Retarget a move under way only for a real change: less than the dead zone is noise.
            # (A sound goal confirmed by vision is a precision upgrade, not noise: take it.)
            # (Another sound estimate is only worth it beyond the precision of sound itself.)
            upgrade = g.source == "sound" and aim.source == "vision"
            threshold = max(self.cfg.motion.retarget_min_deg, e.dead_deg)
            if upgrade:
                threshold = self.cfg.motion.retarget_min_deg
            elif aim.source == "sound":
                threshold = max(threshold, self.cfg.fusion.confirm_gate_deg)
            keep = abs(diff(ahead, g.target_deg)) < threshold
            return Intent("move", "turning", f"following {aim.detail}", g.target_deg if keep else ahead,
                          speed, source, zone, aim)
        if zone == DEAD:
            self.dwell.reset()
            return Intent("keep", "tracking", f"{aim.detail} in the dead zone: not moving", target, zone=zone, aim=aim)
        if zone == HOLDING:
            settled = self.dwell.update(target, now_ns) >= self.cfg.zones.dwell_s
            if aim.fresh_cue:
                return Intent("move", "turning", f"sound confirmed: facing {aim.detail}", target, speed, source, zone, aim)
            if not settled:
                return Intent("keep", "tracking", f"{aim.detail} in the holding zone: waiting for them to settle",
                              target, zone=zone, aim=aim)
            self.dwell.reset()
            return Intent("move", "turning", f"{aim.detail} settled in the holding zone: facing them", target,
                          speed, source, zone, aim)
        self.dwell.reset()
        what = "sound outside the view" if aim.source == "sound" else f"{aim.detail} in the {zone} zone"
        return Intent("move", "turning", f"{what}: turning now", ahead, speed, source, zone, aim)

    # -- output -------------------------------------------------------------------------------------
    def _make_goal(self, intent: Intent, now_ns: int) -> Optional[MotorGoal]:
        h = self.heading
        if h is None:
            return None
        kind = intent.kind
        force, self._force_goal = self._force_goal, False
        g = self.goal
        if kind == "keep":
            if g is None or g.mode == "release":
                kind = "hold"                  # first goal, or the hand turn / ROM setup is over
            elif force or not self.rom.contains(g.target_deg):
                kind = "move" if self._moving_under_goal() else "hold"
                intent = Intent(kind, intent.mode, intent.decision, g.target_deg, g.max_speed_dps, g.source)
            else:
                return None
        m = self.cfg.motion
        if kind == "move":
            target = self.rom.clamp(round(intent.target, 2))
            speed = min(intent.speed or m.max_speed_dps, m.max_speed_dps)
            if g is not None and g.mode == "move" and not force and g.max_speed_dps == speed:
                same = g.target_deg == target or (intent.source in ("follow", "sound") and
                                                   abs(target - g.target_deg) < m.retarget_min_deg and
                                                   g.source == intent.source)
                if same:
                    return None
            started = not self._moving_under_goal()
        else:
            if g is not None and g.mode == kind and not force:
                return None
            target, speed, started = self.rom.clamp(round(h, 2)), m.max_speed_dps, False
        self.seq += 1
        if started:
            self.moves += 1
        accel = min(m.max_accel_dps2, intent.accel) if intent.accel else m.max_accel_dps2
        if self.gentle:
            accel *= m.gentle_accel_scale          # > 0 and never above the configured one (the envelope holds)
        self.goal = MotorGoal(t_ns=now_ns, seq=self.seq, mode=kind, target_deg=target, max_speed_dps=speed,
                              max_accel_dps2=accel, rom_min_deg=self.rom.min_deg,
                              rom_max_deg=self.rom.max_deg, source=intent.source or "hold")
        self.goal_sent_ns = now_ns
        return self.goal

    def tick(self, now_ns: int) -> Output:
        holds = self.holds(now_ns)
        intent = self._decide(now_ns, holds)
        holds = self.holds(now_ns)                 # deciding may have started a timed hold
        goal = self._make_goal(intent, now_ns)
        alerts, self._alerts = self._alerts, []
        changed, self._rom_changed = self._rom_changed, False
        return Output(goal, alerts, self._state(now_ns, holds, intent), changed)

    def _state(self, now_ns: int, holds: list[Hold], intent: Intent) -> PolicyState:
        pm = self.people_msg
        return PolicyState(
            t_ns=now_ns, mode=intent.mode if not (holds and intent.mode in ("idle", "tracking")) else "hold",
            target_deg=None if intent.target is None else round(intent.target, 1),
            target_source=intent.source if intent.kind == "move" else (intent.aim.source if intent.aim else ""),
            zone=intent.zone, decision=intent.decision[:200],
            reason="; ".join(f"{h.name}: {h.reason}" for h in holds)[:200] if holds else intent.decision[:200],
            holds=[h.name for h in holds][:16], hold_reasons=[h.reason[:200] for h in holds][:16],
            rom_min_deg=self.rom.min_deg, rom_max_deg=self.rom.max_deg, follow=self.follow,
            shutter_closed=pm is not None and shutter_closed(pm),
            muted=self.muted, away=self.away.enabled,
            heading_deg=None if self.heading is None else round(self.heading, 1),
            goal_seq=self.goal.seq if self.goal else -1, moves=self.moves, rom_source=self.rom.source,
            notes=self.notes[-8:], speed_preset=self.speed_preset, away_hours=self.away.cfg.hours,
            health_ack_ns=self.health_ack_ns, gentle=self.gentle)
