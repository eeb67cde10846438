"""The motion API's request handler: checks each request against the access policy, then runs it on the policy."""
from __future__ import annotations

import logging
from collections import Counter
from typing import Callable, Optional

import msgspec

from ..bus.schemas import MotionReply, MotionRequest, PolicyState, TokenInfo
from .access import AccessControl
from .config import HW_MAX_ACCEL_DPS2, HW_MAX_SPEED_DPS, MotionConfig, parse_hours
from .core import CommandError, Policy
from .tokens import TokenError, TokenStore

ROM_STEPS = ("start", "min", "max", "done", "cancel")
SPEED_PRESETS = ("calm", "normal", "fast")


def preset_motion(preset: str, normal: MotionConfig, limits: tuple[float, float]) -> MotionConfig:
    """calm: half the configured speed (at most 45 deg/s); normal: [policy.motion] as configured; fast: the
    hardware's limits (never above what the motor itself is configured to allow, `limits`)."""
    limits = (min(limits[0], HW_MAX_SPEED_DPS), min(limits[1], HW_MAX_ACCEL_DPS2))
    speed, accel = normal.max_speed_dps, normal.max_accel_dps2
    if preset == "calm":
        speed, accel = min(speed / 2, 45.0), min(accel / 2, 90.0)
    elif preset == "fast":
        speed, accel = limits
    speed, accel = min(speed, limits[0]), min(accel, limits[1])
    return msgspec.structs.replace(normal, max_speed_dps=speed, max_accel_dps2=accel,
                                   pan_speed_dps=min(normal.pan_speed_dps, speed))


