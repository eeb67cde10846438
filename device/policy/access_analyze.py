"""`swivel access analyze`: the motion API's access policy in z3: who may do each operation, and which grants exceed the intent.

In the manner of Zelkova / IAM Access Analyzer: the policy becomes a formula over an arbitrary peer
(its uid, the groups it is in, whether the kernel told us who it is at all), and z3 answers questions
about every peer at once instead of the few a test would try.

The translation follows the policy language's structure, not a list of today's files:
- `same_uid` grants to the service's own uid; `others` to a known peer that no grant matched and to a
  peer without credentials; each rule grants to every peer it matches. A peer gets the union of what
  matched; only a peer that nothing matched falls back to `others` (so a rule with no ops takes the
  fallback away). This is AccessPolicy.decide, written once more as logic.
- Rule kinds are read off the rules, each translated by what RULE_KINDS says of it: where its value comes
  from (the kernel's credentials: uid, gid; or the request itself: an app's token, which counts with or
  without credentials) and whether a request has one value (uid, token) or a set (gid). A kind missing
  from RULE_KINDS is refused rather than guessed.
- A request may name a principal the door acts for (`principal_ops`: a paired web session, the kiosk on
  the device's own screen, whatever a new door adds): its ops intersect the peer's, so naming one only
  narrows; an unknown kind is denied. Each kind in the policy is translated, whatever its name.
- Any attribute of AccessPolicy this module does not know is refused (AnalysisError): a new door that
  grants by some other means must be translated here before the analyzer can speak for it.

For each op the analyzer lists the principals (classes of peers) it can prove are allowed, and then asks
z3 whether any allowed peer lies outside them: that check must come back unsat, so the list is complete,
not only sound. tests/proofs/test_access_analyze.py compares all this with brute-force enumeration.
"""
from __future__ import annotations

import json
import os
import pwd
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import z3

from ..errors import UserError
from .access import OPS, AccessPolicy

# The documented intent, as data: which classes of principal each op is meant for.
#   owner   = the service's own user (the device's owner, running `swivel motion` as that user)
#   granted = a principal an explicit rule names (an app's uid, a group such as swivel-apps, a paired session)
#   local   = any other local user (no rule names them)
#   present = someone at the device's own screen (the kiosk page)
#   unknown = a peer whose credentials the kernel did not give us
# A request that names a principal counts as the less trusted of that principal and the peer sending it
# (any local user may name a principal; it only narrows what that user may do anyway).
INTENT: dict[str, tuple[frozenset[str], str]] = {
    "get_state": (frozenset({"owner", "granted", "present", "local", "unknown"}), "anyone on the device may read what it is doing"),
    "turn": (frozenset({"owner", "granted"}), "only the owner and principals a rule names may move the device"),
    "follow": (frozenset({"owner", "granted"}), "only the owner and principals a rule names may switch following"),
    "pan": (frozenset({"owner", "granted"}), "only the owner and principals a rule names may move the device"),
    "stop": (frozenset({"owner", "granted"}), "only the owner and principals a rule names may stop a move"),
    "set_rom": (frozenset({"owner"}), "only the owner may change the range of motion"),
    "away": (frozenset({"owner"}), "only the owner may switch away mode (it pans the camera around the room)"),
    "away_hours": (frozenset({"owner"}), "only the owner may set when away mode pans"),
    "speed": (frozenset({"owner", "granted"}), "only the owner and principals a rule names may change the speed"),
    "tokens": (frozenset({"owner"}), "only the owner may make or revoke app tokens (added with the op, by web)"),
    # Added by health (issue 17): the reference sweep moves the device over its whole range; acknowledging
    # "needs attention" ends gentle motion, so it is the owner's (or a principal a rule names) to do.
    "health_sweep": (frozenset({"owner", "granted"}), "only the owner and principals a rule names may run the health sweep (it moves the device)"),
    "health_ack": (frozenset({"owner", "granted"}), "only the owner and principals a rule names may acknowledge a turntable problem"),
}
# What the humans behind each principal kind a door names are (a kind not listed counts as unknown).
PRINCIPAL_CATEGORY = {"web_paired": "owner",        # paired with the code shown on the device's own screen
                      "web_kiosk": "present",
                      "satellite": "unknown"}       # the plain ESPHome API: anyone on the LAN may speak it
