"""Fusion of sound and sight into one aim: sound cues, vision confirmation, refuted directions, engagement, groups,
the search for a talker who walked on, and people who leave the view at its edge."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

from .angles import diff, wrap
from .config import FusionConfig, ZonesConfig
from .zones import edges


WALK_SPEED_WINDOW_S = 1.0       # a person's bearing speed is measured over this much of their track
WALK_MIN_SPEED_DPS = 4.0        # slower than this is standing (jitter), not walking
# What the policy last has of a walker is behind them by about their speed times the bearing smoothing's
# time constant (bearing_smoothing_s) and this: how long vision goes on publishing a track it no longer
# sees, where it was last seen (its PUBLISH_UNSEEN_NS).
VISION_UNSEEN_PUBLISHED_S = 0.3
WALK_MAX_SPEED_DPS = 60.0       # nobody walks round the device faster (a brisk 1.5 m/s at 1.4 m)
LOST_PREDICT_S = 1.2            # a lost walker is carried on at their speed for at most this long


@dataclass(frozen=True)
class WorldPerson:
    track_id: int
    world_deg: float
    distance_m: float
    engagement: float
    confidence: float


@dataclass
class SoundCue:
    world_deg: float
    t_ns: int                      # capture time of the sound
    weight: float                  # confidence x credibility of its direction
    trigger: str = "wake"
    looked_since_ns: Optional[int] = None   # when the camera began to look at it with nobody there
    walk_dir: int = 0              # the talker walked while speaking: +1 counter-clockwise, -1 clockwise
    origin_deg: Optional[float] = None      # where the sound ended (a search moves the cue on from it)
    search_left: int = 0           # further looks allowed in walk_dir when nobody is found


@dataclass(frozen=True)
class Aim:
    """Where the screen should point (world azimuth), why, and how far the person is."""
    world_deg: float
    source: str                    # sound | vision
    distance_m: Optional[float]
    tracks: tuple[int, ...] = ()
    fresh_cue: bool = False        # a sound just asked for attention (a wake word): turn unless dead zone
    detail: str = ""
    lead_deg: float = 0.0          # a walking person: a move goes this much further, the way they walk


@dataclass(frozen=True)
class SoundVerdict:
    """What fusion made of one sound estimate: accepted, or which no-move rule it triggers and why."""
    accepted: bool
    rule: str = ""                 # ambiguous_sound | outside_rom | "" (ignored without a rule)
    reason: str = ""


@dataclass
class _Source:
    world_deg: float
    credibility: float
    t_ns: int


class Credibility:
    """How much to believe sound from each direction. A direction the camera looked at and found
    nobody (a TV, a reflection off a wall) loses credibility; it recovers slowly with time."""

    def __init__(self, cfg: FusionConfig):
        self.cfg = cfg
        self.sources: list[_Source] = []

    def _nearest(self, deg: float) -> Optional[_Source]:
        best = min(self.sources, key=lambda s: abs(diff(s.world_deg, deg)), default=None)
        if best is not None and abs(diff(best.world_deg, deg)) <= self.cfg.source_gate_deg:
            return best
        return None

    def _recovered(self, s: _Source, now_ns: int) -> float:
        age = max(0.0, (now_ns - s.t_ns) / 1e9)
        return 1.0 - (1.0 - s.credibility) * math.exp(-age / self.cfg.credibility_recover_s)

    def get(self, deg: float, now_ns: int) -> float:
        s = self._nearest(deg)
        return 1.0 if s is None else self._recovered(s, now_ns)

    def refute(self, deg: float, now_ns: int) -> float:
        s = self._nearest(deg)
        if s is None:
            s = _Source(deg, 1.0, now_ns)
            self.sources.append(s)
            self.sources = self.sources[-32:]          # bounded memory
        s.credibility = self._recovered(s, now_ns) * self.cfg.unconfirmed_penalty
        s.t_ns = now_ns
        return s.credibility

    def confirm(self, deg: float) -> None:
        s = self._nearest(deg)
        if s is not None:
            self.sources.remove(s)


class Fusion:
    """Keeps the latest people (world frame), the pending sound cue and who spoke when; `aim()` decides."""

    def __init__(self, cfg: FusionConfig, zones: ZonesConfig):
        self.cfg = cfg
        self.zones = zones
        self.people: list[WorldPerson] = []
        self.static_faces: list[WorldPerson] = []    # seen, not (yet) living: never a target, but worth a look
        self.people_recv_ns: Optional[int] = None
        self._smooth: dict[int, tuple[float, int]] = {}    # track id -> (smoothed bearing, capture time)
        self.cue: Optional[SoundCue] = None
        self.spoke: dict[int, int] = {}                 # track id -> capture time of its last sound
        self.credibility = Credibility(cfg)
        self.target_track: Optional[int] = None
        self._last_aim: Optional[Aim] = None
        self._lost_since_ns: Optional[int] = None
        self.note = ""                                  # what fusion last decided about sound, for policy.state
        self._lost_lead: Optional[Aim] = None            # where to look for a person who left at the edge
        self._velocity: dict[int, float] = {}           # track id -> how fast its bearing moves (deg/s)
        self._history: dict[int, list[tuple[int, float]]] = {}   # track id -> recent (capture time, bearing)
        # heading, bearing speed and time when the target was last seen
        self._seen_from: tuple[Optional[float], float, int] = (None, 0.0, 0)
        self.clamp: Callable[[float], float] = lambda d: d   # keeps a search inside the range (set by core)

    # -- inputs -------------------------------------------------------------------------------------
    def set_people(self, people: list[WorldPerson], capture_ns: int, now_ns: int) -> None:
        """The people of one vision message (world frame); bearings are smoothed per track so that
        detection jitter does not push a person across a zone edge and back."""
        tau = self.cfg.bearing_smoothing_s
        smoothed = []
        for p in people:
            prev = self._smooth.get(p.track_id)
            deg = p.world_deg
            # Small differences are jitter and get smoothed; a big one is a real change, taken at once.
            if prev is not None and tau > 0 and capture_ns > prev[1] and \
                    abs(diff(p.world_deg, prev[0])) <= self.cfg.bearing_jump_deg:
                alpha = 1.0 - math.exp(-(capture_ns - prev[1]) / 1e9 / tau)
                deg = wrap(prev[0] + alpha * diff(p.world_deg, prev[0]))
            smoothed.append(WorldPerson(p.track_id, deg, p.distance_m, p.engagement, p.confidence))
        self._smooth = {p.track_id: (p.world_deg, capture_ns) for p in smoothed}
        self._update_speeds(people, capture_ns)
        self.people = smoothed
        self.people_recv_ns = now_ns
        live = {p.track_id for p in people}
        # Forget who spoke once their track is gone for good (ids are not reused by vision).
        if len(self.spoke) > 64:
            self.spoke = {k: v for k, v in self.spoke.items() if k in live}

    def _update_speeds(self, people: list[WorldPerson], capture_ns: int) -> None:
        """Each track's bearing speed over the last WALK_SPEED_WINDOW_S of its bearings as vision sent them
        (the smoothed ones lag a walker and then catch up in a jump); 0 until the window is half full. A
        jump further than anyone walks starts it afresh: that is a new sighting, not walking."""
        history = {}
        for p in people:
            h = [x for x in self._history.get(p.track_id, []) if capture_ns - x[0] <= WALK_SPEED_WINDOW_S * 1e9]
            if h:
                dt = max(capture_ns - h[-1][0], 0) / 1e9
                if abs(diff(p.world_deg, h[-1][1])) > self.cfg.bearing_jump_deg + WALK_MAX_SPEED_DPS * dt:
                    h = []
            history[p.track_id] = h + [(capture_ns, p.world_deg)]
        for tid, h in self._history.items():       # unseen for a moment: their walk is still theirs
            if tid not in history and capture_ns - h[-1][0] <= WALK_SPEED_WINDOW_S * 1e9:
                history[tid] = h
        self._history = history
        self._velocity = {}
        for tid, h in history.items():
            span = (h[-1][0] - h[0][0]) / 1e9
            if span >= WALK_SPEED_WINDOW_S / 2 and h[-1][0] == capture_ns:
                self._velocity[tid] = diff(h[-1][1], h[0][1]) / span

    def clear_people(self) -> None:
        self.people = []
        self.static_faces = []

    def set_static(self, faces: list[WorldPerson]) -> None:
        """Faces vision sees that have not shown a living head's micro-motion yet (never targets)."""
        self.static_faces = faces

    def _vision_fresh(self, now_ns: int) -> bool:
        return self.people_recv_ns is not None and now_ns - self.people_recv_ns <= self.cfg.people_stale_s * 1e9

    def fresh_people(self, now_ns: int) -> list[WorldPerson]:
        return self.people if self._vision_fresh(now_ns) else []

    def _static_face_near(self, deg: float, now_ns: int) -> bool:
        return self._vision_fresh(now_ns) and any(abs(diff(p.world_deg, deg)) <= self.cfg.confirm_gate_deg
                                                  for p in self.static_faces)

    def _person_near(self, deg: float, now_ns: int) -> Optional[WorldPerson]:
        near = [p for p in self.fresh_people(now_ns) if abs(diff(p.world_deg, deg)) <= self.cfg.confirm_gate_deg]
        return min(near, key=lambda p: abs(diff(p.world_deg, deg)), default=None)

    def add_sound(self, world_deg: float, confidence: float, t_ns: int, now_ns: int,
                  candidates: list[tuple[float, float]], ambiguous: bool, in_rom: Callable[[float], bool],
                  rom_text: str, trigger: str = "wake", walk_dir: int = 0) -> SoundVerdict:
        """Judge one sound estimate (world bearings) and, if it is usable, make it the pending cue.
        walk_dir: the talker walked that way while speaking (the cue may search on that way)."""
        # (An estimate ssl calls ambiguous comes with a low confidence by construction: judge its rivals
        # first, so the user is told "cannot tell which" rather than "too weak".)
        if confidence < self.cfg.min_confidence and not ambiguous:
            return SoundVerdict(False, reason=f"sound at {world_deg:.0f} deg too weak ({confidence:.2f})")
        # Rival directions: candidates far from the estimate and nearly as strong (when ssl itself says
        # it is ambiguous, its rivals count whatever their strength).
        top = max((p for _, p in candidates), default=1.0) or 1.0
        rivals: list[float] = []
        for d, p in candidates:
            if abs(diff(d, world_deg)) < self.cfg.ambiguity_sep_deg or (p / top < self.cfg.ambiguity_ratio and not ambiguous):
                continue
            if all(abs(diff(d, r)) >= self.cfg.ambiguity_sep_deg for r in rivals):
                rivals.append(d)
        # Directions outside the range of motion (often reflections off the wall behind) do not count.
        inside = [d for d in [world_deg] + rivals if in_rom(d)]
        if not inside:
            return SoundVerdict(False, "outside_rom", f"sound at {world_deg:.0f} deg is outside the range of motion {rom_text}")
        chosen = inside[0]
        if len(inside) > 1:
            # Two far-apart directions: only vision can settle it, when exactly one of them has a person.
            seen = [d for d in inside if self._person_near(d, now_ns) is not None]
            if len(seen) != 1:
                text = " or ".join(f"{d:.0f}" for d in inside[:3])
                return SoundVerdict(False, "ambiguous_sound", f"sound from {text} deg: cannot tell which")
            chosen = seen[0]
        elif ambiguous and not rivals and self._person_near(chosen, now_ns) is None:
            # ssl cannot tell but names no rival; nobody seen there either.
            return SoundVerdict(False, "ambiguous_sound", f"sound at {chosen:.0f} deg: ssl cannot tell its direction")
        weight = confidence * self.credibility.get(chosen, now_ns)
        if confidence < self.cfg.min_confidence:
            return SoundVerdict(False, reason=f"sound at {chosen:.0f} deg too weak ({confidence:.2f})")
        if weight < self.cfg.min_cue_weight:
            self.note = f"ignoring sound at {chosen:.0f} deg: nobody was seen there (weight {weight:.2f})"
            return SoundVerdict(False, reason=self.note)
        cue = SoundCue(world_deg=chosen, t_ns=t_ns, weight=weight, trigger=trigger, walk_dir=walk_dir,
                       origin_deg=chosen, search_left=self.cfg.search_max_steps if walk_dir else 0)
        if self.cue is not None and self._asks(self.cue) and not self._asks(cue):
            # Plain speech right after a wake word (ssl reports both for one utterance) must not
            # replace the wake word's cue: it may only tell who is speaking.
            person = self._person_near(chosen, now_ns)
            if person is not None:
                self.spoke[person.track_id] = t_ns
            return SoundVerdict(True)
        self.cue = cue
        self.note = f"sound at {chosen:.0f} deg (weight {weight:.2f})"
        return SoundVerdict(True)

    def drop_cue(self) -> None:
        self.cue = None

    def reset_target(self) -> None:
        self.target_track = None
        self._last_aim = None
        self._lost_since_ns = None
        self._lost_lead = None

    def _lead_past_edge(self, last: Aim, now_ns: int, heading: Optional[float], speed_dps: float,
                        seen_ns: int) -> Optional[Aim]:
        """A person walking towards the view's edge who is lost where they would be in the motion zone by
        now walked out of it: look edge_lead_deg past where they would be. Where they would be: their last
        bearing carried on at their speed for the time since, plus as long as what the policy last has of a
        walker lags them (the bearing smoothing, and vision publishing an unseen track where it was last
        seen), at most LOST_PREDICT_S in all: at 27 deg/s a talker last reported 12 deg from the centre was
        past the edge when they were missed.
        Anyone else (someone the device turned away from, someone who stood and vanished mid-view) keeps
        their last bearing."""
        if heading is None or self.cfg.edge_lead_deg <= 0:
            return None
        lag_s = self.cfg.bearing_smoothing_s + VISION_UNSEEN_PUBLISHED_S
        ahead = speed_dps * min(lag_s + max(now_ns - seen_ns, 0) / 1e9, LOST_PREDICT_S)
        offset = diff(last.world_deg, heading) + ahead
        side = 1 if offset > 0 else -1
        if abs(offset) < edges(self.zones, last.distance_m).motion_deg or side * speed_dps < WALK_MIN_SPEED_DPS:
            return None
        deg = self.clamp(wrap(last.world_deg + ahead + side * self.cfg.edge_lead_deg))
        return Aim(deg, "vision", last.distance_m, last.tracks,
                   detail=f"{last.detail} left the view at its edge: looking {self.cfg.edge_lead_deg:.0f} deg on")

    # -- decision -----------------------------------------------------------------------------------
    def aim(self, now_ns: int, heading: Optional[float], view_ok: bool, still: bool) -> Optional[Aim]:
        """The aim now. `view_ok`: vision is running and not blind; `still`: the device is not turning."""
        cue = self.cue
        if cue is not None:
            # A sound nobody was seen behind fades: its weight decays with age until it no longer counts.
            age_s = (now_ns - cue.t_ns) / 1e9
            if age_s > self.cfg.cue_ttl_s or cue.weight * math.exp(-age_s / self.cfg.cue_decay_s) < self.cfg.min_cue_weight:
                self.note = f"sound at {cue.world_deg:.0f} deg faded: nobody seen there"
                if cue.looked_since_ns is not None:      # we were looking right at it: that counts against it
                    self.credibility.refute(cue.world_deg, now_ns)
                self.cue = cue = None
        if cue is not None:
            person = (self._person_near(cue.world_deg, now_ns) or self._walked_from(cue, now_ns)
                      or self._person_on_search(cue, now_ns))
            if person is not None:
                # Vision confirms the sound: that person spoke last and becomes the target.
                self.spoke[person.track_id] = cue.t_ns
                self.credibility.confirm(cue.world_deg)
                self.target_track = person.track_id
                self.cue = None
                self.note = f"sound at {cue.world_deg:.0f} deg confirmed by person {person.track_id}"
                aim = self._people_aim(now_ns, heading)
                if aim is not None:
                    return Aim(aim.world_deg, aim.source, aim.distance_m, aim.tracks, fresh_cue=self._asks(cue),
                               detail=self.note)
            elif heading is not None and view_ok and \
                    abs(diff(cue.world_deg, heading)) <= self.zones.hfov_deg / 2 - self.cfg.confirm_gate_deg:
                # The camera sees all around where the sound came from (as far as a person confirming it
                # could stand): only a person there makes it a target. Nearer the edge, turn and look.
                if not still:
                    cue.looked_since_ns = None
                    self.note = f"sound at {cue.world_deg:.0f} deg in view: looking for a person there"
                    return None                        # keep the current move; judge once still
                look_s = self.cfg.walk_look_s if cue.walk_dir else self.cfg.confirm_timeout_s
                if self._static_face_near(cue.world_deg, now_ns):
                    # Someone is there who has not moved yet (a talker sitting still, or a poster): give the
                    # micro-motion time to tell, instead of calling the sound a false alarm.
                    look_s = max(look_s, self.cfg.confirm_static_s)
                if cue.looked_since_ns is None:
                    cue.looked_since_ns = now_ns
                elif now_ns - cue.looked_since_ns >= look_s * 1e9:
                    step = self._search_on(cue, now_ns)
                    if step is not None:
                        return step
                    if cue.walk_dir:
                        # The talker was real but walked on out of reach: nothing against that direction.
                        self.note = f"nobody found where the walking talker's sound led ({cue.world_deg:.0f} deg)"
                        self.cue = None
                        return self._people_aim(now_ns, heading)
                    cred = self.credibility.refute(cue.world_deg, now_ns)
                    self.note = f"nobody at {cue.world_deg:.0f} deg: sound there now weighs {cred:.2f}"
                    self.cue = None
                    # A false alarm: back to whoever we were with, if they are still about.
                    return self._people_aim(now_ns, heading)
                self.note = f"looking for a person at {cue.world_deg:.0f} deg"
                return None                            # hold still while looking
            elif not self._asks(cue):
                # Plain talk (no wake word) from out of view: it tells us who speaks, not where to turn.
                self.note = f"voice at {cue.world_deg:.0f} deg out of view: no wake word, not turning"
                self.cue = None
            else:
                return Aim(cue.world_deg, "sound", None, fresh_cue=True,
                           detail=f"turning towards sound at {cue.world_deg:.0f} deg")
        return self._people_aim(now_ns, heading)

    def _search_on(self, cue: SoundCue, now_ns: int) -> Optional[Aim]:
        """Nobody where a walking talker's sound ended: look further the way they walked, a bounded number
        of steps, never beyond search_max_deg from where the sound ended nor outside the range of motion."""
        if not cue.walk_dir or cue.search_left <= 0 or cue.origin_deg is None:
            return None
        done = abs(diff(cue.world_deg, cue.origin_deg))
        reach = min(self.cfg.search_step_deg, self.cfg.search_max_deg - done)
        nxt = self.clamp(wrap(cue.world_deg + cue.walk_dir * reach))
        if reach <= 1.0 or abs(diff(nxt, cue.world_deg)) <= 1.0:
            return None                                  # at the limit of the search or of the range
        step = self.cfg.search_max_steps - cue.search_left + 1
        cue.search_left -= 1
        self.note = (f"nobody at {cue.world_deg:.0f} deg: looking on towards {nxt:.0f} deg "
                     f"(search {step} of {self.cfg.search_max_steps})")
        cue.world_deg, cue.looked_since_ns, cue.t_ns = nxt, None, now_ns   # a fresh look, not an old sound
        return Aim(nxt, "sound", None, fresh_cue=True, detail=self.note)

    def _walked_from(self, cue: SoundCue, now_ns: int) -> Optional[WorldPerson]:
        """Someone walking away from where the sound was, as far as their speed explains since it was heard:
        the talker who went on walking after the wake word (only for a wake word)."""
        if not self._asks(cue):
            return None
        age_s = max(0.0, (now_ns - cue.t_ns) / 1e9)
        best = None
        for p in self.fresh_people(now_ns):
            v = self._velocity.get(p.track_id, 0.0)
            away = diff(p.world_deg, cue.world_deg)
            if abs(v) < WALK_MIN_SPEED_DPS or away * v <= 0:
                continue                                 # standing, or walking towards where the sound was
            reach = self.cfg.confirm_gate_deg + min(abs(v) * age_s, self.cfg.search_max_deg)
            if abs(away) <= reach and (best is None or abs(away) < abs(diff(best.world_deg, cue.world_deg))):
                best = p
        return best

    def _person_on_search(self, cue: SoundCue, now_ns: int) -> Optional[WorldPerson]:
        """While searching, anyone seen on the way from where the sound ended to where we look now."""
        if cue.origin_deg is None or cue.search_left >= self.cfg.search_max_steps or not cue.walk_dir:
            return None
        gate, far = self.cfg.confirm_gate_deg, self.zones.hfov_deg / 2     # as far on as the camera sees
        lo, hi = (cue.origin_deg, cue.world_deg) if cue.walk_dir > 0 else (cue.world_deg, cue.origin_deg)
        lo_m, hi_m = (gate, far) if cue.walk_dir > 0 else (far, gate)
        near = [p for p in self.fresh_people(now_ns)
                if diff(p.world_deg, lo) >= -lo_m and diff(hi, p.world_deg) >= -hi_m]
        return min(near, key=lambda p: abs(diff(p.world_deg, cue.world_deg)), default=None)

    def _asks(self, cue: SoundCue) -> bool:
        """Does this sound ask for the screen (a wake word), or is it just someone talking?"""
        return cue.trigger != "vad" or self.cfg.turn_on_vad

    def _pick_primary(self, people: list[WorldPerson]) -> Optional[WorldPerson]:
        engaged = [p for p in people if p.engagement >= self.cfg.engaged_threshold]
        current = next((p for p in people if p.track_id == self.target_track), None)
        pool = engaged + ([current] if current is not None and current not in engaged else [])
        speakers = [p for p in pool if p.track_id in self.spoke]
        if speakers:
            return max(speakers, key=lambda p: self.spoke[p.track_id])    # spoke last
        if current is not None:
            return current                                               # stay with whoever we follow
        return max(engaged, key=lambda p: p.engagement, default=None)    # most engaged

    def _still_chasing(self, primary: WorldPerson) -> Optional[Aim]:
        """The walker looked for past the edge, found again on the way there and still walking that way:
        keep to the look-ahead (a turn back to where they are now would be one more move, and they will
        be there soon), until they reach it or stop."""
        lead = self._lost_lead
        if lead is None or primary.track_id not in lead.tracks:
            return None
        to_go = diff(lead.world_deg, primary.world_deg)
        v = self._velocity.get(primary.track_id, 0.0)
        reach = edges(self.zones, lead.distance_m).dead_deg
        return lead if abs(to_go) > reach and v * to_go > 0 and abs(v) >= WALK_MIN_SPEED_DPS else None

    def _people_aim(self, now_ns: int, heading: Optional[float] = None) -> Optional[Aim]:
        people = self.fresh_people(now_ns)
        primary = self._pick_primary(people)
        if primary is None:
            # The person we followed left the view: keep their last aim a moment, then let go.
            if self._last_aim is not None and self._last_aim.source == "vision":
                if self._lost_since_ns is None:
                    self._lost_since_ns = now_ns
                    self._lost_lead = self._lead_past_edge(self._last_aim, now_ns, *self._seen_from)
                hold_s = self.cfg.lost_hold_s + (1.0 if self._lost_lead is not None else 0.0)
                if now_ns - self._lost_since_ns <= hold_s * 1e9:
                    return self._lost_lead or self._last_aim
            self.reset_target()
            return None
        chase = self._still_chasing(primary)
        self._lost_since_ns = None
        self._lost_lead = chase
        self._seen_from = (heading, self._velocity.get(primary.track_id, 0.0), now_ns)
        self.target_track = primary.track_id
        group = [primary]
        span_max = self.zones.hfov_deg - 2 * self.cfg.group_margin_deg
        others = sorted((p for p in people if p is not primary and p.engagement >= self.cfg.engaged_threshold),
                        key=lambda p: abs(diff(p.world_deg, primary.world_deg)))
        for p in others:
            offsets = [diff(q.world_deg, primary.world_deg) for q in group + [p]]
            if max(offsets) - min(offsets) <= span_max:
                group.append(p)
        offsets = [diff(q.world_deg, primary.world_deg) for q in group]
        centre = wrap(primary.world_deg + (max(offsets) + min(offsets)) / 2)
        tracks = tuple(sorted(q.track_id for q in group))
        detail = (f"between people {', '.join(map(str, tracks))}" if len(group) > 1
                  else f"person {primary.track_id}")
        known = [q.distance_m for q in group if q.distance_m > 0]      # vision sends -1 when it cannot tell
        distance = min(known) if known else None
        lead = 0.0
        v = self._velocity.get(primary.track_id, 0.0)
        if len(group) == 1 and abs(v) >= WALK_MIN_SPEED_DPS:
            # Someone walking: a move that ends a little ahead of them (at most the dead zone, so they are
            # faced even if they stop at once) saves the next move.
            reach = edges(self.zones, distance).dead_deg
            lead = max(-reach, min(reach, v * self.cfg.follow_lead_s))
        aim = Aim(centre, "vision", distance, tracks, detail=detail, lead_deg=lead)
        self._last_aim = aim
        return chase or aim
