"""Access policy of the motion API: which local user, uid, group or gid may use which operations (a TOML file).

A trusted door (the web service) may also name the principal it acts for (a paired phone, the kiosk on
the device's own screen): that principal kind's ops then narrow what the door's own uid may do.
"""
from __future__ import annotations

import grp
import os
import pwd
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import msgspec
from msgspec import Meta

from ..config import describe_validation_error
from ..errors import UserError

OPS = ("turn", "follow", "pan", "stop", "set_rom", "get_state", "away", "speed", "away_hours", "tokens",
       "health_sweep", "health_ack")
DEFAULT_OTHERS = ("get_state",)
# Principal kinds a door may name, and what each may do by default (the file's key of the same name).
# `satellite`: Home Assistant through the voice satellite (anyone on the LAN may speak the plain ESPHome API, so it
# may only read until the owner's file says more).
PRINCIPALS = {"web_paired": OPS, "web_kiosk": ("get_state",), "satellite": ("get_state",)}

EXAMPLE = """\
# Who may use the motion API (swivel motion ...).
# Ops: turn follow pan stop set_rom get_state away speed away_hours tokens health_sweep health_ack, or "*".
same_uid = ["*"]              # processes running as the service's own user (default: everything)
others = ["get_state"]        # anyone no rule matches (default: only get_state)
web_paired = ["*"]            # a phone paired with the web app: at most this (and what the web service's uid may)
web_kiosk = ["get_state"]     # the kiosk page on the device's own screen
satellite = ["get_state"]     # Home Assistant through the voice satellite; e.g. ["get_state", "follow", "turn",
                              # "stop", "set_rom", "away"] lets its switches, numbers and buttons act

[[rule]]                      # each rule names exactly one of: user, uid, group, gid
group = "swivel-apps"
ops = ["turn", "follow", "pan", "stop", "get_state"]
"""


class AccessError(UserError):
    """The access policy file is unreadable or invalid; the message names the file, line and key."""


class _Rule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    ops: list[str]
    user: Optional[str] = None
    uid: Optional[Annotated[int, Meta(ge=0)]] = None
    group: Optional[str] = None
    gid: Optional[Annotated[int, Meta(ge=0)]] = None


class _File(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    same_uid: list[str] = msgspec.field(default_factory=lambda: ["*"])
    others: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_OTHERS))
    web_paired: list[str] = msgspec.field(default_factory=lambda: list(PRINCIPALS["web_paired"]))
    web_kiosk: list[str] = msgspec.field(default_factory=lambda: list(PRINCIPALS["web_kiosk"]))
    satellite: list[str] = msgspec.field(default_factory=lambda: list(PRINCIPALS["satellite"]))
    rule: list[_Rule] = []


@dataclass(frozen=True)
class Rule:
    kind: str                      # uid | gid | token (an app's token, made through the API: tokens.py)
    ident: int | str               # the uid or gid, or the token's name
    label: str                     # how the file named it, for logs
    ops: frozenset[str]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    who: str                       # "uid 1000 (alice) pid 4242"
    ops: frozenset[str]            # everything this caller may do