class MotionApi:
    """`handle(request, peer_credentials) -> reply`, for RpcServer.

    - `clock()` gives monotonic ns; `apply()` runs one policy tick and publishes what it produced,
      returning the fresh state, so a reply tells the app what its request did.
    - Every denial and every invalid request is logged through `event` and counted in `counts`.
    """

    def __init__(self, policy: Policy, access: AccessControl, clock: Callable[[], int],
                 apply: Callable[[], PolicyState], event: Callable[..., None],
                 speed_limits: tuple[float, float] = (HW_MAX_SPEED_DPS, HW_MAX_ACCEL_DPS2),
                 tokens: Optional[TokenStore] = None, settings_changed: Optional[Callable[[], None]] = None):
        self.policy = policy
        self.access = access
        self.clock = clock
        self.apply = apply
        self.event = event
        self.speed_limits = (min(speed_limits[0], HW_MAX_SPEED_DPS), min(speed_limits[1], HW_MAX_ACCEL_DPS2))
        self.normal_motion = policy.cfg.motion         # what "normal" means: the configured motion
        self.tokens = tokens
        self.settings_changed = settings_changed     # the service stores the speed preset and away hours
        if tokens is not None:
            access.set_tokens(tokens.rules())
        self.counts: Counter[str] = Counter()

    def handle(self, req: MotionRequest, creds) -> MotionReply:
        problem = self.access.reload_if_changed()
        if problem:
            self.event("access policy not reloaded", logging.ERROR, error=problem)
        token = None
        if req.token is not None:
            token = self.tokens.verify(req.token) if self.tokens is not None else None
            if token is None:
                self.counts["denied"] += 1
                self.event("motion API request denied", logging.WARNING, op=req.op, peer="unknown token")
                return MotionReply(ok=False, error="denied: unknown or revoked token")
        decision = self.access.decide(creds, req.op, req.principal, token)
        if not decision.allowed:
            self.counts["denied"] += 1
            allowed = ", ".join(sorted(decision.ops)) or "nothing"
            error = f"denied: {decision.who} may not '{req.op}' (allowed: {allowed}; see {self.access.policy.origin})"
            self.event("motion API request denied", logging.WARNING, op=req.op, peer=decision.who,
                       policy=self.access.policy.origin)
            return MotionReply(ok=False, error=error[:200])
        if req.op == "tokens":
            return self._tokens(req, decision)
        try:
            self._run(req)
        except CommandError as exc:
            self.counts["refused"] += 1
            self.event("motion API request refused", logging.INFO, op=req.op, peer=decision.who, error=str(exc))
            return MotionReply(ok=False, error=str(exc)[:200], state=self.apply())
        except _BadRequest as exc:
            self.counts["invalid"] += 1
            self.event("motion API request invalid", logging.WARNING, op=req.op, peer=decision.who, error=str(exc))
            return MotionReply(ok=False, error=f"invalid request: {exc}"[:200])
        except Exception as exc:                        # a bug must not let an app take the policy down
            self.counts["internal_error"] += 1
            self.event("motion API request failed", logging.ERROR, op=req.op, peer=decision.who,
                       error=f"{type(exc).__name__}: {exc}")
            return MotionReply(ok=False, error=f"internal error: {type(exc).__name__}: {exc}"[:200])
        self.counts[req.op] += 1
        if req.op in ("speed", "away_hours") and self.settings_changed is not None:
            self.settings_changed()
        if req.op != "get_state":
            self.event("motion API request", logging.INFO, op=req.op, peer=decision.who,
                       angle=req.angle_deg, enabled=req.enabled, min=req.min_deg, max=req.max_deg, step=req.rom_step,
                       preset=req.speed_preset, hours=req.away_hours)
        return MotionReply(ok=True, state=self.apply(), ops=sorted(decision.ops))

    def apply_speed(self, preset: str) -> None:
        self.policy.cmd_speed(preset, preset_motion(preset, self.normal_motion, self.speed_limits))

    def _tokens(self, req: MotionRequest, decision) -> MotionReply:
        """List, create or revoke app tokens; a new token may carry only ops its creator may do."""
        if self.tokens is None:
            return MotionReply(ok=False, error="app tokens are not available here")
        action, secret = req.token_action or "list", ""
        try:
            if action == "create":
                secret = self.tokens.create(req.token_name or "", list(req.token_ops or []), decision.ops)
            elif action == "revoke":
                self.tokens.revoke(req.token_name or "")
            elif action != "list":
                raise TokenError(f"token_action must be list, create or revoke, not {action!r}")
        except (TokenError, OSError) as exc:
            self.counts["refused"] += 1
            self.event("motion API token request refused", logging.INFO, peer=decision.who, error=str(exc))
            return MotionReply(ok=False, error=str(exc)[:200])
        if action != "list":
            self.access.set_tokens(self.tokens.rules())
            self.event("app token " + ("created" if action == "create" else "revoked"), logging.WARNING,
                       peer=decision.who, token=req.token_name, ops=req.token_ops)
        self.counts["tokens"] += 1
        return MotionReply(ok=True, ops=sorted(decision.ops), secret=secret,
                           tokens=[TokenInfo(**t) for t in self.tokens.listing()])

    def _run(self, req: MotionRequest) -> None:
        p, now = self.policy, self.clock()
        if req.op == "get_state":
            return
        if req.op == "turn":
            p.cmd_turn(_need(req.angle_deg, "turn needs angle_deg"), now)
        elif req.op == "follow":
            p.cmd_follow(_need(req.enabled, "follow needs enabled (true or false)"))
        elif req.op == "pan":
            p.cmd_pan(now)
        elif req.op == "stop":
            p.cmd_stop(now)
        elif req.op == "health_sweep":
            p.cmd_health_sweep(now)
        elif req.op == "health_ack":
            p.cmd_health_ack(now)
        elif req.op == "away":
            p.cmd_away(_need(req.enabled, "away needs enabled (true or false)"), now)
        elif req.op == "speed":
            preset = _need(req.speed_preset, "speed needs speed_preset (calm, normal or fast)")
            if preset not in SPEED_PRESETS:
                raise _BadRequest(f"speed_preset must be one of {', '.join(SPEED_PRESETS)}, not {preset!r}")
            self.apply_speed(preset)
        elif req.op == "away_hours":
            hours = _need(req.away_hours, "away_hours needs away_hours (\"HH:MM-HH:MM\", or \"\" for any time)")
            if hours:
                try:
                    parse_hours(hours)
                except ValueError as exc:
                    raise _BadRequest(str(exc)) from None
            p.cmd_away_hours(hours)
        elif req.op == "set_rom":
            if req.rom_step is not None:
                if req.min_deg is not None or req.max_deg is not None:
                    raise _BadRequest("set_rom takes either min_deg and max_deg or rom_step, not both")
                if req.rom_step not in ROM_STEPS:
                    raise _BadRequest(f"rom_step must be one of {', '.join(ROM_STEPS)}, not {req.rom_step!r}")
                p.cmd_rom_step(req.rom_step, now)
            else:
                p.cmd_set_rom(_need(req.min_deg, "set_rom needs min_deg and max_deg, or rom_step"),
                              _need(req.max_deg, "set_rom needs min_deg and max_deg, or rom_step"))


class _BadRequest(Exception):
    """A request that decodes but makes no sense (a missing argument)."""


def _need(value: Optional[object], message: str):
    if value is None:
        raise _BadRequest(message)
    if isinstance(value, float) and value != value:
        raise _BadRequest(message.split(" needs")[0] + ": angle is not a number")
    return value
