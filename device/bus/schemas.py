"""Typed, versioned message schemas of every bus topic (msgspec structs, msgpack on the wire).

Rules that keep the bus safe and private:
- every message has `v` (schema version) and `t_ns` (monotonic capture time, ns);
- lists are bounded with Meta(max_length) and no message but the two audio wires (the simulator's
  `sim.audio`, ssl's local `ssl.beam`) has a bytes field, so no topic can carry a camera image (tests/vision
  proves it on a live run).
A subsystem owner may add fields to its own topic's message; bump VERSION when the meaning changes.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

import msgspec
from msgspec import Meta, Struct

VERSION = 1

# Bounded building blocks.
Deg = float
ShortText = Annotated[str, Meta(max_length=200)]
Name = Annotated[str, Meta(max_length=64)]


class Msg(Struct, kw_only=True, forbid_unknown_fields=False):
    """Base of every message: schema version and monotonic capture time in nanoseconds."""
    v: int = VERSION
    t_ns: int


# ---- service health -------------------------------------------------------------------------------

class Heartbeat(Msg, kw_only=True):
    service: Name
    pid: int
    seq: int
    state: Name = "running"          # starting | running | degraded | stopping
    detail: ShortText = ""
    dropped: int = 0                 # added by web: messages this process's subscriber has dropped so far


# ---- wake word ------------------------------------------------------------------------------------

class WakeEvent(Msg, kw_only=True):
    """Published by any wake-word engine (topic `wake.event`) once it has heard the wake word.

    `start_ns` and `end_ns` bound the whole utterance that began with the wake word, in the same
    monotonic clock as audio capture times; `t_ns` is when the engine decided. ssl localizes the
    audio between start and end from its ring buffer, so the event may arrive after the utterance.
    """
    start_ns: int
    end_ns: int
    keyword: Name = "swivel"
    score: float = 1.0
    engine: Name = "unknown"
    # Added by wake: the keyword's own span (0 = not given). An engine that decides at the end of the
    # keyword sends the event at once, while the command goes on: then end_ns is the decision point
    # (the utterance so far) and ssl localizes the keyword span straight away (ssl.doa phase "keyword").
    kw_start_ns: int = 0
    kw_end_ns: int = 0


# ---- sound source localization ----------------------------------------------------------------------

class DoaCandidate(Struct, kw_only=True):
    azimuth_deg: Deg                 # device frame
    power: float


class DoaTrackPoint(Struct, array_like=True):
    """Where the sound came from in one short window of an utterance (ssl.doa `track`)."""
    t_ns: int                        # capture time of the window's middle
    azimuth_deg: Deg                 # device frame at that time (world = device + heading then)
    confidence: float                # 0..1


class DoaEstimate(Msg, kw_only=True):
    """Topic `ssl.doa`: where the talker was, in the device frame at capture time."""
    start_ns: int                    # span of audio the estimate integrates
    end_ns: int
    azimuth_deg: Optional[Deg]       # device frame, None = no target (e.g. outside range of motion)
    heading_deg: Optional[Deg] = None  # turntable heading at capture (world = device + heading)
    confidence: float
    ambiguous: bool
    candidates: Annotated[list[DoaCandidate], Meta(max_length=8)] = []
    energy_map: Annotated[list[float], Meta(max_length=72)] = []   # coarse, device frame, bin 0 = -180 deg
    trigger: Name = "wake"           # wake | vad
    sent_ns: int = 0                 # when ssl published it (t_ns is the end of the audio it heard)
    # Which utterance an estimate belongs to and how far into it: "keyword" (early, on the wake word's
    # own span, sent the moment the engine decides), "utterance" (a whole span: VAD or an old-style
    # wake event), "final" (after the utterance ended). 0 = not part of a woken utterance.
    utterance_id: int = 0
    phase: Name = "utterance"
    # Added by ssl for a whole woken utterance ("final", or "utterance" from an old-style wake event): the
    # direction window by window, in time order (a talker who walks while speaking ends up where the last
    # points are, not where the onset was). Empty for "keyword" and VAD estimates.
    track: Annotated[list[DoaTrackPoint], Meta(max_length=32)] = []


# ---- vision ---------------------------------------------------------------------------------------

class Landmark(Struct, array_like=True):
    x: float                         # normalized image coordinates 0..1
    y: float


class Person(Struct, kw_only=True):
    track_id: int
    bearing_deg: Deg                 # device frame, left of centre positive
    elevation_deg: Deg
    distance_m: float
    engagement: float                # 0..1, facing the screen
    confidence: float
    landmarks: Annotated[list[Landmark], Meta(max_length=64)] = []
    # Added by vision: a face with no living head's micro-motion (a poster, a photo on the wall);
    # the policy does not turn to it.
    static: bool = False


class People(Msg, kw_only=True):
    """Topic `vision.people`: who is in view. Never pixels: landmarks and numbers derived from them."""
    heading_deg: Optional[Deg] = None
    blind: bool = False              # shutter closed or camera missing: nothing is being captured
    blind_reason: Name = ""
    fps: float = 0.0
    people: Annotated[list[Person], Meta(max_length=16)] = []


# ---- policy ---------------------------------------------------------------------------------------

class PolicyState(Msg, kw_only=True):
    """Topic `policy.state`: what the policy is doing and why (state topic, republished)."""
    mode: Name                       # idle | tracking | turning | away | manual_hold
    target_deg: Optional[Deg] = None     # world azimuth of the current target
    target_source: Name = ""         # sound | vision | api | pan
    zone: Name = ""                  # dead | holding | motion | outside
    decision: ShortText = ""         # e.g. "turn to 120.0", "hold"
    reason: ShortText = ""
    holds: Annotated[list[Name], Meta(max_length=16)] = []   # active no-move rules
    rom_min_deg: Deg = -180.0
    rom_max_deg: Deg = 180.0
    follow: bool = True
    shutter_closed: bool = False
    muted: bool = False
    away: bool = False
    # Added by policy: the reason of each hold (same order as `holds`), where the device points, what
    # was last sent to the motor, how many moves so far (run reports), and where the ROM came from.
    hold_reasons: Annotated[list[ShortText], Meta(max_length=16)] = []
    heading_deg: Optional[Deg] = None
    goal_seq: int = -1
    moves: int = 0
    rom_source: Name = ""            # config | state_file | api | hand
    speed_preset: Name = ""          # added by web: calm | normal | fast (the motion API's `speed`)
    away_hours: Name = ""            # added by web: when away-mode pans may run ("" = any time)
    notes: Annotated[list[ShortText], Meta(max_length=8)] = []   # lasting problems (e.g. ROM not saved)
    # Added by health (issue 17): the owner's last acknowledgement of "needs attention" (motion API op
    # health_ack; its monotonic time, 0 = none since the policy started), and whether goals are gentle now.
    health_ack_ns: int = 0
    gentle: bool = False


class PolicyAlert(Msg, kw_only=True):
    """Topic `policy.alert`: away mode saw a person. Time and bearing only, never an image."""
    bearing_deg: Deg                 # world azimuth
    track_id: int = -1
    kind: Name = "person"


# ---- motor ----------------------------------------------------------------------------------------

class MotorGoal(Msg, kw_only=True):
    """Topic `motor.goal`: where the policy wants the screen to point (world azimuth)."""
    seq: int
    mode: Literal["move", "stop", "hold", "release"] = "move"
    target_deg: Deg = 0.0
    max_speed_dps: float = 90.0
    max_accel_dps2: float = 180.0
    rom_min_deg: Deg = -180.0
    rom_max_deg: Deg = 180.0
    source: Name = ""                # added by policy: follow | sound | api | pan | away | rom | hold


class MotorState(Msg, kw_only=True):
    """Topic `motor.state`: the turntable as the MCU reports it (state topic, >= 20 Hz)."""
    heading_deg: Deg
    velocity_dps: float = 0.0
    target_deg: Optional[Deg] = None
    moving: bool = False
    stalled: bool = False
    manual: bool = False
    homed: bool = False
    at_limit: bool = False
    host_timeout: bool = False
    link_ok: bool = True
    fault: Optional[ShortText] = None
    goal_seq: int = -1
    # Added by diagnose (the event journal): commands waiting in the motor service, and the serial link's
    # running counters (retransmissions, commands that got no answer, frames that failed their CRC).
    queue: int = 0
    retransmits: int = 0
    timeouts: int = 0
    rx_crc_errors: int = 0
    # The MCU's own count of step-queue underruns (the planner fell behind mid-move), from its STATUS, read
    # about once a second; None until the first STATUS since the MCU started.
    underruns: Optional[int] = None


class MotorHealth(Msg, kw_only=True):
    """Topic `motor.health` (added for turntable health, issue 17): one 20 ms window of the MCU's HEALTH
    report joined with the TELEMETRY it follows, 50 Hz while `[motor] health_reports` is on.

    err = measured - commanded angle, sampled every 1 ms in the window (PROTOCOL.md "HEALTH"). `t_ns` is
    the host's receive time of the TELEMETRY; `mcu_ms` its uptime stamp (a decrease = the MCU restarted)."""
    commanded_deg: Deg               # the step count, as an angle
    measured_deg: Deg                # the angle sensor
    velocity_dps: float = 0.0
    moving: bool = False
    err_mean_deg: float = 0.0        # mean err over the window
    err_min_deg: float = 0.0
    err_max_deg: float = 0.0
    stall_margin_deg: float = 0.0    # stall threshold - max |err| in the window, floored at 0
    steps: int = 0                   # signed steps issued in the window
    diag_ms: int = 0                 # ms the driver's DIAG line was high in the window
    settle_ms: Optional[int] = None  # of the last finished move (None = none yet)
    backlash_deg: Optional[float] = None   # at the last reversal (None = none yet)
    mcu_ms: int = 0


