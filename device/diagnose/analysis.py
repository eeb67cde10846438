"""What `swivel diagnose` reports: outlier events with their root causes, and changes between two periods."""
from __future__ import annotations

import time


import numpy as np

from ..errors import UserError
from .graph import TARGET, WORDS
from .model import MIN_HISTORY, OUTLIER_SCORE, PipelineModel, explain, frame, naive_rank, normal_history

MAX_LISTED = 5


def _find(records: list[dict], event: str) -> dict:
    try:
        n = int(event)
    except ValueError:
        raise UserError(f"--event {event}: give an event id or an index (-1 = the last)") from None
    for r in records:
        if r["id"] == n:
            return r
    if -len(records) <= n < len(records):
        return records[n]
    raise UserError(f"--event {event}: no such event ({len(records)} in the journal; ids are in --json output)")


def _why_not(rec: dict) -> str:
    pol = rec.get("policy") or {}
    if rec["outcome"] == "no_estimate":
        return "ssl sent no direction for it"
    if rec["outcome"] == "held":
        holds = ", ".join(pol.get("holds") or [])
        return f"the policy did not turn: {pol.get('decision') or '-'} ({pol.get('reason') or holds or 'no reason given'})"
    return "a goal was sent but the turntable never started moving"


def diagnose(records: list[dict], event: str | None = None) -> dict:
    df = frame(records)
    if len(df) < MIN_HISTORY:
        raise UserError(f"history too short to fit: {len(df)} wake event(s) that moved the screen (with every "
                        f"stage timed), need at least {MIN_HISTORY}")
    chosen = _find(records, event) if event is not None else None
    if chosen is not None and chosen["id"] not in df.index:
        return {"events": len(records), "outliers": [],
                "not_moved": [{"id": chosen["id"], "outcome": chosen["outcome"], "why": _why_not(chosen)}]}
    history = normal_history(df.drop(index=[chosen["id"]]) if chosen is not None else df)
    if len(history) < MIN_HISTORY:
        raise UserError(f"history too short to fit: {len(history)} normal wake event(s) that moved the screen, "
                        f"need at least {MIN_HISTORY}")
    t0 = time.perf_counter()
    model = PipelineModel().fit(history)
    fit_s = time.perf_counter() - t0
    scores = dict(zip(df.index, model.outlier_scores(df, df.index.isin(history.index).astype(int))))
    if chosen is not None:
        ids = [chosen["id"]]
    else:
        # n normal events can score at most log(n + 1): a short history lowers the bar to just below that.
        bar = min(OUTLIER_SCORE, 0.9 * float(np.log(len(history) + 1)))
        ids = [i for i in sorted(scores, key=lambda i: -scores[i]) if scores[i] >= bar][:MAX_LISTED]
    by_id = {r["id"]: r for r in records}
    outliers = []
    for i in ids:
        t1 = time.perf_counter()
        shares = model.attribute(df.loc[[i]])
        total = sum(abs(v) for v in shares.values()) or 1.0
        ranked = sorted(shares, key=lambda n: -shares[n])
        rec = by_id[i]
        outliers.append({
            "id": int(i), "wall": rec.get("wall"), "score": round(float(scores[i]), 2),
            "total_s": rec.get("total_s"), "stages_s": rec.get("stages_s"),
            "usual_total_s": round(float(history[TARGET].median()), 3),
            "root_causes": [{"node": n, "what": WORDS[n], "share": round(shares[n] / total, 3)}
                            for n in ranked if shares[n] > 0][:3],
            "explanation": explain(shares, rec, history),
            "naive_first": naive_rank(history, df.loc[i].to_dict())[0],
            "faults": rec.get("faults", []),
            "diagnosis_s": round(time.perf_counter() - t1, 3)})
    not_moved = [{"id": r["id"], "outcome": r["outcome"], "why": _why_not(r)}
                 for r in records if r.get("outcome") != "moved" and chosen is None][-MAX_LISTED:]
    return {"events": len(records), "fitted_on": len(history), "fit_s": round(fit_s, 3),
            "outlier_threshold": OUTLIER_SCORE if chosen is not None else round(bar, 2),
            "scores": {str(k): round(float(v), 2) for k, v in scores.items()},
            "outliers": outliers, "not_moved": not_moved}


def compare(old_records: list[dict], new_records: list[dict]) -> dict:
    old, new = frame(old_records), frame(new_records)
    for name, d in (("the earlier period", old), ("the later period", new)):
        if len(d) < MIN_HISTORY:
            raise UserError(f"history too short to fit: {name} has {len(d)} wake event(s) that moved the screen, "
                            f"need at least {MIN_HISTORY}")
    model = PipelineModel().fit(old)
    change = model.distribution_change(old, new)
    ranked = sorted(change, key=lambda n: -abs(change[n]))
    return {"old_events": len(old), "new_events": len(new),
            "old_median_s": round(float(old[TARGET].median()), 3), "new_median_s": round(float(new[TARGET].median()), 3),
            "old_mean_s": round(float(old[TARGET].mean()), 3), "new_mean_s": round(float(new[TARGET].mean()), 3),
            "changes": [{"node": n, "what": WORDS[n], "mean_change_s": round(change[n], 3)} for n in ranked]}


def lines(out: dict) -> list[str]:
    if "changes" in out:
        res = [f"time to start turning: mean {out['old_mean_s']} s -> {out['new_mean_s']} s "
               f"({out['old_events']} -> {out['new_events']} events)"]
        big = [c for c in out["changes"] if abs(c["mean_change_s"]) >= 0.01]
        if not big:
            res.append("no stage changed by 10 ms or more")
        for c in big[:4]:
            verb = "slower" if c["mean_change_s"] > 0 else "faster"
            res.append(f"  {c['what']}: {abs(c['mean_change_s']):.3f} s {verb} on average")
        return res
    res = []
    if "fitted_on" in out:
        res.append(f"{out['events']} wake events; model fitted on {out['fitted_on']} normal ones")
    if not out["outliers"]:
        res.append("no late turns: every event that moved the screen was within the usual range")
    for o in out["outliers"]:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(o["wall"])) if o.get("wall") else "?"
        res.append(f"event {o['id']} at {when}: started turning {o['total_s']} s after the wake word "
                   f"(usually {o['usual_total_s']} s), outlier score {o['score']}")
        res.append(f"  {o['explanation']}")
        res.append("  root causes: " + ", ".join(f"{c['what']} {c['share'] * 100:.0f} %" for c in o["root_causes"]))
    for n in out.get("not_moved", []):
        res.append(f"event {n['id']}: did not turn: {n['why']}")
    return res


