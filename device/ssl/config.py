"""Configuration of the ssl service (the [ssl] table of swivel.toml), with calm built-in defaults."""
from typing import Literal, Union

import msgspec


class SslConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    log_level: str = "info"
    array: str = "respeaker4"                  # preset name or path to a geometry TOML
    backend: Literal["sim", "pyaudio"] = "sim"
    device: Union[str, int] = ""               # pyaudio input: name substring or index; "" = default input
    block: int = 1024                          # samples per read (64 ms at 16 kHz)
    ring_s: float = 12.0                       # audio kept for wake events that arrive after the utterance
    preroll_s: float = 0.3                     # audio before a wake event's start that is analysed too
    vad: bool = True                           # also localize speech without a wake event
    vad_threshold_db: float = 9.0              # speech = this far above the tracked noise floor
    vad_min_speech_s: float = 0.3
    vad_hangover_s: float = 0.3
    vad_max_segment_s: float = 4.0
    rom_min_deg: float = -180.0                # world frame; policy.state overrides when it is heard
    rom_max_deg: float = 180.0
    light_bar_pins: list[int] = msgspec.field(default_factory=lambda: [5, 6, 12, 13, 16, 19, 20, 26])
    light_bar_hold_s: float = 2.0              # how long the selected sector stays lit
    # the ssl.beam the wake engine hears (device/ssl/beam.py): the plain sum of the mics measured best
    # (BENCHMARKS.md "Wake word"); "steered" points a delay-and-sum at the last estimate
    beam: Literal["steered", "mean", "mic0"] = "mean"
