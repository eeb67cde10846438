"""Fit the pipeline's invertible SCM on normal history, score outliers, attribute them, compare periods."""
from __future__ import annotations

import logging
import warnings

import numpy as np

from ..errors import UserError
from .graph import NODES, ROOT_CAUSE_NODES, TARGET, WORDS, digraph, own_delays, row

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


class LeastSquares:
    """A linear mechanism by least squares in numpy: the same fit as scikit-learn's, without its per-call input
    checks, which dominate an attribution (hundreds of predictions of a few hundred rows each)."""

    def __init__(self):
        self.coef = None

    def fit(self, X, Y) -> None:
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        A = np.column_stack([X, np.ones(len(X))])
        self.coef, *_ = np.linalg.lstsq(A, np.asarray(Y, dtype=float).reshape(-1), rcond=None)

    def predict(self, X):
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        return (X @ self.coef[:-1] + self.coef[-1]).reshape(-1, 1)

    def clone(self):
        return LeastSquares()


class PipelineModel:
    """The SCM: linear additive-noise mechanisms on the stage nodes (a stage's time is its parent's plus its
    own delay, which depends on the CPU), empirical distributions on the roots."""

    def __init__(self, seed: int = 0):
        from dowhy import gcm
        _quiet()
        self.gcm = gcm
        self.seed = seed
        self.scm = gcm.InvertibleStructuralCausalModel(digraph())
        g = self.scm.graph
        for node in NODES:
            if g.in_degree(node) == 0:
                self.scm.set_causal_mechanism(node, gcm.EmpiricalDistribution())
            else:
                self.scm.set_causal_mechanism(node, gcm.AdditiveNoiseModel(LeastSquares()))
        self.history = None

    def fit(self, history) -> "PipelineModel":
        if len(history) < MIN_HISTORY:
            raise UserError(f"history too short to fit: {len(history)} wake event(s) that moved the screen, "
                            f"need at least {MIN_HISTORY}")
        self.gcm.util.general.set_random_seed(self.seed)
        self.gcm.fit(self.scm, history)
        self.history = history
        from dowhy.gcm.anomaly_scorers import MedianCDFQuantileScorer, ITAnomalyScorer
        self.scorer = ITAnomalyScorer(MedianCDFQuantileScorer())
        self.scorer.fit(history[TARGET].to_numpy())
        return self

    def outlier_scores(self, df) -> np.ndarray:
        """IT outlier score of each event's lateness (-log of how rarely normal events are this extreme)."""
        return self.scorer.score(df[TARGET].to_numpy())

    def attribute(self, df_one) -> dict:
        """Each node's share of one event's outlier score (Shapley contributions, summing to the score)."""
        self.gcm.util.general.set_random_seed(self.seed)
        contrib = self.gcm.attribute_anomalies(self.scm, TARGET, anomaly_samples=df_one,
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