TRUST = {"owner": 4, "granted": 3, "present": 2, "local": 1, "unknown": 0}

# Rule kind -> (where its value comes from, how many a request has): AccessPolicy._decide_peer's reading.
RULE_KINDS = {"uid": ("credentials", "one"), "gid": ("credentials", "set"), "token": ("request", "one")}
KNOWN_ATTRIBUTES = frozenset({"service_uid", "same_uid_ops", "others_ops", "rules", "origin", "principal_ops"})


class AnalysisError(UserError):
    """The policy uses something the analyzer cannot translate (so it cannot vouch for it)."""


@dataclass(frozen=True)
class Principal:
    """A class of peers. kind: owner | <rule kind> (uid, gid, ...) | local | unknown.

    `ident` is the uid/gid/token a rule names (None for the others). A `local` principal is every known peer
    matching none of `excluding` (pairs of kind and ident; ("uid", service uid) stands for the owner); an
    `unknown` one every peer without credentials presenting none of its `excluding` tokens.
    `via`: the request names this principal kind (None: it names none).
    """
    kind: str
    ident: object = None
    label: str = ""
    excluding: tuple = ()
    via: Optional[str] = None

    @property
    def category(self) -> str:
        peer = self.kind if self.kind in ("owner", "local", "unknown") else "granted"
        if self.via is None:
            return peer
        named = PRINCIPAL_CATEGORY.get(self.via, "unknown")
        return min(peer, named, key=TRUST.__getitem__)

    def as_dict(self) -> dict:
        d = {"kind": self.kind, "label": self.label, "category": self.category}
        if self.ident is not None:
            d["ident"] = self.ident
        if self.excluding:
            d["excluding"] = [list(x) for x in self.excluding]
        if self.via is not None:
            d["via"] = self.via
        return d


@dataclass
class OpFinding:
    op: str
    principals: list[Principal]
    anyone: bool                                   # every peer whatsoever, even without credentials
    complete: bool                                 # z3: no allowed peer outside `principals`
    broader: list[Principal] = field(default_factory=list)    # principals the intent does not include
    intent: str = ""
    example: str = ""                              # when not complete: a peer z3 found outside the list

    def as_dict(self) -> dict:
        return {"op": self.op, "anyone": self.anyone, "complete": self.complete, "intent": self.intent,
                "principals": [p.as_dict() for p in self.principals],
                "broader_than_intent": [p.as_dict() for p in self.broader],
                **({"example": self.example} if self.example else {})}