# ---- turntable health ----------------------------------------------------------------------------

class SectorScore(Struct, array_like=True):
    """How one 10-degree sector of the turntable compares with its reference (1 = the same, 0 = far worse)."""
    centre_deg: Deg
    score: float


class KindRatio(Struct, array_like=True):
    """One fault kind's statistic over its threshold (>= 1: raised)."""
    kind: Name
    ratio: float


class HealthState(Msg, kw_only=True):
    """Topic `health.state` (added by health, issue 17): the turntable against its reference signature."""
    status: Name                     # no_reference | sweeping | learning | ok | attention
    needs_attention: bool = False
    kind: Name = ""                  # slip | snag | friction | sensor_offset | backlash | sensor_noise
    angle_deg: Optional[Deg] = None  # where it applies (a snag, a stiff sector)
    acknowledged: bool = False       # the owner acknowledged it (swivel health ack)
    gentle: bool = False             # needs attention and not acknowledged: the policy moves gently
    worst_ratio: float = 0.0
    ratios: Annotated[list[KindRatio], Meta(max_length=8)] = []
    sectors: Annotated[list[SectorScore], Meta(max_length=36)] = []
    moves: int = 0                   # routine moves compared since the reference
    reference_moves: int = 0         # moves of the reference sweep (0 = none)
    reference_created: float = 0.0   # wall clock, seconds
    note: ShortText = ""             # a lasting problem, e.g. an unreadable reference file
    dropped: int = 0                 # malformed messages dropped by the health service


