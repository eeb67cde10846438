"""Fit the pipeline's invertible SCM on normal history, score outliers, attribute them, compare periods."""
from __future__ import annotations

import logging
import warnings

import numpy as np

from ..errors import UserError
from .graph import NODES, ROOT_CAUSE_NODES, STAGE_NODES, TARGET, WORDS, digraph, own_delays, row

MIN_HISTORY = 10                 # events that moved: fewer cannot fit the mechanisms (at most 4 parents each)
OUTLIER_SCORE = 3.0              # IT score of the target (-log tail probability): 3 ~ 1 in 20 events


def _quiet():
    from dowhy.gcm import config
    config.disable_progress_bars()
    config.default_n_jobs = 1            # worker processes cost more than the work on a Pi (and on 2 cores)
    for name in ("dowhy", "dowhy.gcm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def frame(records: list[dict]):
    import pandas as pd
    rows = [(rec["id"], r) for rec in records if (r := row(rec)) is not None]
    df = pd.DataFrame([r for _, r in rows], columns=list(NODES))
    df.index = [i for i, _ in rows]
    return df


class StageSum:
    """A stage's mechanism: its predecessor stage's time (coefficient 1, by the pipeline's structure: a stage
    starts when the one before it ends) plus a least-squares line in its other parents (the CPU, vision's
    frame rate...). Learning the predecessor's coefficient instead would be wild when the predecessor barely
    varies in the history, and would then blame the wrong stage. Plain numpy: scikit-learn's per-call input
    checks dominate an attribution (hundreds of predictions of a few hundred rows)."""

    def __init__(self, unit_column: int | None):
        self.unit = unit_column
        self.coef = None

    def _split(self, X):
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        if self.unit is None:
            return np.zeros(len(X)), X
        return X[:, self.unit], np.delete(X, self.unit, axis=1)

    def fit(self, X, Y) -> None:
        base, rest = self._split(X)
        A = np.column_stack([rest, np.ones(len(rest))])
        self.coef, *_ = np.linalg.lstsq(A, np.asarray(Y, dtype=float).reshape(-1) - base, rcond=None)

    def predict(self, X):
        base, rest = self._split(X)
        return (base + rest @ self.coef[:-1] + self.coef[-1]).reshape(-1, 1)

    def clone(self):
        return StageSum(self.unit)


def _scorer_base():
    from dowhy.gcm.anomaly_scorer import AnomalyScorer
    return AnomalyScorer


class LatenessScorer(_scorer_base()):
    """g(x) = x - median: how much later than usual, signed (turning early is no fault), and unbounded, so a
    1.5 s fault weighs a hundred times a 15 ms one instead of both saturating a tail probability."""

    def __init__(self):
        self.median = 0.0

    def fit(self, X) -> None:
        self.median = float(np.median(np.asarray(X, dtype=float)))

    def score(self, X):
        return np.asarray(X, dtype=float).reshape(-1) - self.median


class PipelineModel:
    """The SCM: linear additive-noise mechanisms on the stage nodes (a stage's time is its parent's plus its
    own delay, which depends on the CPU), empirical distributions on the roots."""

    def __init__(self, seed: int = 0):
        from dowhy import gcm
        from dowhy.graph import get_ordered_predecessors
        _quiet()
        self.gcm = gcm
        self.seed = seed
        self.scm = gcm.InvertibleStructuralCausalModel(digraph())
        g = self.scm.graph
        for node in NODES:
            if g.in_degree(node) == 0:
                self.scm.set_causal_mechanism(node, gcm.EmpiricalDistribution())
                continue
            parents = get_ordered_predecessors(g, node)      # the column order gcm hands the mechanism
            stage = next((i for i, p in enumerate(parents) if p in STAGE_NODES), None)
            self.scm.set_causal_mechanism(node, gcm.AdditiveNoiseModel(StageSum(stage)))
        self.history = None

    def fit(self, history) -> "PipelineModel":
        if len(history) < MIN_HISTORY:
            raise UserError(f"history too short to fit: {len(history)} wake event(s) that moved the screen, "
                            f"need at least {MIN_HISTORY}")
        self.gcm.util.general.set_random_seed(self.seed)
        self.gcm.fit(self.scm, history)
        self.history = history
        self.normal_lateness = np.sort(history[TARGET].to_numpy())
        return self

    def outlier_scores(self, df, in_history=None) -> np.ndarray:
        """IT outlier score of each event's lateness: -log of the share of normal events at least as late
        (one-sided: turning early is no fault). n normal events can score at most log(n + 1). `in_history`:
        a 0/1 mask of the rows that are themselves in the fitted history."""
        late = self.normal_lateness
        at_least = len(late) - np.searchsorted(late, df[TARGET].to_numpy(), side="left")
        n = np.full(len(df), len(late))
        if in_history is not None:             # an event of the history is judged against the others only
            at_least = at_least - in_history
            n = n - in_history
        return -np.log((at_least + 1) / (n + 1))

    def attribute(self, df_one) -> dict:
        """Each node's part of one event's lateness: Shapley contributions (gcm.attribute_anomalies over the
        nodes' reconstructed noise) to how much later than usual the screen began to turn, in seconds; they sum
        to the event's lateness minus the usual lateness.

        Why lateness and not the IT score here: the IT set function asks how likely the *exact* observed lateness
        is reached, so with a short history a stage whose own delay merely sat at the top of its usual range got
        a large share of a 1.5 s wake-engine fault (it was "needed" for the last 10 ms), and a real run's
        diagnosis named the motor. Seconds of lateness add up along the pipeline; the IT score still decides
        which events are outliers (`outlier_scores`)."""
        self.gcm.util.general.set_random_seed(self.seed)
        contrib = self.gcm.attribute_anomalies(self.scm, TARGET, anomaly_samples=df_one,
                                               anomaly_scorer=LatenessScorer(), attribute_mean_deviation=True,
                                               num_distribution_samples=500)
        return {n: float(np.asarray(contrib[n])[0]) for n in ROOT_CAUSE_NODES if n in contrib}

    def distribution_change(self, old, new) -> dict:
        """How much each node's mechanism change moved the mean lateness between two periods (seconds)."""
        self.gcm.util.general.set_random_seed(self.seed)
        change = self.gcm.distribution_change(self.scm, old, new, TARGET, num_samples=1000,
                                              difference_estimation_func=lambda a, b: float(np.mean(b) - np.mean(a)))
        return {n: float(v) for n, v in change.items()}


def naive_rank(history, one: dict) -> list[str]:
    """The baseline: nodes ordered by the |z-score| of their own value (a stage's own delay) against history."""
    own = [own_delays(r) for r in history.to_dict("records")]
    mine = own_delays(one)
    z = {}
    for n in ROOT_CAUSE_NODES:
        vals = np.array([o[n] for o in own])
        sd = vals.std() or 1e-9
        z[n] = abs(mine[n] - vals.mean()) / sd
    return sorted(z, key=lambda n: -z[n])


def normal_history(df):
    """The events to learn 'normal' from: drop the clearly late ones (beyond median + 6 MAD of lateness)."""
    t = df[TARGET]
    mad = float(np.median(np.abs(t - t.median()))) or 1e-3
    return df[t <= t.median() + 6 * 1.4826 * mad]


def explain(shares: dict, record: dict, history) -> str:
    """The root cause in words: the largest share, and the CPU (with who used it) when it fed that stage."""
    total = sum(max(v, 0.0) for v in shares.values()) or 1.0
    ranked = sorted(shares, key=lambda n: -shares[n])
    top = ranked[0]
    med = {n: float(np.median([own_delays(r)[n] for r in history.to_dict("records")])) for n in ROOT_CAUSE_NODES}
    mine = own_delays(row(record))
    cpu_words = _cpu_words(record)
    if top == "cpu_load":
        return f"the whole pipeline was slow because the CPU was saturated{cpu_words}"
    if top in ("wake", "ssl", "policy", "motor"):
        what = f"{WORDS[top]} was slow ({mine[top]:.2f} s, usually {med[top]:.2f} s)"
        cpu_share = max(shares.get("cpu_load", 0.0), 0.0) / total
        if cpu_share >= 0.25:
            return f"{what} because the CPU was saturated{cpu_words}"
        if top == "motor" and shares.get("link_retries", 0) > 0.25 * total:
            return f"{what} because the serial line needed retransmissions"
        return what
    if top == "link_retries":
        return f"the motor started late because the serial line to the MCU needed {mine[top]:.0f} retransmission(s)"
    if top == "vision_fps":
        return f"the policy was slow while vision ran at {mine[top]:.1f} frames/s (usually {med[top]:.1f})"
    return f"the policy waited because ssl heard the direction unclearly (confidence {mine[top]:.2f}, usually {med[top]:.2f})"


def _cpu_words(record: dict) -> str:
    cpu = record.get("cpu") or {}
    host, services = cpu.get("host"), cpu.get("services") or {}
    if host is None:
        return ""
    ncpu_busy = sum(services.values())
    top = max(services, key=services.get) if services else None
    import os
    share_outside = host * (os.cpu_count() or 1) - ncpu_busy
    if top and services[top] >= share_outside:
        return f" by {top} ({services[top] * 100:.0f} % of a core; host {host * 100:.0f} % busy)"
    return f" by a process outside Swivel (host {host * 100:.0f} % busy)"