class Translation:
    """The policy as z3 terms over one symbolic peer."""

    def __init__(self, policy: AccessPolicy):
        unknown_attrs = sorted(set(vars(policy)) - KNOWN_ATTRIBUTES)
        if unknown_attrs:
            raise AnalysisError(f"access policy {policy.origin}: the analyzer does not model {', '.join(unknown_attrs)} "
                                "(extend device/policy/access_analyze.py before trusting its findings)")
        self.policy = policy
        self.known = z3.Bool("peer_has_credentials")
        self.uid = z3.Int("peer_uid")
        self._member: dict[tuple[str, object], z3.BoolRef] = {}
        # Which principal the request names: 0 none, i = the i-th kind, len + 1 = a kind the policy lacks.
        self.kinds = sorted(getattr(policy, "principal_ops", {}))
        self.named = z3.Int("request_principal")
        for k in self.kinds:
            if not policy.principal_ops[k] <= set(OPS):
                raise AnalysisError(f"access policy {policy.origin}: principal {k!r} has ops outside {', '.join(OPS)}")
        for r in policy.rules:
            if not isinstance(r.ops, frozenset) or not r.ops <= set(OPS):
                raise AnalysisError(f"access policy {policy.origin}: rule {r.label!r} has ops outside {', '.join(OPS)}")
            if r.kind not in RULE_KINDS:
                raise AnalysisError(f"access policy {policy.origin}: rule kind {r.kind!r} is not translated "
                                    "(add it to RULE_KINDS in device/policy/access_analyze.py)")
            if RULE_KINDS[r.kind][1] == "set":
                self._member.setdefault((r.kind, r.ident), z3.Bool(f"peer_in_{r.kind}_{r.ident}"))
        # Single-valued kinds other than uid: one optional value per request (a token's name).
        self._one = {k: (z3.Bool(f"request_has_{k}"), z3.String(f"request_{k}"))
                     for k, (_, n) in RULE_KINDS.items() if n == "one" and k != "uid"}

    def matches(self, kind: str, ident) -> z3.BoolRef:
        """The request is what a rule of this kind and ident names (credential kinds: if it has credentials)."""
        if kind == "uid":
            return self.uid == int(ident)
        if RULE_KINDS[kind][1] == "one":
            has, value = self._one[kind]
            return z3.And(has, value == z3.StringVal(str(ident)))
        return self._member[(kind, ident)]

    def from_request(self, kind: str) -> bool:
        return RULE_KINDS[kind][0] == "request"

    def request_matched(self) -> z3.BoolRef:
        """A rule that needs no credentials matches (a token)."""
        return z3.Or(False, *[self.matches(r.kind, r.ident) for r in self.policy.rules if self.from_request(r.kind)])

    def owner(self) -> z3.BoolRef:
        return self.uid == self.policy.service_uid

    def matched(self) -> z3.BoolRef:
        return z3.Or(self.owner(), *[self.matches(r.kind, r.ident) for r in self.policy.rules])

    def names(self, kind: Optional[str]) -> z3.BoolRef:
        return self.named == (0 if kind is None else self.kinds.index(kind) + 1)

    def request_ok(self) -> z3.BoolRef:
        return z3.And(self.named >= 0, self.named <= len(self.kinds) + 1)

    def allowed(self, op: str) -> z3.BoolRef:
        """decide(): what the peer may do, narrowed by the principal the request names."""
        ops = self.policy.principal_ops if self.kinds else {}
        narrowed = z3.Or(self.names(None), *[self.names(k) for k in self.kinds if op in ops[k]])
        return z3.And(self.request_ok(), self._peer_allowed(op), narrowed)

    def _peer_allowed(self, op: str) -> z3.BoolRef:
        p = self.policy
        grants = [self.matches(r.kind, r.ident) for r in p.rules if op in r.ops]
        if op in p.same_uid_ops:
            grants.append(self.owner())
        if op in p.others_ops:
            grants.append(z3.Not(self.matched()))
        # Without credentials only what the request itself presents can match; else `others`.
        request_grants = [self.matches(r.kind, r.ident) for r in p.rules if op in r.ops and self.from_request(r.kind)]
        unknown = z3.If(self.request_matched(), z3.Or(False, *request_grants), z3.BoolVal(op in p.others_ops))
        return z3.If(self.known, z3.Or(False, *grants), unknown)

    def members(self, pr: Principal) -> z3.BoolRef:
        named = self.names(pr.via)
        if pr.kind == "unknown":
            return z3.And(named, z3.Not(self.known), z3.Not(self.request_matched()))
        if pr.kind == "owner":
            return z3.And(named, self.known, self.owner())
        if pr.kind == "local":
            return z3.And(named, self.known, z3.Not(self.matched()))
        if self.from_request(pr.kind):
            return z3.And(named, self.matches(pr.kind, pr.ident))
        return z3.And(named, self.known, self.matches(pr.kind, pr.ident))


def _valid(formula: z3.BoolRef) -> bool:
    s = z3.Solver()
    s.add(z3.Not(formula))
    return s.check() == z3.unsat


def candidates(policy: AccessPolicy) -> list[Principal]:
    """Every class of peer the policy's structure distinguishes."""
    out = [Principal("owner", None, f"uid {policy.service_uid} ({_user_name(policy.service_uid)}, the service's own user)")]
    seen = set()
    for r in policy.rules:
        if (r.kind, r.ident) in seen:
            continue
        seen.add((r.kind, r.ident))
        out.append(Principal(r.kind, r.ident, r.label))
    excluding = (("uid", policy.service_uid),) + tuple(sorted(seen, key=repr))
    out.append(Principal("local", None, "any other local user (no rule names them)", excluding))
    tokens = tuple(x for x in sorted(seen, key=repr) if RULE_KINDS.get(x[0], ("",))[0] == "request")
    out.append(Principal("unknown", None, "a peer without credentials" + (" (and no token a rule names)" if tokens else ""),
                         tokens))
    via = [Principal(p.kind, p.ident, f"{k} through {p.label}", p.excluding, k)
           for k in sorted(getattr(policy, "principal_ops", {})) for p in out]
    return out + via


