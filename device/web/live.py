"""What the page shows, built from the bus: each topic turned into a small JSON-ready dict (never pixels, never bytes)."""
from __future__ import annotations

import time
from collections import deque
from typing import Optional

from ..policy import zones
from ..policy.angles import diff
from ..policy.config import ZonesConfig

# Services whose health the page shows; others appear as soon as their heartbeat does.
KNOWN_SERVICES = ("motor", "policy", "ssl", "vision", "web")


def _r(x: Optional[float], nd: int = 1) -> Optional[float]:
    return None if x is None else round(float(x), nd)


def wrap(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0


def motor_view(m) -> dict:
    return {"type": "motor", "t_ns": m.t_ns, "heading": _r(m.heading_deg, 2), "velocity": _r(m.velocity_dps),
            "target": _r(m.target_deg), "moving": m.moving, "stalled": m.stalled, "manual": m.manual,
            "at_limit": m.at_limit, "link_ok": m.link_ok, "fault": m.fault}


def people_view(p, heading: Optional[float], engaged_threshold: float) -> dict:
    """Bearing, distance and engagement of each person: the landmarks stay off the page (they are not needed)."""
    h = p.heading_deg if p.heading_deg is not None else heading
    return {"type": "people", "t_ns": p.t_ns, "blind": p.blind, "blind_reason": p.blind_reason, "fps": _r(p.fps),
            "people": [{"track_id": q.track_id, "bearing": _r(q.bearing_deg),
                        "world": None if h is None else _r(wrap(q.bearing_deg + h)),
                        "distance_m": _r(q.distance_m, 2), "engagement": _r(q.engagement, 2),
                        "engaged": q.engagement >= engaged_threshold} for q in p.people]}


def doa_view(d, heading: Optional[float]) -> dict:
    h = d.heading_deg if d.heading_deg is not None else heading
    world = None if d.azimuth_deg is None or h is None else _r(wrap(d.azimuth_deg + h))
    return {"type": "doa", "t_ns": d.t_ns, "azimuth": _r(d.azimuth_deg), "world": world, "heading": _r(h),
            "confidence": _r(d.confidence, 2), "ambiguous": d.ambiguous, "trigger": d.trigger,
            "candidates": [{"azimuth": _r(c.azimuth_deg), "power": _r(c.power, 3)} for c in d.candidates],
            "energy_map": [_r(e, 3) for e in d.energy_map], "at": time.time()}


class LiveState:
    """The last of everything, the decision timeline and every service's health, as the page wants them."""

    def __init__(self, zones_cfg: ZonesConfig, engaged_threshold: float, timeline_len: int):
        self.zones_cfg = zones_cfg
        self.engaged_threshold = engaged_threshold
        self.last: dict[str, dict] = {}                 # page message type -> last message
        self.heading: Optional[float] = None
        self.people: list[dict] = []
        self.timeline: deque[dict] = deque(maxlen=timeline_len)
        self._last_decision: Optional[tuple] = None
        self.pids: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        self.hb: dict[str, dict] = {}

    def on_motor(self, m) -> dict:
        self.heading = m.heading_deg
        out = self.last["motor"] = motor_view(m)
        return out

    def on_people(self, p) -> dict:
        out = self.last["people"] = people_view(p, self.heading, self.engaged_threshold)
        self.people = out["people"]
        return out

    def on_doa(self, d) -> dict:
        out = self.last["doa"] = doa_view(d, self.heading)
        return out

    def on_policy(self, s) -> tuple[dict, Optional[dict]]:
        """The policy view, and a timeline entry when the decision or the holds changed."""
        z = self.zone_edges(s.target_deg)
        out = {"type": "policy", "t_ns": s.t_ns, "mode": s.mode, "target": _r(s.target_deg),
               "target_source": s.target_source, "zone": s.zone, "decision": s.decision, "reason": s.reason,
               "holds": [{"name": n, "reason": r} for n, r in
                         zip(s.holds, list(s.hold_reasons) + [""] * len(s.holds))],
               "rom": [s.rom_min_deg, s.rom_max_deg], "rom_source": s.rom_source, "follow": s.follow,
               "away": s.away, "shutter_closed": s.shutter_closed, "muted": s.muted, "moves": s.moves,
               "notes": list(s.notes), "zones": z,
               "speed_preset": getattr(s, "speed_preset", ""), "away_hours": getattr(s, "away_hours", "")}
        self.last["policy"] = out
        key = (s.decision, tuple(s.holds), s.mode)
        entry = None
        if key != self._last_decision:
            self._last_decision = key
            entry = {"at": round(time.time(), 2), "mode": s.mode, "decision": s.decision,
                     "holds": list(s.holds), "reason": s.reason}
            self.timeline.append(entry)
        return out, entry

    def on_turntable(self, h) -> dict:
        """health.state (turntable health, issue 17): the line under the polar view and its acknowledge button."""
        out = self.last["turntable"] = {
            "type": "turntable", "status": h.status, "needs_attention": h.needs_attention, "kind": h.kind,
            "angle": _r(h.angle_deg), "acknowledged": h.acknowledged, "gentle": h.gentle, "moves": h.moves,
            "note": h.note, "sectors": [[s.centre_deg, s.score] for s in h.sectors]}
        return out

    def zone_edges(self, target: Optional[float]) -> dict:
        """Dead, holding and motion zone edges (degrees off the screen normal) for the target's distance:
        the person seen nearest the target, else the distance the policy assumes for a sound."""
        distance = None
        if target is not None:
            near = [p for p in self.people if p["world"] is not None and abs(diff(p["world"], target)) < 15.0]
            if near:
                distance = min(near, key=lambda p: abs(diff(p["world"], target)))["distance_m"]
        e = zones.edges(self.zones_cfg, distance)
        return {"dead": _r(e.dead_deg), "motion": _r(e.motion_deg), "half_view": _r(e.half_view_deg),
                "distance_m": distance if distance is not None else self.zones_cfg.default_distance_m,
                "assumed": distance is None}

    def on_heartbeat(self, hb) -> None:
        prev = self.pids.get(hb.service)
        if prev is not None and prev != hb.pid:
            self.restarts[hb.service] = self.restarts.get(hb.service, 0) + 1
        self.pids[hb.service] = hb.pid
        self.hb[hb.service] = {"pid": hb.pid, "seq": hb.seq, "state": hb.state, "detail": hb.detail,
                               "dropped": getattr(hb, "dropped", 0)}

    def health(self, sub, timeout_s: float, own_dropped: dict[str, int]) -> dict:
        now = time.monotonic()
        names = list(KNOWN_SERVICES) + sorted(set(sub.last_heartbeat) - set(KNOWN_SERVICES))
        services = []
        for name in names:
            seen = sub.last_heartbeat.get(name)
            hb = self.hb.get(name, {})
            # What this page's own subscriber threw away of that service's topics, by reason.
            drops = {k: v for k, v in sub.dropped.items() if k.split(":")[-1].split(".")[0] == name}
            services.append({"name": name, "alive": seen is not None and now - seen <= timeout_s,
                             "age_s": None if seen is None else round(now - seen, 1),
                             "pid": hb.get("pid"), "state": hb.get("state", "unseen"),
                             "detail": hb.get("detail", ""), "restarts": self.restarts.get(name, 0),
                             "dropped": hb.get("dropped", 0), "dropped_here": sum(drops.values())})
        return {"type": "health", "services": services, "web": own_dropped}
