"""A minimal TOML writer for the generated per-run config (tables of scalars and lists only)."""
from __future__ import annotations

import json


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)               # JSON string escapes are valid TOML basic strings
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dumps(data: dict, prefix: str = "") -> str:
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, dict) and v is not None]
    tables = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    out = [f"{k} = {_value(v)}" for k, v in scalars]
    for k, v in tables:
        name = f"{prefix}.{k}" if prefix else k
        out.append(f"\n[{name}]")
        out.append(dumps(v, name))
    return "\n".join(x for x in out if x) + "\n"
