"""Configuration of the voice satellite (the [satellite] table of swivel.toml)."""
from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Port = Annotated[int, Meta(ge=1, le=65535)]
Positive = Annotated[float, Meta(gt=0)]


class SatelliteConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str = "0.0.0.0"                # Home Assistant reaches it on the LAN; "127.0.0.1" keeps it on the device
    port: Port = 6053                    # the ESPHome native API's port
    name: str = "swivel"                 # the node name Home Assistant shows (and zeroconf advertises)
    friendly_name: str = "Swivel"
    key: str = ""                        # noise encryption key (base64 of 32 bytes, as ESPHome's api: encryption: key); "" = plain
    zeroconf: bool = True                # advertise _esphomelib._tcp on the LAN
    max_clients: Annotated[int, Meta(ge=1, le=64)] = 16     # connections at once; more are closed at once
    max_message: Annotated[int, Meta(ge=1024, le=1 << 20)] = 65536   # bytes; a larger frame closes that connection
    handshake_timeout_s: Positive = 10.0  # hello must arrive this soon after connecting
    stream_max_s: Positive = 10.0        # a voice stream ends after this long whatever else happens
    gate_tail_s: Annotated[float, Meta(ge=0, le=5)] = 0.6   # the wake word stays deaf this long after the device spoke
    speaker: Literal["sim", "alsa"] = "sim"   # where answers are played: the simulated room or ALSA (PyAudio)
    speaker_device: str = "default"      # ALSA device (name substring or index) for speaker = "alsa"
    speaker_rate: Annotated[int, Meta(ge=8000, le=192000)] = 48000   # the ALSA output's rate (answers are resampled)
    volume: Annotated[float, Meta(ge=0, le=1)] = 0.6
    rpc_timeout_s: Positive = 2.0        # motion API call timeout

    def __post_init__(self):
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", self.name):
            raise ValueError(f"name: {self.name!r} is not a node name (lower-case letters, digits and '-', at most 31)")
        if self.key:
            try:
                raw = base64.b64decode(self.key, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise ValueError("key: expected the base64 of 32 bytes (as ESPHome's api encryption key), or \"\"")
