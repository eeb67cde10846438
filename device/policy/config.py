"""Configuration of the policy service (the [policy] table of swivel.toml), with calm built-in defaults."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

import msgspec
from msgspec import Meta

# The hardware's limits (DESIGN.md): nothing in config may ask for more.
HW_MAX_SPEED_DPS = 180.0
HW_MAX_ACCEL_DPS2 = 360.0

Positive = Annotated[float, Meta(gt=0)]
NonNegative = Annotated[float, Meta(ge=0)]
Fraction = Annotated[float, Meta(ge=0, le=1)]
Azimuth = Annotated[float, Meta(ge=-180, le=180)]


class MotionConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How the policy asks the motor to move: calm by default, never over the hardware limits."""
    max_speed_dps: Annotated[float, Meta(gt=0, le=HW_MAX_SPEED_DPS)] = 80.0
    max_accel_dps2: Annotated[float, Meta(gt=0, le=HW_MAX_ACCEL_DPS2)] = 160.0
    pan_speed_dps: Annotated[float, Meta(gt=0, le=HW_MAX_SPEED_DPS)] = 30.0
    arrive_tol_deg: Positive = 2.0       # a move is done when the heading is this close and still
    retarget_min_deg: Positive = 3.0     # smaller changes of an ongoing move's target are not sent
    # Turntable health (issue 17): the reference sweep is slow and calm, so the lag it records is the drive
    # train's own; while the turntable needs attention (and the owner has not acknowledged it) every goal's
    # acceleration is scaled by gentle_accel_scale.
    sweep_speed_dps: Annotated[float, Meta(gt=0, le=HW_MAX_SPEED_DPS)] = 20.0
    sweep_accel_dps2: Annotated[float, Meta(gt=0, le=HW_MAX_ACCEL_DPS2)] = 80.0
    gentle_accel_scale: Annotated[float, Meta(gt=0, le=1)] = 0.5


class RomConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Range of motion (world azimuth) used until one is set and stored through the API."""
    min_deg: Azimuth = -150.0
    max_deg: Azimuth = 150.0
    min_width_deg: Positive = 20.0       # narrower ranges are refused as a likely mistake
    setup_timeout_s: Positive = 180.0    # a by-hand setup left open this long is cancelled

    def __post_init__(self):
        if self.max_deg - self.min_deg < self.min_width_deg:
            raise ValueError(f"max_deg must exceed min_deg by at least min_width_deg ({self.min_width_deg})")


class ZonesConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Dead, holding and motion zones across the camera's view; widths follow the person's distance.

    A zone edge is a sideways distance at the person (metres), turned into an angle with their
    distance and clamped to [min, max] degrees: a step to the side while cooking close to the
    device is a large angle, the same step across the room a small one.
    """
    hfov_deg: Annotated[float, Meta(gt=10, lt=180)] = 66.0
    dead_lateral_m: Positive = 0.30      # half-width of the dead zone at the person
    dead_min_deg: Positive = 5.0
    dead_max_deg: Positive = 14.0
    edge_lateral_m: Positive = 0.35      # the motion zone begins this far (at the person) inside the view's edge
    edge_min_deg: Positive = 6.0
    edge_max_deg: Positive = 16.0
    default_distance_m: Positive = 2.0   # distance assumed when only sound says where someone is
    dwell_s: NonNegative = 2.5           # holding zone: how long a person must stay put before we follow
    settle_tol_deg: Positive = 4.0       # "staying put" means moving less than this

    def __post_init__(self):
        if self.dead_max_deg >= self.hfov_deg / 2 - self.edge_min_deg:
            # The dead zone must end before the motion zone can begin, or there is no holding zone.
            raise ValueError("dead_max_deg must be smaller than hfov_deg / 2 - edge_min_deg")
        if self.dead_min_deg > self.dead_max_deg or self.edge_min_deg > self.edge_max_deg:
            raise ValueError("each *_min_deg must not exceed its *_max_deg")


class FusionConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How sound and sight become one target."""
    min_confidence: Fraction = 0.3       # weaker sound estimates are ignored
    ambiguity_ratio: Fraction = 0.8      # a second candidate this strong ...
    ambiguity_sep_deg: Positive = 45.0   # ... and this far from the first makes the sound ambiguous
    confirm_gate_deg: Positive = 12.0    # a person this close to a sound's direction confirms it
    confirm_timeout_s: Positive = 1.5    # looking at a sound's direction this long with nobody there refutes it
    confirm_static_s: Positive = 4.0     # ... but a face is there that has not moved yet (someone sitting still
                                         # shows a living head's micro-motion within a few seconds): look this long
    cue_ttl_s: Positive = 8.0            # a sound cue nobody confirmed is forgotten after this at the latest
    cue_decay_s: Positive = 5.0          # its weight decays with this time constant (gone below min_cue_weight)
    unconfirmed_penalty: Fraction = 0.25 # credibility of a direction is multiplied by this when refuted
    credibility_recover_s: Positive = 600.0   # refuted directions regain credibility on this time scale
    min_cue_weight: Fraction = 0.25      # confidence x credibility below this: the sound is not acted on
    source_gate_deg: Positive = 15.0     # sounds this close together come from the same source
    engaged_threshold: Fraction = 0.5    # engagement at or above this counts as facing the device
    group_margin_deg: NonNegative = 8.0  # keep engaged groups this far inside the view's edges
    people_stale_s: Positive = 1.0       # a People message older than this is not used for targets
    bearing_smoothing_s: NonNegative = 0.3   # time constant smoothing each person's bearing (0 = none) ...
    bearing_jump_deg: Positive = 8.0     # ... for changes up to this; a bigger change is taken at once
    lost_hold_s: Positive = 2.0          # a target person out of sight is kept this long
    turn_on_vad: bool = False            # speech without a wake word may turn the device too (else it only
                                         # marks who spoke, for engagement)
    # A talker who moves while speaking (ssl.doa `track`) and people who leave the view.
    walk_min_deg: Positive = 10.0        # a track that moves at least this far is a walk: aim where it ends
    walk_jump_deg: Positive = 25.0       # neighbouring track points further apart: two sources, not a walk
    edge_lead_deg: NonNegative = 25.0    # a followed person lost at the view's edge: turn this far past where
                                         # they were last seen (0 = just keep their last bearing)
    search_step_deg: Positive = 40.0     # nobody where a walking talker's sound ended: look this much further on...
    search_max_steps: Annotated[int, Meta(ge=0, le=4)] = 2   # ...at most this many times...
    search_max_deg: Positive = 90.0      # ...and never further than this from where the sound ended
    walk_look_s: Positive = 2.5          # each look for a walking talker lasts this long (someone who just
                                         # stopped walking takes vision a moment to confirm)
    follow_lead_s: NonNegative = 1.0     # a move after a walking person ends where they will be this much later
                                         # (at most the dead zone ahead; 0 = where they are)


class RulesConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """No-move rules: how long each lasts."""
    hand_respect_s: NonNegative = 30.0   # after a hand turn, no autonomous motion for this long
    api_respect_s: NonNegative = 30.0    # after an API turn or stop, no autonomous motion for this long
    stall_clear_s: Positive = 300.0      # a stalled side is tried again after this (or a hand turn, or set_rom)
    stall_margin_deg: NonNegative = 2.0  # targets within this of the stall point towards the obstacle are refused
    cue_hold_s: Positive = 3.0           # an ambiguous or out-of-range sound holds motion this long
    vision_timeout_s: Positive = 2.0     # vision silent this long: shutter state unknown, hold
    motor_timeout_s: Positive = 1.0      # motor.state silent this long: treated as a motor fault


class AwayConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Away mode: pan the range of motion on a schedule and alert when someone is seen."""
    enabled: bool = False                # away mode at start (the API switches it)
    first_pan_s: NonNegative = 5.0       # first pan this long after away mode is switched on
    interval_s: Positive = 600.0         # then one pan every interval
    end_dwell_s: NonNegative = 2.0       # pause at each end of the range to look
    min_confidence: Fraction = 0.6       # weaker detections do not alert
    alert_cooldown_s: NonNegative = 60.0  # the same track alerts again only after this
    min_alert_gap_s: NonNegative = 5.0   # and no two alerts closer than this
    hours: str = ""                      # "HH:MM-HH:MM" local time when pans may run (may span midnight);
                                         # "" = any time. Alerts are raised whenever away mode is on.

    def __post_init__(self):
        if self.hours:
            parse_hours(self.hours)          # raises ValueError with what was expected


def parse_hours(text: str) -> tuple[int, int]:
    """"09:00-17:30" -> (540, 1050), minutes after local midnight; the end may be before the start."""
    try:
        a, b = text.split("-")
        out = []
        for part in (a, b):
            hh, mm = part.strip().split(":")
            if not (0 <= int(hh) <= 23 and 0 <= int(mm) <= 59 and len(mm) == 2):
                raise ValueError
            out.append(int(hh) * 60 + int(mm))
    except ValueError:
        raise ValueError(f"hours must look like \"09:00-17:30\" (local time), not {text!r}") from None
    if out[0] == out[1]:
        raise ValueError("hours must not start and end at the same minute (use \"\" for any time)")
    return out[0], out[1]


class PolicyConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    log_level: Literal["debug", "info", "warning", "error"] = "info"   # debug: every decision and goal
    follow: bool = True                  # follow people at start (the API switches it)
    state_file: str = ""                 # ROM state; "" = $STATE_DIRECTORY, $XDG_STATE_HOME/swivel or /var/lib/swivel
    access_file: str = ""                # motion API access policy (TOML); "" = built-in default
    api_socket_mode: Annotated[int, Meta(ge=0, le=0o777)] = 0o660   # motion.sock: who may connect at all
                                         # (the group of the runtime directory); the access file decides the rest
    mute_pin: Optional[int] = 27         # mute button (pull-up, closes to ground); None = no button
    mute_active_low: bool = True
    mute_mode: Literal["switch", "toggle"] = "switch"   # switch: held/latched = muted; toggle: each press flips
    tick_s: Annotated[float, Meta(gt=0, le=0.5)] = 0.05
    motion: MotionConfig = msgspec.field(default_factory=MotionConfig)
    rom: RomConfig = msgspec.field(default_factory=RomConfig)
    zones: ZonesConfig = msgspec.field(default_factory=ZonesConfig)
    fusion: FusionConfig = msgspec.field(default_factory=FusionConfig)
    rules: RulesConfig = msgspec.field(default_factory=RulesConfig)
    away: AwayConfig = msgspec.field(default_factory=AwayConfig)
