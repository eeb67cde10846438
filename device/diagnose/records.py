"""Journal records: one per wake event, built from the bus timeline (the same code for the device's journal
and for `swivel run --report`). Never audio or images: times, counts and the states that explain a turn.

Record schema (version 1), one JSON object per journal line:
  v, kind="wake", id (the wake event's start_ns), t_ns (when the engine decided, monotonic ns), wall (unix s),
  stages_s:  wake (engine decision - end of utterance as the engine saw it), ssl (estimate sent - wake event),
             policy (move goal - estimate), motor (turntable moving - goal, MCU capture time); null = no such stage
  total_s:   moving - end of utterance (null when the device did not move)
  outcome:   moved | held (a goal never came: see policy) | no_estimate (ssl said nothing) | no_motion
  ssl:       confidence, ambiguous, azimuth_deg (device frame), phase
  vision:    people, fps, blind
  policy:    mode, decision, reason, holds
  motor:     queue (commands waiting in the motor service), retransmits, timeouts (link counters during the event),
             link_ok, underruns (the MCU's step-queue underruns from before the wake event to 3 s after the
             estimate, from its STATUS counters; null when not known)
  cpu:       host (busy share of all CPUs, 0..1), services {name: CPUs used} from the end of the utterance to 0.5 s after the wake event
  faults:    (simulated runs only) the faults the world injected into this event
"""
from __future__ import annotations

import time

SCHEMA_VERSION = 1
WINDOW_NS = 3_000_000_000       # a later stage must follow within this, or it belongs to another utterance
STAGES = ("wake", "ssl", "policy", "motor")


def _first(msgs, pred):
    for m in msgs:
        if pred(m):
            return m
    return None


def _before(msgs, t_ns):
    best = None
    for m in msgs:
        if m.t_ns <= t_ns:
            best = m
        else:
            break
    return best


def build_record(wake, timeline: dict, cpu_load: dict | None = None) -> dict:
    """The record of one wake event (a WakeEvent message) from topic -> time-ordered messages."""
    doas = timeline.get("ssl.doa", [])
    doa = _first(doas, lambda m: m.trigger == "wake" and wake.t_ns <= m.sent_ns < wake.t_ns + WINDOW_NS)
    t_doa = doa.sent_ns if doa else None
    goal = t_doa and _first(timeline.get("motor.goal", []),
                            lambda m: m.mode == "move" and t_doa <= m.t_ns < t_doa + WINDOW_NS)
    states = timeline.get("motor.state", [])
    moving = goal and _first(states, lambda m: m.moving and goal.t_ns - 10_000_000 <= m.t_ns < goal.t_ns + WINDOW_NS)
    at = t_doa or wake.t_ns
    people = _before(timeline.get("vision.people", []), at)
    pstate = _before(timeline.get("policy.state", []), (goal.t_ns if goal else at + WINDOW_NS))
    m0 = _before(states, wake.t_ns)
    m1 = moving or _before(states, at + WINDOW_NS)
    m_end = _before(states, at + WINDOW_NS)          # underruns happen during the turn, after it began

    def s(a, b):
        return None if a is None or b is None else round((b - a) / 1e9, 4)

    stages = {"wake": s(wake.end_ns, wake.t_ns), "ssl": s(wake.t_ns, t_doa),
              "policy": s(t_doa, goal.t_ns if goal else None),
              "motor": s(goal.t_ns if goal else None, moving.t_ns if moving else None)}
    if doa is None:
        outcome = "no_estimate"
    elif goal is None:
        outcome = "held"
    elif moving is None:
        outcome = "no_motion"
    else:
        outcome = "moved"
    return {
        "v": SCHEMA_VERSION, "kind": "wake", "id": int(wake.start_ns), "t_ns": int(wake.t_ns),
        "wall": round(time.time() - (time.monotonic_ns() - wake.t_ns) / 1e9, 3),
        "stages_s": stages, "total_s": s(wake.end_ns, moving.t_ns if moving else None), "outcome": outcome,
        "ssl": None if doa is None else {"confidence": round(doa.confidence, 3), "ambiguous": doa.ambiguous,
                                         "azimuth_deg": doa.azimuth_deg, "phase": doa.phase},
        "vision": None if people is None else {"people": len(people.people), "fps": round(people.fps, 2),
                                               "blind": people.blind},
        "policy": None if pstate is None else {"mode": pstate.mode, "decision": pstate.decision,
                                               "reason": pstate.reason, "holds": list(pstate.holds)},
        "motor": None if m1 is None else {
            "queue": getattr(m1, "queue", 0),
            "retransmits": getattr(m1, "retransmits", 0) - (getattr(m0, "retransmits", 0) if m0 else 0),
            "timeouts": getattr(m1, "timeouts", 0) - (getattr(m0, "timeouts", 0) if m0 else 0),
            "link_ok": m1.link_ok, "underruns": _underruns(m0, m_end)},
        "cpu": cpu_load or {"host": None, "services": {}},
    }


def _underruns(m0, m1) -> int | None:
    """The MCU's step-queue underruns between two motor.state messages; None when it did not report them
    (an older motor service, no STATUS read yet) or restarted in between (its counter began again)."""
    a, b = getattr(m0, "underruns", None), getattr(m1, "underruns", None)
    if a is None or b is None or b < a:
        return None
    return b - a


def cpu_span(wake) -> tuple[int, float]:
    """When and over how long to read the CPU for one event: from the end of the utterance to half a second
    after the engine decided (where ssl and the policy work), at least one second."""
    t = wake.t_ns + 500_000_000
    return t, max(1.0, (t - wake.end_ns) / 1e9)


def records_from_timeline(timeline: dict, cpu=None) -> list[dict]:
    """Every wake event's record (the run report's `journal`); `cpu` is a CpuSampler or None."""
    ordered = {k: sorted(v, key=lambda m: m.t_ns) for k, v in timeline.items()}
    out = []
    for wake in ordered.get("wake.event", []):
        load = cpu.load_at(*cpu_span(wake)) if cpu is not None else None
        out.append(build_record(wake, ordered, load))
    return out
