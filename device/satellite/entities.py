"""The entities Home Assistant shows for the device, and how each maps onto the bus and the motion API.

Every command becomes a motion API request naming the `satellite` principal, so the one access policy
(device/policy/access.py) decides, exactly as for the web app's pages. States come from the bus:
policy.state (follow, away, range of motion), motor.state (heading), vision.people (a count, never an image),
health.state (the turntable against its reference: a text sensor, and a button to acknowledge).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from aioesphomeapi import api_pb2 as pb

from ..bus.schemas import MotionRequest

PRINCIPAL = "satellite"


@dataclass(frozen=True)
class Entity:
    key: int
    kind: str                 # switch | number | sensor | text_sensor | button
    object_id: str
    name: str
    icon: str = ""
    unit: str = ""


ENTITIES = (
    Entity(1, "switch", "follow_me", "Follow me", "mdi:account-arrow-right"),
    Entity(2, "switch", "away_mode", "Away mode", "mdi:shield-home"),
    Entity(3, "number", "rom_min", "Range of motion min", "mdi:arrow-collapse-left", "°"),
    Entity(4, "number", "rom_max", "Range of motion max", "mdi:arrow-collapse-right", "°"),
    Entity(5, "sensor", "heading", "Heading", "mdi:compass", "°"),
    Entity(6, "sensor", "people_in_view", "People in view", "mdi:account-group"),
    Entity(7, "button", "face_me", "Face me", "mdi:account-search"),
    Entity(8, "button", "go_home", "Go home", "mdi:home-import-outline"),
    # Added by health (issue 17): "ok", "needs attention: snag at 40 deg", ... and the owner's acknowledgement.
    Entity(9, "text_sensor", "turntable_health", "Turntable health", "mdi:rotate-3d-variant"),
    Entity(10, "button", "acknowledge_turntable", "Acknowledge turntable", "mdi:check-circle-outline"),
)
BY_KEY = {e.key: e for e in ENTITIES}


def list_messages(node: str) -> list:
    """ListEntities*Response messages, in key order."""
    out = []
    for e in ENTITIES:
        common = dict(object_id=e.object_id, key=e.key, name=e.name, unique_id=f"{node}-{e.object_id}", icon=e.icon)
        if e.kind == "switch":
            out.append(pb.ListEntitiesSwitchResponse(**common))
        elif e.kind == "number":
            out.append(pb.ListEntitiesNumberResponse(**common, min_value=-180.0, max_value=180.0, step=1.0,
                                                     unit_of_measurement=e.unit, mode=2))   # 2 = box
        elif e.kind == "sensor":
            out.append(pb.ListEntitiesSensorResponse(**common, unit_of_measurement=e.unit,
                                                     accuracy_decimals=1 if e.unit else 0, state_class=1))
        elif e.kind == "text_sensor":
            out.append(pb.ListEntitiesTextSensorResponse(**common))
        else:
            out.append(pb.ListEntitiesButtonResponse(**common))
    return out


class EntityStates:
    """What the bus says now, as entity states; `changed()` gives the messages for what moved since last asked."""

    def __init__(self):
        self.values: dict[int, Optional[float | bool | str]] = {e.key: None for e in ENTITIES}
        self._sent: dict[int, Optional[float | bool]] = {}
        self.last_talker_world_deg: Optional[float] = None
        self.heading: Optional[float] = None

    def on_policy(self, m) -> None:
        self.values[1] = bool(m.follow)
        self.values[2] = bool(m.away)
        self.values[3] = float(m.rom_min_deg)
        self.values[4] = float(m.rom_max_deg)

    def on_motor(self, m) -> None:
        self.heading = float(m.heading_deg)
        self.values[5] = round(self.heading, 1)

    def on_people(self, m) -> None:
        self.values[6] = float(len(m.people))

    def on_health(self, m) -> None:
        """health.state as one line of text."""
        if m.needs_attention:
            where = f" at {m.angle_deg:.0f} deg" if m.angle_deg is not None else ""
            text = f"needs attention: {m.kind}{where}" + (" (acknowledged)" if m.acknowledged else "")
        else:
            text = {"no_reference": "no reference", "sweeping": "recording reference"}.get(m.status, m.status)
        self.values[9] = text[:64]

    def on_doa(self, m) -> None:
        """The last talker the device heard (world frame): where "face me" turns."""
        if m.azimuth_deg is not None and not m.ambiguous:
            heading = m.heading_deg if m.heading_deg is not None else self.heading
            if heading is not None:
                self.last_talker_world_deg = (m.azimuth_deg + heading + 180.0) % 360.0 - 180.0

    def state_message(self, key: int):
        e, v = BY_KEY[key], self.values[key]
        if e.kind == "switch":
            return pb.SwitchStateResponse(key=key, state=bool(v))
        if e.kind in ("number", "sensor"):
            cls = pb.NumberStateResponse if e.kind == "number" else pb.SensorStateResponse
            return cls(key=key, state=float(v or 0.0), missing_state=v is None)
        if e.kind == "text_sensor":
            return pb.TextSensorStateResponse(key=key, state=str(v or ""), missing_state=v is None)
        return None

    def all_states(self) -> list:
        self._sent = dict(self.values)
        return [m for m in (self.state_message(e.key) for e in ENTITIES) if m is not None]

    def changed(self) -> list:
        out = []
        for key, v in self.values.items():
            if self._sent.get(key, "unset") != v and BY_KEY[key].kind != "button":
                self._sent[key] = v
                out.append(self.state_message(key))
        return out


class CommandRefused(Exception):
    """A command that cannot become a motion request (e.g. "face me" before anyone spoke)."""


def command_request(msg, states: EntityStates) -> MotionRequest:
    """The motion API request a SwitchCommand, NumberCommand or ButtonCommand asks for."""
    e = BY_KEY.get(msg.key)
    if e is None:
        raise CommandRefused(f"no entity with key {msg.key}")
    if isinstance(msg, pb.SwitchCommandRequest) and e.kind == "switch":
        op = "follow" if e.object_id == "follow_me" else "away"
        return MotionRequest(op=op, enabled=bool(msg.state), principal=PRINCIPAL)
    if isinstance(msg, pb.NumberCommandRequest) and e.kind == "number":
        lo, hi = states.values[3], states.values[4]
        if lo is None or hi is None:
            raise CommandRefused("the policy's range of motion is not known yet")
        value = float(msg.state)
        if value != value:
            raise CommandRefused("not a number")
        lo, hi = (value, hi) if e.object_id == "rom_min" else (lo, value)
        return MotionRequest(op="set_rom", min_deg=lo, max_deg=hi, principal=PRINCIPAL)
    if isinstance(msg, pb.ButtonCommandRequest) and e.kind == "button":
        if e.object_id == "go_home":
            return MotionRequest(op="turn", angle_deg=0.0, principal=PRINCIPAL)
        if e.object_id == "acknowledge_turntable":
            return MotionRequest(op="health_ack", principal=PRINCIPAL)
        if states.last_talker_world_deg is None:
            raise CommandRefused("face me: nobody has been heard yet")
        return MotionRequest(op="turn", angle_deg=round(states.last_talker_world_deg, 1), principal=PRINCIPAL)
    raise CommandRefused(f"{type(msg).__name__} does not apply to the {e.kind} {e.object_id!r}")
