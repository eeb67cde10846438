"""Scenario files: the simulated room, its people, what they say, noise, and events, from one TOML file.

The format is documented in README.md ("Scenario files"); `load_scenario` validates it and names the
key and line of any mistake.
"""
from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Literal, Optional

import msgspec

from ..config import describe_validation_error
from ..errors import UserError

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


class Room(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    size_m: tuple[float, float, float] = (6.0, 5.0, 2.7)
    rt60_s: float = 0.4
    device_m: tuple[float, float, float] = (3.0, 2.5, 0.9)   # where the device stands in the room


class Waypoint(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    t: float                            # scenario seconds
    azimuth_deg: float                  # world azimuth seen from the device (0 = home, CCW positive)
    distance_m: float
    facing_deg: float = 0.0             # 0 = faces the device, 180 = back turned


class PersonSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: int
    photo: str = "astronaut"
    height_m: float = 1.6
    path: list[Waypoint]


class PosterSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A framed photograph of a face hung on a wall: perfectly rigid, never a person."""
    photo: str = "astronaut"
    azimuth_deg: float                  # world azimuth seen from the device
    distance_m: float                   # horizontal distance from the device (where the wall is)
    height_m: float = 1.5               # the picture's centre above the floor
    width_m: float = 0.4


class Speech(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    person: int
    t: float
    text: str
    voice: str = "en-us"


class Noise(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["tv", "babble", "white"]
    level_db: float = -30.0             # relative to speech at 1 m (diffuse kinds: overall level)
    azimuth_deg: Optional[float] = None  # point sources (tv)
    distance_m: Optional[float] = None


EVENT_KINDS = ("shutter_close", "shutter_open", "mute_on", "mute_off", "obstacle", "clear_obstacles",
               "hand_push", "mcu_reset", "lights", "mics_unplug", "mics_plug", "camera_unplug", "camera_plug")


class Event(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    t: float
    kind: Literal[EVENT_KINDS]
    azimuth_deg: Optional[float] = None  # obstacle position (world)
    delta_deg: Optional[float] = None    # hand push: how far the hand turns the screen
    duration_s: float = 1.0
    level: Optional[float] = None        # lights: 1.0 normal


FAULT_KINDS = ("wake_delay", "audio_stall", "cpu_hog", "vision_stall")


class Fault(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A fault the simulated room injects into chosen or random wake events (`swivel diagnose` tests):
    wake_delay: the stand-in engine decides delay_s late; audio_stall: the mic wire stops near the end of the
    utterance and delivers delay_s late (ssl waits); cpu_hog: `workers` busy processes beside the services
    for duration_s from the end of the utterance; vision_stall: the camera goes missing for duration_s."""
    kind: Literal[FAULT_KINDS]
    events: list[int] = []              # which wake utterances (1 = the first), and/or
    probability: float = 0.0            # each wake utterance at random (seeded by the scenario's seed)
    delay_s: float = 1.0
    duration_s: float = 2.0
    workers: int = 2


TURNTABLE_FAULT_KINDS = ("friction", "snag", "belt_slip", "backlash", "sensor_offset", "sensor_noise")


class TurntableFault(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A worn or damaged turntable from start_s on (the plant in simavr; device/sim/turntable.py FAULT_KINDS
    says what each severity means): friction (extra load, fraction of the holding torque; with angle_deg a
    sector width_deg wide), snag (load at angle_deg), belt_slip (travel lost), backlash (deg), sensor_offset
    (deg), sensor_noise (deg RMS)."""
    kind: Literal[TURNTABLE_FAULT_KINDS]
    severity: float
    angle_deg: Optional[float] = None
    width_deg: Optional[float] = None
    start_s: float = 0.0


class Expect(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a correct device does in this scenario (checked by the scenario tests)."""
    faces_person: Optional[int] = None  # the person the screen should end up facing
    tolerance_deg: float = 10.0
    max_moves: Optional[int] = None
    still: bool = False                 # the device must not move at all
    holds: list[str] = []               # no-move rules that must show up in policy.state
    final_heading_deg: Optional[float] = None  # where the screen must end (within tolerance_deg)
    min_moves: Optional[int] = None
    alerts: Optional[int] = None        # at least this many away-mode alerts (policy.alert)


class Scenario(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    description: str = ""
    duration_s: float = 20.0
    seed: int = 1
    wake_word: str = "alexa"            # a shipped model's word (device/wake/config.py); it selects the model
    wake_engine: Literal["micro", "open", "standin"] = "micro"   # standin: the world fakes an engine (exact timing)
    array: str = "respeaker4"
    room: Room = msgspec.field(default_factory=Room)
    person: list[PersonSpec] = []
    poster: list[PosterSpec] = []
    speech: list[Speech] = []
    noise: list[Noise] = []
    event: list[Event] = []
    fault: list[Fault] = []             # simulated only: see Fault
    turntable_fault: list[TurntableFault] = []   # simulated only: see TurntableFault
    expect: Expect = msgspec.field(default_factory=Expect)
    config: dict = {}                   # swivel.toml sections to override for this run, e.g. {policy = {...}}
    path: str = ""                      # where it was loaded from (filled by load_scenario)

    def person_by_id(self, pid: int) -> PersonSpec:
        for p in self.person:
            if p.id == pid:
                return p
        raise KeyError(pid)


def person_at(spec: PersonSpec, t: float) -> Waypoint:
    """Linear interpolation along the waypoints (holding the first before it and the last after)."""
    path = spec.path
    if t <= path[0].t:
        return path[0]
    for a, b in zip(path, path[1:]):
        if t <= b.t:
            f = (t - a.t) / (b.t - a.t) if b.t > a.t else 1.0
            daz = (b.azimuth_deg - a.azimuth_deg + 180.0) % 360.0 - 180.0
            return Waypoint(t=t, azimuth_deg=a.azimuth_deg + f * daz,
                            distance_m=a.distance_m + f * (b.distance_m - a.distance_m),
                            facing_deg=a.facing_deg + f * (b.facing_deg - a.facing_deg))
    return path[-1]


def room_position(room: Room, azimuth_deg: float, distance_m: float) -> tuple[float, float]:
    """Room coordinates of a point seen from the device at a world azimuth (0 = room +x axis)."""
    a = math.radians(azimuth_deg)
    return room.device_m[0] + distance_m * math.cos(a), room.device_m[1] + distance_m * math.sin(a)


def resolve_scenario_path(name_or_path: Optional[str]) -> Path:
    if not name_or_path:
        return SCENARIO_DIR / "default.toml"
    p = Path(name_or_path)
    if p.exists() or p.suffix:
        return p
    return SCENARIO_DIR / f"{name_or_path}.toml"      # a bare name picks a shipped scenario


def load_scenario(name_or_path: Optional[str]) -> Scenario:
    path = resolve_scenario_path(name_or_path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"scenario {path} does not exist (shipped ones: "
                        f"{', '.join(sorted(p.stem for p in SCENARIO_DIR.glob('*.toml')))})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"scenario {path} cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    try:
        sc = msgspec.convert(data, Scenario)
    except msgspec.ValidationError as exc:
        raise UserError(describe_validation_error(str(exc), text, str(path))) from None
    sc.path = str(path)
    check_scenario(sc, str(path))
    return sc


def check_scenario(sc: Scenario, origin: str) -> None:
    """Consistency the schema cannot express; each error names what is wrong."""
    def fail(msg: str):
        raise UserError(f"{origin}: {msg}")

    w, d, h = sc.room.size_m
    if min(w, d, h) <= 0:
        fail("room.size_m: every dimension must be positive")
    if not 0.1 <= sc.room.rt60_s <= 2.0:
        fail(f"room.rt60_s: {sc.room.rt60_s} is outside 0.1..2.0 s")
    if not (0 < sc.room.device_m[0] < w and 0 < sc.room.device_m[1] < d and 0 < sc.room.device_m[2] < h):
        fail("room.device_m: the device must stand inside the room")
    if sc.duration_s <= 0:
        fail("duration_s: must be positive")
    ids = [p.id for p in sc.person]
    if len(set(ids)) != len(ids):
        fail("person: two people share an id")
    for p in sc.person:
        if not p.path:
            fail(f"person {p.id}: path needs at least one waypoint")
        if any(b.t < a.t for a, b in zip(p.path, p.path[1:])):
            fail(f"person {p.id}: path waypoints must be in time order")
        for wp in p.path:
            x, y = room_position(sc.room, wp.azimuth_deg, wp.distance_m)
            if not (0.2 <= x <= w - 0.2 and 0.2 <= y <= d - 0.2) or wp.distance_m < 0.3:
                fail(f"person {p.id}: at t={wp.t} s ({wp.azimuth_deg} deg, {wp.distance_m} m) they would "
                     f"stand outside the room or too close")
    for i, pst in enumerate(sc.poster):
        x, y = room_position(sc.room, pst.azimuth_deg, pst.distance_m)
        if not (0.0 <= x <= w and 0.0 <= y <= d) or pst.distance_m < 0.3:
            fail(f"poster {i + 1}: at {pst.azimuth_deg} deg, {pst.distance_m} m it would hang outside the room")
        if not 0.05 <= pst.width_m <= 3.0 or not 0.0 < pst.height_m < h:
            fail(f"poster {i + 1}: width_m must be 0.05..3 m and height_m inside the room")
    for s in sc.speech:
        if s.person not in ids:
            fail(f"speech at t={s.t}: no person with id {s.person}")
        if not s.text.strip():
            fail(f"speech at t={s.t}: empty text")
    for n in sc.noise:
        if n.kind == "tv" and (n.azimuth_deg is None or n.distance_m is None):
            fail("noise kind 'tv' is a point source: give azimuth_deg and distance_m")
    for e in sc.event:
        if e.kind == "obstacle" and e.azimuth_deg is None:
            fail(f"event obstacle at t={e.t}: give azimuth_deg")
        if e.kind == "hand_push" and e.delta_deg is None:
            fail(f"event hand_push at t={e.t}: give delta_deg")
    for f in sc.fault:
        if not 0.0 <= f.probability <= 1.0 or f.delay_s < 0 or f.duration_s < 0 or not 1 <= f.workers <= 16:
            fail(f"fault {f.kind}: probability must be 0..1, delay_s and duration_s >= 0, workers 1..16")
        if f.kind == "wake_delay" and sc.wake_engine != "standin":
            fail("fault wake_delay: only the stand-in engine can be told to decide late (wake_engine = \"standin\")")
    for tf in sc.turntable_fault:
        where = f"turntable_fault {tf.kind}"
        if not math.isfinite(tf.severity) or (tf.severity < 0 and tf.kind != "sensor_offset"):
            fail(f"{where}: severity must be a number >= 0 (only sensor_offset may be negative)")
        if tf.kind == "snag" and tf.angle_deg is None:
            fail(f"{where}: a snag is somewhere: give angle_deg")
        if tf.width_deg is not None and (tf.angle_deg is None or not tf.width_deg > 0):
            fail(f"{where}: width_deg must be > 0 and needs angle_deg")
        if tf.start_s < 0:
            fail(f"{where}: start_s must be >= 0")
        if tf.kind == "sensor_offset" and abs(tf.severity) >= 3.0:
            fail(f"{where}: an offset of 3 degrees or more reads as a hand turning the table (give less)")
    if sc.wake_engine != "standin":
        from ..wake.config import SHIPPED_MODELS
        if sc.wake_word not in SHIPPED_MODELS[sc.wake_engine]:
            fail(f"wake_word: {sc.wake_word!r} has no shipped {sc.wake_engine} model (shipped: "
                 f"{', '.join(SHIPPED_MODELS[sc.wake_engine])}); use one, or wake_engine = \"standin\"")
    if sc.expect.faces_person is not None and sc.expect.faces_person not in ids:
        fail(f"expect.faces_person: no person with id {sc.expect.faces_person}")
