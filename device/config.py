"""swivel.toml: one file, built-in defaults, validated at start with errors that name the key and line."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal, Optional

import msgspec

from .errors import UserError
from .health.config import HealthConfig
from .motor.config import MotorConfig
from .policy.config import PolicyConfig
from .satellite.config import SatelliteConfig
from .speaker.config import SpeakerConfig
from .ssl.config import SslConfig
from .vision.config import VisionConfig
from .wake.config import WakeConfig
from .web.config import WebConfig


class BusConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    runtime_dir: str = ""             # "" = $SWIVEL_RUNTIME_DIR, $XDG_RUNTIME_DIR/swivel or /run/swivel
    heartbeat_s: float = 0.5
    heartbeat_timeout_s: float = 2.0  # a peer silent this long is treated as gone
    stats_period_s: float = 30.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class GpioConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which gpiozero pin factory the services use: "mock" (simulated world) or "real" (the Pi)."""
    backend: Literal["mock", "real"] = "mock"


class SimConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    scenario: str = ""                # "" = the default scenario shipped in scenarios/
    realtime_factor: float = 1.0


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    bus: BusConfig = msgspec.field(default_factory=BusConfig)
    gpio: GpioConfig = msgspec.field(default_factory=GpioConfig)
    sim: SimConfig = msgspec.field(default_factory=SimConfig)
    ssl: SslConfig = msgspec.field(default_factory=SslConfig)
    vision: VisionConfig = msgspec.field(default_factory=VisionConfig)
    policy: PolicyConfig = msgspec.field(default_factory=PolicyConfig)
    motor: MotorConfig = msgspec.field(default_factory=MotorConfig)
    speaker: SpeakerConfig = msgspec.field(default_factory=SpeakerConfig)
    wake: WakeConfig = msgspec.field(default_factory=WakeConfig)
    web: WebConfig = msgspec.field(default_factory=WebConfig)
    satellite: SatelliteConfig = msgspec.field(default_factory=SatelliteConfig)
    health: HealthConfig = msgspec.field(default_factory=HealthConfig)


def default_config() -> Config:
    return Config()


def load_config(path: Optional[str | Path]) -> Config:
    """Read and validate a config file; None means the built-in defaults. Raises UserError."""
    if path is None:
        return default_config()
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise UserError(f"config file {path} cannot be read: {exc.strerror}") from None
    return parse_config(text, str(path))


def parse_config(text: str, origin: str = "<config>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{origin}: not valid TOML: {exc}") from None
    try:
        return msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        raise UserError(describe_validation_error(str(exc), text, origin)) from None


_PATH_RE = re.compile(r"at `\$((?:\.[A-Za-z0-9_\-]+|\[\d+\])*)`")
_UNKNOWN_RE = re.compile(r"Object contains unknown field `([^`]+)`")


def describe_validation_error(message: str, text: str, origin: str) -> str:
    """Turn msgspec's "Expected `int`, got `str` - at `$.ssl.block`" into "file line N: ssl.block: ..."."""
    m = _PATH_RE.search(message)
    parts = [p for p in re.split(r"\.|\[(\d+)\]", m.group(1)) if p] if m else []
    problem = message.split(" - at ")[0]
    unknown = _UNKNOWN_RE.search(message)
    if unknown:
        parts.append(unknown.group(1))
        problem = "unknown key (not a setting of this section; check the spelling)"
    else:
        problem = problem.replace("Expected", "expected")
        # A section's own check (__post_init__) says which of its keys is wrong as "key: why".
        own = re.match(r"([a-z_]+): (.*)", problem)
        if own:
            parts.append(own.group(1))
            problem = own.group(2)
    key = ".".join(parts) or "(top level)"
    line = locate_key(text, parts)
    where = f"{origin} line {line}" if line else origin
    return f"{where}: {key}: {problem}"


def locate_key(text: str, parts: list[str]) -> Optional[int]:
    """Best-effort line number of a dotted key in TOML text (tables and dotted or inline keys)."""
    if not parts:
        return None
    lines = text.splitlines()
    table: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        header = re.fullmatch(r"\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if header:
            table = [p.strip().strip('"') for p in header.group(1).split(".")]
            if table == parts:
                return number
            continue
        km = re.match(r"([A-Za-z0-9_\-\.\"]+)\s*=", line)
        if km:
            key = table + [p.strip().strip('"') for p in km.group(1).split(".")]
            if key == parts[:len(key)] and len(key) >= min(len(parts), len(table) + 1):
                return number
    return None