class AccessPolicy:
    def __init__(self, service_uid: int, same_uid_ops=OPS, others_ops=DEFAULT_OTHERS,
                 rules: tuple[Rule, ...] = (), origin: str = "built-in default",
                 principal_ops: Optional[dict[str, tuple[str, ...]]] = None):
        self.service_uid = service_uid
        self.same_uid_ops = frozenset(same_uid_ops)
        self.others_ops = frozenset(others_ops)
        self.rules = rules
        self.origin = origin
        # principal kind -> the most a request naming it may do (intersected with the caller's own ops)
        self.principal_ops = {k: frozenset(v) for k, v in {**PRINCIPALS, **(principal_ops or {})}.items()}

    @classmethod
    def default(cls, service_uid: int) -> "AccessPolicy":
        return cls(service_uid)

    @classmethod
    def load(cls, path: Path, service_uid: int) -> "AccessPolicy":
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise AccessError(f"access policy {path} does not exist") from None
        except OSError as exc:
            raise AccessError(f"access policy {path} cannot be read: {exc.strerror}") from None
        return cls.parse(text, str(path), service_uid)

    @classmethod
    def parse(cls, text: str, origin: str, service_uid: int) -> "AccessPolicy":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AccessError(f"access policy {origin}: not valid TOML: {exc}") from None
        try:
            f = msgspec.convert(data, _File)
        except msgspec.ValidationError as exc:
            message = str(exc)
            m = re.search(r"\$\.rule\[(\d+)\](?:\.(\w+))?", message)
            if m:
                key = m.group(2) or _unknown_field(message) or "rule"
                problem = "unknown key" if _unknown_field(message) else message.split(" - at ")[0]
                raise AccessError(_where(origin, text, int(m.group(1)), key) + f": rule[{m.group(1)}].{key}: {problem}") from None
            raise AccessError("access policy " + describe_validation_error(message, text, origin)) from None
        same = _ops(f.same_uid, origin, text, None, "same_uid")
        others = _ops(f.others, origin, text, None, "others")
        principals = {"web_paired": _ops(f.web_paired, origin, text, None, "web_paired"),
                      "web_kiosk": _ops(f.web_kiosk, origin, text, None, "web_kiosk"),
                      "satellite": _ops(f.satellite, origin, text, None, "satellite")}
        rules = []
        for i, r in enumerate(f.rule):
            named = [k for k in ("user", "uid", "group", "gid") if getattr(r, k) is not None]
            if len(named) != 1:
                raise AccessError(_where(origin, text, i, "rule") +
                                  f": rule[{i}]: name exactly one of user, uid, group, gid (found {', '.join(named) or 'none'})")
            key = named[0]
            value = getattr(r, key)
            ops = frozenset(_ops(r.ops, origin, text, i, "ops"))
            if key == "user":
                try:
                    rules.append(Rule("uid", pwd.getpwnam(value).pw_uid, f"user {value}", ops))
                except KeyError:
                    raise AccessError(_where(origin, text, i, key) + f": rule[{i}].user: no such user {value!r}") from None
            elif key == "group":
                try:
                    rules.append(Rule("gid", grp.getgrnam(value).gr_gid, f"group {value}", ops))
                except KeyError:
                    raise AccessError(_where(origin, text, i, key) + f": rule[{i}].group: no such group {value!r}") from None
            else:
                rules.append(Rule(key, value, f"{key} {value}", ops))
        return cls(service_uid, same, others, tuple(rules), origin, principals)

    def decide(self, creds, op: str, principal: Optional[str] = None, token: Optional[str] = None) -> Decision:
        """May this peer (kernel credentials; None = unknown) do `op`, acting for `principal` if it names one?
        `token` is the name of a token the caller proved it holds: it matches the token rule of that name."""
        d = self._decide_peer(creds, op, token)
        if principal is None:
            return d
        kind = principal.split(":", 1)[0]
        limit = self.principal_ops.get(kind)
        if limit is None:
            return Decision(False, f"unknown principal {kind!r} via {d.who}", frozenset())
        ops = d.ops & limit
        return Decision(op in ops, f"{principal} via {d.who}", ops)

    def _decide_peer(self, creds, op: str, token: Optional[str] = None) -> Decision:
        ops: set[str] = set()
        matched = False
        for r in self.rules:
            if r.kind == "token" and token is not None and r.ident == token:
                ops |= r.ops
                matched = True
        if creds is None:
            if matched:
                return Decision(op in ops, f"token {token} (unknown peer)", frozenset(ops))
            return Decision(op in self.others_ops, "unknown peer", self.others_ops)
        if creds.uid == self.service_uid:
            ops |= self.same_uid_ops
            matched = True
        groups = None
        for r in self.rules:
            if r.kind == "uid" and r.ident == creds.uid:
                ops |= r.ops
                matched = True
            elif r.kind == "gid":
                if groups is None:
                    groups = _peer_groups(creds)
                if r.ident in groups:
                    ops |= r.ops
                    matched = True
        if not matched:
            ops = set(self.others_ops)
        who = _describe(creds) + (f" with token {token}" if token is not None else "")
        return Decision(op in ops, who, frozenset(ops))