# ---- simulated world (only ever published by `swivel run`'s world process) --------------------------

class SimPerson(Struct, kw_only=True):
    id: int
    azimuth_world_deg: Deg
    distance_m: float
    height_m: float = 1.6
    facing_deg: Deg = 0.0            # 0 = facing the device
    photo: Name = "astronaut"
    speaking: bool = False


class SimPoster(Struct, kw_only=True):
    """A framed photograph of a face on the wall: perfectly rigid (added by vision for the poster scenario)."""
    azimuth_world_deg: Deg
    distance_m: float
    height_m: float = 1.5            # height of the picture's centre above the floor
    width_m: float = 0.4
    photo: Name = "astronaut"


class SimWorld(Msg, kw_only=True):
    """Topic `sim.world`: ground truth of the simulated room, for simulated hardware backends."""
    heading_deg: Deg                 # true turntable angle from the motor backend's plant model
    people: Annotated[list[SimPerson], Meta(max_length=16)] = []
    shutter_closed: bool = False
    mute: bool = False
    lighting: float = 1.0
    scenario_time_s: float = 0.0
    camera_present: bool = True      # False while the simulated camera is unplugged
    posters: Annotated[list[SimPoster], Meta(max_length=16)] = []   # pictures of faces on the walls


class AudioBeam(Msg, kw_only=True):
    """Topic `ssl.beam`: ssl's beam of the array (16-bit mono PCM) for on-device listeners (the wake
    engine). Published on an ipc:// socket only, so the audio never leaves the device. `t_ns` is the
    capture time of the first sample."""
    rate: int
    samples: Annotated[bytes, Meta(max_length=8192)]   # little-endian int16, mono: at most 256 ms a block
    azimuth_deg: Optional[Deg] = None  # device-frame direction the beam pointed at (None = unsteered)


