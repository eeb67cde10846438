"""Configuration of the motor service (the [motor] table of swivel.toml), with calm built-in defaults."""
import msgspec


class MotorConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    log_level: str = "info"