def _ops(values: list[str], origin: str, text: str, rule: Optional[int], key: str) -> tuple[str, ...]:
    out = []
    for v in values:
        if v == "*":
            out += OPS
        elif v in OPS:
            out.append(v)
        else:
            where = _where(origin, text, rule, key)
            label = f"rule[{rule}].{key}" if rule is not None else key
            raise AccessError(f"{where}: {label}: unknown op {v!r}; known: {', '.join(OPS)} or \"*\"")
    return tuple(out)


def _unknown_field(message: str) -> Optional[str]:
    m = re.search(r"unknown field `([^`]+)`", message)
    return m.group(1) if m else None


def _where(origin: str, text: str, rule: Optional[int], key: str) -> str:
    """"access policy FILE line N" for a top-level key or a key inside the rule-th [[rule]] table."""
    lines = text.splitlines()
    seen = -1
    in_target = rule is None
    for n, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if line.startswith("["):
            if rule is None:
                break                                   # top-level keys come before any table
            seen += line.replace(" ", "") == "[[rule]]"
            in_target = line.replace(" ", "") == "[[rule]]" and seen == rule
            if in_target and key == "rule":
                return f"access policy {origin} line {n}"
            continue
        if in_target and re.match(rf"{re.escape(key)}\s*=", line):
            return f"access policy {origin} line {n}"
    return f"access policy {origin}"


def _peer_groups(creds) -> set[int]:
    """Primary and supplementary groups of the calling process (from /proc, else from its user)."""
    groups = {creds.gid}
    try:
        with open(f"/proc/{creds.pid}/status") as f:
            for line in f:
                if line.startswith("Groups:"):
                    groups |= {int(g) for g in line.split()[1:]}
                    return groups
    except OSError:
        pass
    try:
        groups |= set(os.getgrouplist(pwd.getpwuid(creds.uid).pw_name, creds.gid))
    except (KeyError, OSError):
        pass
    return groups


def _describe(creds) -> str:
    try:
        name = pwd.getpwuid(creds.uid).pw_name
    except KeyError:
        name = "?"
    return f"uid {creds.uid} ({name}) pid {creds.pid}"


class AccessControl:
    """The policy in force, reloaded when its file changes; a bad new file keeps the old policy (and says so)."""

    def __init__(self, path: Optional[Path], service_uid: int):
        self.path = path
        self.service_uid = service_uid
        self._mtime: Optional[float] = None
        if path is None:
            self.policy = AccessPolicy.default(service_uid)
        else:
            self.policy = AccessPolicy.load(path, service_uid)     # a bad file at start is a UserError
            self._mtime = self._stat()

    def _stat(self) -> Optional[float]:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def reload_if_changed(self) -> Optional[str]:
        """Reload a changed file; returns an error line when the new file is bad (the old policy stays)."""
        if self.path is None:
            return None
        mtime = self._stat()
        if mtime == self._mtime:
            return None
        self._mtime = mtime
        try:
            self.policy = AccessPolicy.load(self.path, self.service_uid)
        except AccessError as exc:
            return f"{exc} (keeping the previous access policy)"
        return None

    def set_tokens(self, rules: tuple[Rule, ...]) -> None:
        """The apps' tokens (rules of kind token) join the file's rules: the same policy decides."""
        self.token_rules = rules

    def decide(self, creds, op: str, principal: Optional[str] = None, token: Optional[str] = None) -> Decision:
        rules = getattr(self, "token_rules", ())
        policy = self.policy
        if rules:
            policy = AccessPolicy(policy.service_uid, policy.same_uid_ops, policy.others_ops, policy.rules + rules,
                                  policy.origin, {k: tuple(v) for k, v in policy.principal_ops.items()})
        return policy.decide(creds, op, principal, token)
