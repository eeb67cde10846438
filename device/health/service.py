"""The health service: motor.health windows into moves, the reference sweep, routine moves against it, `health.state` out."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Optional

from ..bus.rpc import RpcClient
from ..bus.schemas import HealthState, KindRatio, MotionRequest, MotorHealth, MotorState, PolicyState, SectorScore
from ..runtime.service import Service
from . import reference
from .attention import Attention
from .config import HealthConfig
from .detector import Detector, Verdict
from .features import Move, MoveTracker, finite, sector_centre

MAX_SWEEP_MOVES = 16              # a sweep is three moves; more means it was not one
SWEEP_TAIL_S = 1.5                # motor.health runs behind policy.state: the last leg's windows still arrive


def resolve_reference_path(hc: HealthConfig) -> Path:
    return Path(hc.reference_file).expanduser() if hc.reference_file else reference.default_path()


class HealthService(Service):
    name = "health"

    def setup(self) -> None:
        hc: HealthConfig = self.cfg.health
        self.hc = hc
        self.path = resolve_reference_path(hc)
        self.tracker = MoveTracker()
        self.attention = Attention(hc.clear_ratio, hc.worse_ratio)
        self.detector: Optional[Detector] = None
        self.verdict: Optional[Verdict] = None
        self.note = ""
        self.ref: Optional[reference.Reference] = None
        try:
            self.ref = reference.load(self.path)
        except reference.ReferenceError as exc:
            # Keep running without one (a sweep writes a good one); say so once, in one line, and on the bus.
            self.note = str(exc)[:200]
            self.pub.hb_state, self.pub.hb_detail = "degraded", self.note
            self.event("health reference not read", logging.ERROR, detail=self.note)
        if self.ref is not None:
            self.detector = Detector(self.ref, hc.thresholds, hc.pool)
        self.sweeping = False
        self.sweep_close_at: Optional[float] = None    # the sweep ended: its last windows until then
        self.sweep_moves: list[Move] = []
        self.sweep_rom = (-180.0, 180.0)
        self.policy_state: Optional[PolicyState] = None
        self.ack_seen: Optional[int] = None       # the policy's health_ack_ns we last acted on
        self.homed_since: Optional[float] = None
        self.last_sweep_request = float("-inf")
        self.sweep_requests = 0
        self.moves = 0
        self.malformed = 0
        self._last_published: Optional[HealthState] = None
        self.on("motor", "motor.health", self._on_window)
        self.on("motor", "motor.state", self._on_motor)
        self.on("policy", "policy.state", self._on_policy)
        self.loop.every(1.0 / hc.state_rate_hz, self.publish)
        self.loop.every(1.0, self._maybe_auto_sweep)
        self.loop.every(0.2, self._maybe_finish_sweep)
        self.event("health started", reference=str(self.path), has_reference=self.ref is not None,
                   thresholds=hc.thresholds)

    # -- inputs -------------------------------------------------------------------------------------
    def _on_window(self, w: MotorHealth) -> None:
        if not all(finite(x) for x in (w.commanded_deg, w.measured_deg, w.err_mean_deg, w.err_min_deg, w.err_max_deg)):
            self.malformed += 1                   # decoded, but not numbers one can compare: counted, dropped
            self.sub.dropped["invalid:motor.health"] += 1
            return
        m = self.tracker.feed(w)
        if m is None:
            return
        if self.sweeping or self.sweep_close_at is not None:
            if len(self.sweep_moves) < MAX_SWEEP_MOVES:
                self.sweep_moves.append(m)
            return
        if self.detector is None:
            return
        v = self.detector.add(m)
        if v is None:
            return
        self.moves += 1
        self.verdict = v
        if self.attention.update(v):
            self.event("turntable needs attention", logging.WARNING, kind=v.kind, angle=v.angle_deg,
                       ratios={k: round(r, 2) for k, r in v.ratios.items()})
            self.publish()
        elif not self.attention.raised and v.kind is None and self._last_published is not None \
                and self._last_published.needs_attention:
            self.event("turntable health back to its reference", ratios={k: round(r, 2) for k, r in v.ratios.items()})
            self.publish()

    def _on_motor(self, st: MotorState) -> None:
        if st.manual or st.stalled:
            self.tracker.interrupt()
        if st.homed and st.link_ok:
            if self.homed_since is None:
                self.homed_since = time.monotonic()
        else:
            self.homed_since = None

    def _on_policy(self, st: PolicyState) -> None:
        self.policy_state = st
        sweeping = st.mode == "sweeping"
        if sweeping and not self.sweeping:
            # (A move under way when it began runs on into the first leg: its slow part counts, which is harmless.)
            self.sweeping, self.sweep_moves, self.sweep_close_at = True, [], None
            self.sweep_rom = (st.rom_min_deg, st.rom_max_deg)
            self.event("health sweep started", rom=f"{st.rom_min_deg:g}..{st.rom_max_deg:g}")
            self.publish()
        elif self.sweeping and not sweeping:
            self.sweeping = False
            self.sweep_close_at = time.monotonic() + SWEEP_TAIL_S
            self.sweep_decision = st.decision
        if self.ack_seen is None:
            self.ack_seen = st.health_ack_ns      # what was acknowledged before we started is not news
        elif st.health_ack_ns != self.ack_seen:
            self.ack_seen = st.health_ack_ns
            if st.health_ack_ns and self.attention.acknowledge(self.verdict.worst if self.verdict else 0.0):
                self.event("turntable attention acknowledged", kind=self.attention.kind)
            self.publish()

    # -- the reference sweep ------------------------------------------------------------------------
    def _maybe_finish_sweep(self) -> None:
        if self.sweep_close_at is not None and time.monotonic() >= self.sweep_close_at and not self.sweeping:
            self.sweep_close_at = None
            self._finish_sweep(self.sweep_decision)

    def _finish_sweep(self, decision: str) -> None:
        # The closing rest of the last leg has not been cut into a move yet: close it now.
        last = self.tracker.flush()
        if last is not None and len(self.sweep_moves) < MAX_SWEEP_MOVES:
            self.sweep_moves.append(last)
        try:
            ref = reference.build(self.sweep_moves, self.sweep_rom, self.cfg.policy.motion.sweep_speed_dps)
        except ValueError as exc:
            self.note = f"health sweep not used: {exc}"[:200]
            self.event("health sweep not used", logging.WARNING, detail=str(exc), decision=decision,
                       moves=[[round(m.start_deg, 1), round(m.end_deg, 1), m.tainted] for m in self.sweep_moves])
            self.publish()
            return
        try:
            reference.save(self.path, ref)
        except OSError as exc:
            self.note = f"health reference not stored in {self.path}: {exc.strerror or exc}"[:200]
            self.event("health reference not stored", logging.ERROR, detail=self.note)
        else:
            self.note = ""
            self.event("health reference recorded", path=str(self.path), moves=ref.moves,
                       lag_up=ref.lag_up_deg, lag_down=ref.lag_down_deg, backlash=ref.backlash_deg)
        if self.pub.hb_state == "degraded":
            self.pub.hb_state, self.pub.hb_detail = "running", ""
        self.ref = ref
        self.detector = Detector(ref, self.hc.thresholds, self.hc.pool)
        self.attention.reset()
        self.verdict, self.moves = None, 0
        self.publish()

    def _maybe_auto_sweep(self) -> None:
        """No reference yet (and none unreadable): ask the policy for the sweep, as `swivel health sweep` does."""
        if not self.hc.auto_sweep or self.ref is not None or self.note.startswith("turntable health reference"):
            return
        now = time.monotonic()
        if (self.sweeping or self.sweep_close_at is not None or self.homed_since is None or now - self.homed_since < self.hc.auto_sweep_delay_s
                or not self.peer_alive("policy") or now - self.last_sweep_request < 30.0):
            return
        self.last_sweep_request = now
        self.sweep_requests += 1
        # Off the loop: the policy answers in milliseconds, but a wedged one must not stall this loop.
        threading.Thread(target=self._request_sweep, name="health-sweep-request", daemon=True).start()

    def _request_sweep(self) -> None:
        try:
            reply = RpcClient(self.runtime_dir, self.ctx, timeout_s=2.0).call(MotionRequest(op="health_sweep"))
        except (ConnectionError, TimeoutError) as exc:
            self.event("health sweep not requested", logging.WARNING, error=str(exc))
            return
        if reply.ok:
            self.event("health sweep requested (no reference yet)")
        else:
            self.event("health sweep refused", logging.WARNING, error=reply.error)

    # -- output -------------------------------------------------------------------------------------
    def state(self) -> HealthState:
        a, v = self.attention, self.verdict
        if self.sweeping or self.sweep_close_at is not None:
            status = "sweeping"
        elif self.ref is None:
            status = "no_reference"
        elif a.raised:
            status = "attention"
        elif v is None or v.moves < self.hc.pool // 2:
            status = "learning"
        else:
            status = "ok"
        ratios = [KindRatio(k, round(r, 3)) for k, r in sorted(v.ratios.items())] if v else []
        sectors = [SectorScore(round(sector_centre(s), 1), sc) for s, sc in sorted(v.sector_scores.items())] if v else []
        return HealthState(
            t_ns=time.monotonic_ns(), status=status, needs_attention=a.raised, kind=a.kind, angle_deg=a.angle_deg,
            acknowledged=a.acknowledged, gentle=a.gentle, worst_ratio=round(v.worst, 3) if v else 0.0,
            ratios=ratios[:8], sectors=sectors[:36], moves=self.moves,
            reference_moves=self.ref.moves if self.ref else 0,
            reference_created=self.ref.created if self.ref else 0.0, note=self.note,
            dropped=sum(self.sub.dropped.values()))

    def publish(self) -> None:
        st = self.state()
        self.pub.publish("health.state", st)
        self._last_published = st

    def log_stats(self) -> None:
        super().log_stats()
        self.event("health stats", moves=self.moves, windows=self.tracker.windows, malformed=self.malformed,
                   raises=self.attention.raises, sweep_requests=self.sweep_requests)


def main(cfg) -> int:
    return HealthService(cfg).run()
