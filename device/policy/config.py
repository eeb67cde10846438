"""Configuration of the policy service (the [policy] table of swivel.toml), with calm built-in defaults."""
import msgspec


class PolicyConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    log_level: str = "info"
