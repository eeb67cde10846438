"""The run report: how quickly and how well the device faced each talker, how it moved, and what held it."""
from __future__ import annotations

import numpy as np

FACING_TOLERANCE_DEG = 10.0


def wrap(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


def _series(msgs, *fields):
    t = np.array([m.t_ns for m in msgs], dtype=np.int64)
    return t, [np.array([getattr(m, f) for m in msgs], dtype=float) for f in fields]


def motion_figures(motor_states) -> dict:
    """Moves, peak speed and peak acceleration seen in motor.state (velocity differentiated over >= 80 ms)."""
    if not motor_states:
        return {"moves": 0, "peak_speed_dps": 0.0, "peak_accel_dps2": 0.0, "move_starts_ns": []}
    msgs = sorted(motor_states, key=lambda m: m.t_ns)
    starts = [b.t_ns for a, b in zip(msgs, msgs[1:]) if b.moving and not a.moving]
    t, (vel,) = _series(msgs, "velocity_dps")
    # Differentiate against the latest sample at least 80 ms older: motor.state comes at 25 Hz with capture
    # times mapped from the MCU clock, whose jitter under load would read as acceleration over one interval.
    older = np.searchsorted(t, t - 80_000_000, side="right") - 1
    ok = older >= 0
    dt = (t[ok] - t[older[ok]]) / 1e9
    accel = np.abs(vel[ok] - vel[older[ok]]) / dt
    peak_accel = float(accel.max()) if accel.size else 0.0
    return {"moves": len(starts), "peak_speed_dps": float(np.max(np.abs(vel))) if len(vel) else 0.0,
            "peak_accel_dps2": peak_accel, "move_starts_ns": starts}


def heading_at(msgs, t_ns: int):
    best = None
    for m in msgs:
        if m.t_ns <= t_ns:
            best = m
        else:
            break
    return best.heading_deg if best else None


def event_figures(speech: list[dict], motor_states, policy_states, run_end_ns: int) -> list[dict]:
    msgs = sorted(motor_states, key=lambda m: m.t_ns)
    pstates = sorted(policy_states, key=lambda m: m.t_ns)
    out = []
    for i, ev in enumerate(speech):
        window_end = speech[i + 1]["start_ns"] if i + 1 < len(speech) else run_end_ns
        end_ns, az = ev["end_ns"], ev["azimuth_deg"]
        after = [m for m in msgs if end_ns <= m.t_ns <= window_end]
        during = [m for m in msgs if ev["start_ns"] <= m.t_ns <= window_end]
        start = next((m.t_ns for m in during if m.moving), None)
        already = heading_at(msgs, ev["start_ns"])
        faced = next((m.t_ns for m in after if abs(wrap(m.heading_deg - az)) <= FACING_TOLERANCE_DEG
                      and not m.moving), None)
        final = after[-1].heading_deg if after else heading_at(msgs, window_end)
        moves = sum(1 for a, b in zip(msgs, msgs[1:])
                    if ev["start_ns"] <= b.t_ns <= window_end and b.moving and not a.moving)
        holds = sorted({h for p in pstates if ev["start_ns"] <= p.t_ns <= window_end for h in p.holds})
        out.append({
            "person": ev["person"], "text": ev["text"], "wake": ev["wake"],
            "talker_azimuth_deg": az, "talker_distance_m": ev["distance_m"],
            "utterance_s": [round(ev["start_s"], 3), round(ev["end_s"], 3)],
            "heading_before_deg": None if already is None else round(already, 2),
            "motion_start_after_end_s": None if start is None else round((start - end_ns) / 1e9, 3),
            "faced_after_end_s": None if faced is None else round(max(0, faced - end_ns) / 1e9, 3),
            "final_heading_deg": None if final is None else round(final, 2),
            "final_error_deg": None if final is None else round(abs(wrap(final - az)), 2),
            "moves": moves,
            "holds": holds,
        })
    return out


def pipeline_figures(ev: dict, timeline: dict) -> dict | None:
    """Where the time from the end of a wake word to motion start goes, stage by stage (seconds after the
    end of the utterance), each stamped where it happened, on the one monotonic clock: the wake event sent,
    ssl's estimate sent, the policy's move goal sent, the motor moving (the MCU's own capture time, mapped
    onto the host clock within 10 ms). None for a stage that did not happen."""
    if not ev["wake"]:
        return None

    def first(topic, pred, stamp):
        found = [stamp(m) for m in timeline.get(topic, []) if pred(m)]
        return min(found) if found else None

    # A real engine's event starts where it thinks the keyword began: the one whose span starts within half
    # a second of this utterance's start is its event. Each later stage must follow within WINDOW, or it
    # belongs to something else (a later utterance).
    window = 3_000_000_000
    wake = first("wake.event", lambda m: abs(m.start_ns - ev["start_ns"]) < 500_000_000, lambda m: m.t_ns)
    doa = wake and first("ssl.doa", lambda m: m.trigger == "wake" and wake <= m.sent_ns < wake + window,
                         lambda m: m.sent_ns)
    goal = doa and first("motor.goal", lambda m: m.mode == "move" and doa <= m.t_ns < doa + window, lambda m: m.t_ns)
    moving = goal and first("motor.state", lambda m: m.moving and goal - 10_000_000 <= m.t_ns < goal + window,
                            lambda m: m.t_ns)
    return {k: None if v is None else round((v - ev["end_ns"]) / 1e9, 4)
            for k, v in (("wake_event_s", wake), ("ssl_doa_s", doa), ("move_goal_s", goal), ("motion_s", moving))}


def move_spans(motor_states) -> list[tuple]:
    """(start message, end message) of every move seen in motor.state."""
    msgs = sorted(motor_states, key=lambda m: m.t_ns)
    spans, start = [], None
    for prev, m in zip(msgs, msgs[1:]):
        if m.moving and not prev.moving:
            start = prev
        elif prev.moving and not m.moving and start is not None:
            spans.append((start, m))
            start = None
    return spans


def unnecessary_moves(scenario, cfg, motor_states, t0: int) -> int:
    """Moves whose target, the person faced when the move ended, already stood in the dead zone when it began."""
    from ..policy.zones import edges
    from ..sim.scenario import person_at
    if not scenario.person or not t0:
        return 0
    count = 0
    for begin, end in move_spans(motor_states):
        t_begin, t_end = (begin.t_ns - t0) / 1e9, (end.t_ns - t0) / 1e9
        target = min(scenario.person,
                     key=lambda p: abs(wrap(person_at(p, t_end).azimuth_deg - end.heading_deg)))
        where = person_at(target, t_begin)
        if abs(wrap(begin.heading_deg - where.azimuth_deg)) <= edges(cfg.policy.zones, where.distance_m).dead_deg:
            count += 1
    return count


def decision_log(policy_states, t0: int) -> list[dict]:
    """Each change of what the policy decided and why (republications of the same state are skipped)."""
    out, last = [], None
    for p in sorted(policy_states, key=lambda m: m.t_ns):
        key = (p.mode, p.decision, p.reason, tuple(p.holds))
        if key != last:
            last = key
            out.append({"t_s": round((p.t_ns - t0) / 1e9, 3) if t0 else None, "mode": p.mode, "zone": p.zone,
                        "decision": p.decision, "reason": p.reason, "holds": list(p.holds),
                        "target_deg": p.target_deg})
    return out


def journal_records(timeline: dict, truth: dict, cpu=None) -> list[dict]:
    """The same per-wake-event records the device's journal keeps (device/diagnose/records.py), each with the
    faults the simulated world injected into that utterance (its "faults", [] when none)."""
    from ..diagnose.records import records_from_timeline
    records = records_from_timeline(timeline, cpu)
    for rec in records:
        spec = next((s for s in truth.get("speech", []) if abs(s["start_ns"] - rec["id"]) < 500_000_000), None)
        rec["faults"] = list(spec.get("faults", [])) if spec else []
    return records


def build_report(scenario, cfg, truth: dict, timeline: dict, exit_codes: dict, interrupted: bool,
                 dropped: dict, cpu=None) -> dict:
    motor_states = timeline.get("motor.state", [])
    policy_states = timeline.get("policy.state", [])
    doas = timeline.get("ssl.doa", [])
    speech = truth.get("speech", [])
    t0 = truth.get("t0_ns", 0)
    ends = [m.t_ns for m in motor_states] + [t0]
    run_end = max(ends)
    motion = motion_figures(motor_states)
    minutes = max((run_end - t0) / 60e9, 1e-9) if t0 else None
    unnecessary = unnecessary_moves(scenario, cfg, motor_states, t0)
    events = event_figures(speech, motor_states, policy_states, run_end)
    for ev, spec in zip(events, speech):
        ev["pipeline_after_end_s"] = pipeline_figures(spec, timeline)
    faced = [e["faced_after_end_s"] for e in events if e["faced_after_end_s"] is not None]
    return {
        "scenario": scenario.name,
        "scenario_file": scenario.path,
        "duration_s": round((run_end - t0) / 1e9, 2) if t0 else 0,
        "interrupted": interrupted,
        "events": events,
        "moves": motion["moves"],
        "moves_per_minute": round(motion["moves"] / minutes, 2) if minutes else None,
        "unnecessary_moves": unnecessary,
        "time_to_face_s": {"per_event": faced, "median": float(np.median(faced)) if faced else None},
        "peak_speed_dps": round(motion["peak_speed_dps"], 2),
        "peak_accel_dps2": round(motion["peak_accel_dps2"], 2),
        # Only once the scenario clock runs: before that, peers are still starting and holds are expected.
        "holds_seen": sorted({h for p in policy_states if p.t_ns >= t0 for h in p.holds}),
        "final_heading_deg": round(motor_states[-1].heading_deg, 2) if motor_states else None,
        "doa_estimates": [{"t_s": round((d.t_ns - t0) / 1e9, 3) if t0 else None,
                           "azimuth_device_deg": d.azimuth_deg, "heading_deg": d.heading_deg,
                           "confidence": round(d.confidence, 3), "ambiguous": d.ambiguous}
                          for d in doas],
        "decisions": decision_log(policy_states, t0),
        "alerts": [{"t_s": round((a.t_ns - t0) / 1e9, 3) if t0 else None, "bearing_deg": round(a.bearing_deg, 1),
                    "track_id": a.track_id, "kind": a.kind} for a in timeline.get("policy.alert", [])],
        "journal": journal_records(timeline, truth, cpu),
        "messages": {k: len(v) for k, v in timeline.items()},
        "dropped": dropped,
        "exit_codes": exit_codes,
        "turntable": truth.get("turntable", {}),
    }


def summary_lines(report: dict) -> list[str]:
    lines = [f"scenario: {report['scenario']}  ({report['duration_s']} s)",
             f"moves: {report['moves']}  peak speed {report['peak_speed_dps']} deg/s  "
             f"peak accel {report['peak_accel_dps2']} deg/s^2  unnecessary moves {report['unnecessary_moves']}"]
    for e in report["events"]:
        lines.append(f"  t={e['utterance_s'][0]:>6.1f}s person {e['person']} at {e['talker_azimuth_deg']:.0f} deg: "
                     f"motion start {e['motion_start_after_end_s']} s, faced {e['faced_after_end_s']} s, "
                     f"final error {e['final_error_deg']} deg, holds {e['holds'] or '-'}")
    if report.get("moves_per_minute") is not None:
        faced = report["time_to_face_s"]["median"]
        lines.append(f"moves per minute: {report['moves_per_minute']}  median time to face: "
                     f"{'-' if faced is None else f'{faced:.2f} s'}")
    if report.get("alerts"):
        lines.append("away-mode alerts: " + ", ".join(f"t={a['t_s']} s at {a['bearing_deg']} deg" for a in report["alerts"]))
    if report.get("holds_seen"):
        lines.append(f"rules that held the device still: {', '.join(report['holds_seen'])}")
    return lines
