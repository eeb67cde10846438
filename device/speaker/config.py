"""Configuration of the speaker service (the [speaker] table of swivel.toml), with calm built-in defaults."""
from typing import Literal, Union

import msgspec


class SpeakerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    drivers: str = "cyl2"                      # driver layout preset (cyl2, cyl4) or path to a layout TOML
    mode: Literal["spatial", "ctc", "bypass"] = "spatial"
    backend: Literal["sim", "pyaudio"] = "sim"   # output: simulated speaker, or ALSA through pyaudio
    device: Union[str, int] = ""               # pyaudio output: name substring or index; "" = default output
    rate: int = 48000
    block: int = 512                           # frames per processing block (10.7 ms at 48 kHz)
    taps: int = 512                            # FIR length of the designed filters (<= block + 1)
    gain_db: float = -6.0                      # headroom for the cancellation's low-frequency boost
    ahead_s: float = 0.1                       # how much audio is kept queued ahead of the output
    # Where the stereo comes from: a FIFO (raw s16le stereo at `rate`, e.g. from TTS or a music player),
    # an ALSA capture device (an snd-aloop loopback), a WAV file (demos, tests), or nothing.
    source: Literal["fifo", "alsa", "file", "none"] = "fifo"
    source_path: str = ""                      # fifo: "" = <runtime dir>/speaker.fifo; file: the WAV
    source_device: Union[str, int] = "Loopback"   # alsa: capture device name substring or index
    source_loop: bool = False                  # file: start again at the end
    # Whom the filters are steered at: the most engaged person vision sees, else the default spot.
    follow: bool = True
    min_engagement: float = 0.5
    listener_timeout_s: float = 5.0            # nobody engaged this long: back to the default spot
    default_bearing_deg: float = 0.0           # device frame
    default_distance_m: float = 1.5
    min_distance_m: float = 0.5                # vision distances are clamped to this range for the design
    max_distance_m: float = 5.0
    redesign_deg: float = 1.0                  # redesign when the listener moved this far...
    redesign_m: float = 0.05                   # ...or this much nearer or further
    redesign_max_hz: float = 10.0
    sim_ears_wav: str = ""                     # sim backend: also write what the listener's ears hear here
