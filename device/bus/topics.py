"""The one registry of bus topics: name, schema, publishing service, and whether it is state.

State topics are republished every `period_s` so that a late subscriber converges (ZeroMQ's
slow-joiner problem); event topics are sent once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import schemas as s


@dataclass(frozen=True)
class Topic:
    name: str
    schema: type
    publisher: str                    # service that binds the endpoint carrying this topic
    state: bool = False
    period_s: Optional[float] = None  # republication period of a state topic


TOPICS: dict[str, Topic] = {t.name: t for t in [
    Topic("hb", s.Heartbeat, "*"),
    Topic("wake.event", s.WakeEvent, "wake"),
    Topic("ssl.doa", s.DoaEstimate, "ssl"),
    Topic("ssl.beam", s.AudioBeam, "ssl"),
    Topic("vision.people", s.People, "vision", state=True, period_s=0.5),
    Topic("policy.state", s.PolicyState, "policy", state=True, period_s=0.5),
    Topic("policy.alert", s.PolicyAlert, "policy"),
    Topic("motor.goal", s.MotorGoal, "policy", state=True, period_s=0.1),
    Topic("motor.state", s.MotorState, "motor", state=True, period_s=0.05),
    Topic("motor.health", s.MotorHealth, "motor"),       # a 20 ms HEALTH window, 50 Hz while reports are on
    Topic("health.state", s.HealthState, "health", state=True, period_s=0.5),   # turntable health (issue 17)
    Topic("speaker.state", s.SpeakerState, "speaker", state=True, period_s=0.5),
    Topic("sim.world", s.SimWorld, "world", state=True, period_s=0.05),
    Topic("sim.audio", s.SimAudioBlock, "world"),
    Topic("satellite.state", s.SatelliteState, "satellite", state=True, period_s=0.5),
    Topic("sim.voice", s.SimAudioBlock, "satellite"),     # the device's own voice, for the simulated room
]}

# The device's services. `wake` binds wake.pub; with the simulated stand-in engine the world does.
SERVICES = ("ssl", "vision", "policy", "motor", "wake")


def topic(name: str) -> Topic:
    try:
        return TOPICS[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}; known: {', '.join(sorted(TOPICS))}") from None
