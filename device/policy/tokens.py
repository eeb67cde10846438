"""Tokens for apps that use the motion API: named, each with its ops, stored only as SHA-256 hashes (tokens.json)."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from pathlib import Path
from typing import Optional

from ..runtime.atomic import write_atomic
from .access import Rule

FILE_NAME = "tokens.json"
MAX_TOKENS = 32
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
NEVER = frozenset({"tokens"})      # a token never mints or revokes tokens


class TokenError(Exception):
    """A token request that cannot be done (the message says why, for the app or the page)."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    def __init__(self, path: Path):
        self.path = path
        self.tokens: dict[str, dict] = {}          # name -> {"hash", "ops", "created"}
        self.problem = ""
        try:
            for t in json.loads(path.read_text()).get("tokens", []):
                self.tokens[t["name"]] = {"hash": t["hash"], "ops": list(t["ops"]), "created": t["created"]}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.problem = f"app tokens in {path} not read ({exc}): none are valid until one is made"[:200]

    def rules(self) -> tuple[Rule, ...]:
        return tuple(Rule("token", name, f"token {name}", frozenset(t["ops"])) for name, t in sorted(self.tokens.items()))

    def listing(self) -> list[dict]:
        return [{"name": n, "ops": sorted(t["ops"]), "created": t["created"]} for n, t in sorted(self.tokens.items())]

    def verify(self, secret: str) -> Optional[str]:
        """The name of the token with this secret, None for a wrong or revoked one."""
        h = _hash(secret)
        for name, t in self.tokens.items():
            if hmac.compare_digest(h, t["hash"]):
                return name
        return None

    def create(self, name: str, ops: list[str], creator_ops: frozenset[str]) -> str:
        """A new token's secret (returned once). Its ops must be ones its creator may do itself."""
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise TokenError("token_name must be 1-32 of a-z, 0-9, '-' or '_', starting with a letter or digit")
        if name in self.tokens:
            raise TokenError(f"a token named {name!r} exists: revoke it first")
        if len(self.tokens) >= MAX_TOKENS:
            raise TokenError(f"at most {MAX_TOKENS} tokens: revoke one first")
        if not ops:
            raise TokenError("token_ops must name at least one op")
        bad = sorted(set(ops) & NEVER) or sorted(set(ops) - creator_ops)
        if bad:
            raise TokenError(f"a token may not carry {', '.join(bad)} (only ops its creator may do, never tokens)")
        secret = "swv_" + secrets.token_urlsafe(24)
        self.tokens[name] = {"hash": _hash(secret), "ops": sorted(set(ops)), "created": round(time.time(), 1)}
        self._save()
        return secret

    def revoke(self, name: str) -> None:
        if name not in self.tokens:
            raise TokenError(f"no token named {name!r}")
        del self.tokens[name]
        self._save()

    def _save(self) -> None:
        data = {"tokens": [{"name": n, **t} for n, t in sorted(self.tokens.items())]}
        write_atomic(self.path, json.dumps(data), prefix=".tokens-")