def analyze(policy: AccessPolicy, intent: Optional[dict] = None) -> list[OpFinding]:
    intent = INTENT if intent is None else intent
    t = Translation(policy)
    cands = candidates(policy)
    findings = []
    for op in OPS:
        allowed = t.allowed(op)
        reported = [c for c in cands if _valid(z3.Implies(t.members(c), allowed))]
        covered = z3.Or(*[t.members(c) for c in reported]) if reported else z3.BoolVal(False)
        s = z3.Solver()
        s.add(t.request_ok(), allowed, z3.Not(covered))
        complete = s.check() == z3.unsat
        example = "" if complete else str(s.model())
        meant, why = intent.get(op, (frozenset(), f"no documented intent for '{op}' (add it to INTENT)"))
        broader = [c for c in reported if c.category not in meant]
        findings.append(OpFinding(op, reported, _valid(allowed), complete, broader, why, example))
    return findings


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "?"


def _service_uid(text: Optional[str]) -> int:
    """--service-user NAME|UID; default: the user the systemd units run as (swivel), else ourselves."""
    if text is None:
        try:
            return pwd.getpwnam("swivel").pw_uid
        except KeyError:
            return os.getuid()
    if text.isdigit():
        return int(text)
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        raise UserError(f"--service-user: no such user {text!r}") from None


def load_policy(config_file: Optional[str], policy_file: Optional[str], service_uid: int) -> AccessPolicy:
    if policy_file:
        return AccessPolicy.load(Path(policy_file).expanduser(), service_uid)
    from ..config import load_config
    cfg = load_config(config_file)
    path = cfg.policy.access_file
    if not path:
        return AccessPolicy.default(service_uid)
    return AccessPolicy.load(Path(path).expanduser(), service_uid)


def report_text(policy: AccessPolicy, findings: list[OpFinding]) -> str:
    lines = [f"access policy: {policy.origin} (service uid {policy.service_uid})"]
    for f in findings:
        direct = [p for p in f.principals if p.via is None]
        who = "anyone, even without credentials" if f.anyone else ("; ".join(p.label for p in direct) or "nobody")
        lines.append(f"  {f.op:<10} {who}")
        for kind in sorted({p.via for p in f.principals if p.via is not None}):
            through = "; ".join(p.label.split(" through ", 1)[1] for p in f.principals if p.via == kind)
            lines.append(f"  {'':<10} a request naming {kind}, from: {through}")
        for p in f.broader:
            lines.append(f"    BROADER THAN INTENT: {p.label} ({f.intent})")
        if not f.complete:
            lines.append(f"    INCOMPLETE: z3 found an allowed peer outside the list: {f.example}")
    n = sum(len(f.broader) for f in findings)
    lines.append(f"{n} grant(s) broader than the documented intent" if n else "no grant is broader than the documented intent")
    return "\n".join(lines)


def add_parser(sub) -> None:
    import argparse
    p = sub.add_parser("access", help="the motion API's access policy: who may do what (z3 analysis)",
                       description=__doc__.split("\n\n")[0])
    a = p.add_subparsers(dest="access_op", required=True, metavar="OP")
    z = a.add_parser("analyze", help="every principal that can perform each op, and grants broader than the intent")
    z.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE", help="swivel.toml (its policy.access_file)")
    z.add_argument("--policy", metavar="FILE", help="analyze this access policy file instead")
    z.add_argument("--service-user", metavar="USER", help="the policy service's user or uid (default: swivel, else you)")
    z.add_argument("--json", action="store_true", help="machine-readable findings")
    z.set_defaults(func=_cmd_analyze)


def _cmd_analyze(args) -> int:
    policy = load_policy(getattr(args, "config", None), args.policy, _service_uid(args.service_user))
    findings = analyze(policy)
    if args.json:
        print(json.dumps({"policy": policy.origin, "service_uid": policy.service_uid,
                          "ops": [f.as_dict() for f in findings]}, indent=2))
    else:
        print(report_text(policy, findings))
    if any(not f.complete for f in findings):
        print("swivel: access analysis incomplete (see above)", file=sys.stderr)
        return 2
    return 1 if any(f.broader for f in findings) else 0
