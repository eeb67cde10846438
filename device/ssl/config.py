"""Configuration of the ssl service (the [ssl] table of swivel.toml), with calm built-in defaults."""
import msgspec


class SslConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    log_level: str = "info"
