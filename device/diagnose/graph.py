"""The pipeline as a causal graph, written once: each node is a measured quantity of one wake event.

Times are cumulative (seconds after the end of the utterance, as the engine saw it), so each stage's node is
its parent stage plus its own delay: the additive noise of a node *is* that stage's own slowness, and an
invertible SCM can hand each event's lateness back to the stage (or the CPU) that caused it.

  cpu_load ──► wake ──► ssl ──► policy ──► motor        (capture is inside wake: the engine's own clock)
     │  └───────────────┘ ▲       ▲  ▲       ▲
     └──► vision_fps ─────┼───────┘  │       └── link_retries (the serial line)
                          └ ssl_confidence ──┘
"""
from __future__ import annotations

import math

NODES = ("cpu_load", "vision_fps", "ssl_confidence", "link_retries", "wake", "ssl", "policy", "motor")
EDGES = (("cpu_load", "wake"), ("cpu_load", "ssl"), ("cpu_load", "policy"), ("cpu_load", "vision_fps"),
         ("wake", "ssl"), ("ssl", "policy"), ("vision_fps", "policy"), ("ssl_confidence", "policy"),
         ("policy", "motor"), ("link_retries", "motor"))
STAGE_NODES = ("wake", "ssl", "policy", "motor")   # cumulative times: each is its predecessor plus its own delay
TARGET = "motor"                 # when the screen began to turn: what a user calls late
ROOT_CAUSE_NODES = ("cpu_load", "vision_fps", "ssl_confidence", "link_retries", "wake", "ssl", "policy", "motor")

# What each node means to a user, for the sentences `swivel diagnose` writes.
WORDS = {"cpu_load": "the CPU", "vision_fps": "vision (camera frame rate)", "ssl_confidence": "the sound "
         "(how clearly ssl heard the direction)", "link_retries": "the serial line to the motor controller",
         "wake": "the wake-word engine", "ssl": "sound localization (ssl)", "policy": "the policy",
         "motor": "the motor (goal to motion)"}


def digraph():
    import networkx as nx
    g = nx.DiGraph()
    g.add_nodes_from(NODES)
    g.add_edges_from(EDGES)
    return g


def row(record: dict) -> dict | None:
    """The model's variables of one journal record, or None when the event is incomplete (no motion)."""
    st = record.get("stages_s") or {}
    if record.get("outcome") != "moved" or any(st.get(k) is None for k in ("wake", "ssl", "policy", "motor")):
        return None
    cpu = (record.get("cpu") or {}).get("host")
    vis = record.get("vision") or {}
    ssl = record.get("ssl") or {}
    motor = record.get("motor") or {}
    wake = st["wake"]
    values = {"cpu_load": cpu if cpu is not None else math.nan, "vision_fps": vis.get("fps", math.nan),
              "ssl_confidence": ssl.get("confidence", math.nan),
              "link_retries": float((motor.get("retransmits") or 0) + (motor.get("timeouts") or 0)),
              "wake": wake, "ssl": wake + st["ssl"], "policy": wake + st["ssl"] + st["policy"],
              "motor": wake + st["ssl"] + st["policy"] + st["motor"]}
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values.values()):
        return None
    return {k: float(v) for k, v in values.items()}


def own_delays(r: dict) -> dict:
    """Each node's own share, the naive view: a stage's own delay (not cumulative), the root values as they are
    (a low frame rate or confidence counts as unusual just as a high one)."""
    return {"cpu_load": r["cpu_load"], "vision_fps": r["vision_fps"], "ssl_confidence": r["ssl_confidence"],
            "link_retries": r["link_retries"], "wake": r["wake"], "ssl": r["ssl"] - r["wake"],
            "policy": r["policy"] - r["ssl"], "motor": r["motor"] - r["policy"]}
