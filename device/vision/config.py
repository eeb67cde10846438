"""Configuration of the vision service (the [vision] table of swivel.toml), with calm built-in defaults."""
import msgspec


class VisionConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    log_level: str = "info"
