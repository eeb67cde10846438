"""Configuration of the health service (the [health] table of swivel.toml): reference file, auto sweep, pooling, thresholds."""
from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

Positive = Annotated[float, Meta(gt=0)]

# Per kind, the pooled statistic at which "needs attention" is raised: set by tools/bench/bench_health.py from
# healthy runs only, at a budget of 1 false alarm per 1,000 routine moves (BENCHMARKS.md "Turntable health").
# Units: degrees, slip in percent of the travel.
DEFAULT_THRESHOLDS = {"slip": 0.2268, "snag": 0.075, "friction": 0.05, "sensor_offset": 0.1, "backlash": 0.197,
                      "sensor_noise": 0.1}


class HealthConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reference_file: str = ""             # "" = $STATE_DIRECTORY, $XDG_STATE_HOME/swivel or /var/lib/swivel
    auto_sweep: bool = True              # record the reference by itself when there is none (not in `swivel run`)
    auto_sweep_delay_s: Positive = 10.0  # after the motor is homed and the policy is up
    pool: Annotated[int, Meta(ge=3, le=64)] = 8          # routine moves pooled per decision
    clear_ratio: Annotated[float, Meta(gt=0, lt=1)] = 0.5   # below this share of every threshold, attention ends
    worse_ratio: Annotated[float, Meta(gt=1)] = 1.5      # an acknowledged fault this much further past raises again
    thresholds: dict[str, Positive] = msgspec.field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    state_rate_hz: Positive = 2.0

    def __post_init__(self):
        from .detector import KINDS
        unknown = sorted(set(self.thresholds) - set(KINDS))
        if unknown:
            raise ValueError(f"thresholds: unknown kind {', '.join(unknown)}; known: {', '.join(KINDS)}")
        self.thresholds = {**DEFAULT_THRESHOLDS, **self.thresholds}