class SimAudioBlock(Msg, kw_only=True):
    """Topic `sim.audio`: the simulated microphone wire (interleaved float32 samples)."""
    rate: int
    channels: int
    samples: bytes


# ---- speaker ----------------------------------------------------------------------------------------

class SpeakerState(Msg, kw_only=True):
    """topic speaker.state: what the spatial audio output is doing and whom its filters are steered at."""
    mode: Name                       # spatial | ctc | bypass
    drivers: int
    layout: Name = ""
    listener_bearing_deg: Optional[Deg] = None   # device frame, the bearing the filters are designed for
    listener_distance_m: Optional[float] = None
    listener_source: Name = ""       # vision | default (nobody engaged: the configured sweet spot)
    track_id: int = -1
    designs: int = 0                 # filter redesigns since start
    source: Name = ""                # fifo | alsa | file | none
    playing: bool = False
    played_frames: int = 0
    underruns: int = 0
    clipped: int = 0
    rate: int = 48000
    output: Name = ""                # sim | pyaudio
    output_ok: bool = True


# ---- voice satellite --------------------------------------------------------------------------------

class SatelliteState(Msg, kw_only=True):
    """Topic `satellite.state` (added by satellite): the Home Assistant satellite's own state.

    While the device speaks (`speak_start_ns`..`speak_until_ns`, capture clock, the tail included) the wake
    service ignores what it hears, so the device's own voice never wakes it nor turns the screen.
    `wake_models` is the wake-word model Home Assistant chose ([] = the configured ones)."""
    clients: int = 0
    streaming: bool = False
    speaking: bool = False
    speak_start_ns: int = 0
    speak_until_ns: int = 0
    wake_models: Annotated[list[Name], Meta(max_length=8)] = []
    pipelines: int = 0               # pipelines asked of Home Assistant so far
    played_frames: int = 0           # samples of answers, announcements and timer sounds played
    timers: int = 0                  # timers running


# ---- motion API (request/reply, not pub/sub) --------------------------------------------------------

class MotionRequest(Struct, kw_only=True):
    v: int = VERSION
    client: Name = ""                # filled by the server from the peer's credentials, not trusted
    op: Literal["turn", "follow", "pan", "stop", "set_rom", "get_state", "away", "speed", "away_hours", "tokens",
                "health_sweep", "health_ack"]    # health_*: added by health (issue 17)
    angle_deg: Optional[Deg] = None
    enabled: Optional[bool] = None
    min_deg: Optional[Deg] = None
    max_deg: Optional[Deg] = None
    rom_step: Optional[Name] = None  # added by policy: set_rom by hand: start | min | max | done | cancel
    # Added by web: speed presets and away hours, and the principal a trusted door (the web service)
    # acts for, e.g. "web_paired:<session id>": the access policy narrows the caller's ops to that kind's.
    speed_preset: Optional[Name] = None
    away_hours: Optional[Name] = None
    principal: Optional[Name] = None
    # Added by web: an app's token (what it may do beyond its uid's ops), and managing tokens (op "tokens").
    token: Optional[Annotated[str, Meta(max_length=128)]] = None
    token_action: Optional[Name] = None      # list | create | revoke
    token_name: Optional[Name] = None
    token_ops: Optional[Annotated[list[Name], Meta(max_length=16)]] = None


class TokenInfo(Struct, kw_only=True):
    """A motion-API token as listed: never its secret."""
    name: Name
    ops: Annotated[list[Name], Meta(max_length=16)] = []
    created: float = 0.0                     # wall clock, seconds


class MotionReply(Struct, kw_only=True):
    v: int = VERSION
    ok: bool
    error: ShortText = ""
    state: Optional[PolicyState] = None
    ops: Annotated[list[Name], Meta(max_length=32)] = []   # added by web: what this caller may do
    tokens: Annotated[list[TokenInfo], Meta(max_length=64)] = []   # added by web: op "tokens"
    secret: Annotated[str, Meta(max_length=128)] = ""      # added by web: a token just created (shown once)


def encoder() -> msgspec.msgpack.Encoder:
    return msgspec.msgpack.Encoder()
