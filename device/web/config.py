"""Configuration of the web service (the [web] table of swivel.toml)."""
from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

Port = Annotated[int, Meta(ge=1, le=65535)]
Positive = Annotated[float, Meta(gt=0)]


class WebConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str = "0.0.0.0"                # listens on the LAN; "127.0.0.1" keeps it to the device itself
    port: Port = 8080
    state_dir: str = ""                  # sessions; "" = $STATE_DIRECTORY, $XDG_STATE_HOME/swivel-web or /var/lib/swivel-web
    session_ttl_s: Positive = 30 * 86400.0      # a paired phone stays paired this long without pairing again
    code_ttl_s: Positive = 300.0         # the pairing code on the screen changes this often (and after each pairing)
    pair_attempts_per_min: Annotated[int, Meta(ge=1, le=100)] = 5   # per client address
    pair_attempts_global_per_min: Annotated[int, Meta(ge=1, le=1000)] = 20
    max_sessions: Annotated[int, Meta(ge=1, le=1000)] = 32    # the oldest is dropped beyond this
    max_ws_message: Annotated[int, Meta(ge=256, le=1 << 20)] = 4096   # bytes; larger messages close the socket
    max_pages: Annotated[int, Meta(ge=1, le=1000)] = 64       # open WebSocket connections at most
    timeline_len: Annotated[int, Meta(ge=10, le=1000)] = 60   # policy decisions kept for the page
    rpc_timeout_s: Positive = 2.0        # motion API call timeout
