"""The "needs attention" state: raised by the detector, acknowledged by the owner, raised again by a new or worse fault."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .detector import Verdict


@dataclass
class Attention:
    clear_ratio: float = 0.5          # every statistic below this share of its threshold: the problem went away
    worse_ratio: float = 1.5          # an acknowledged fault this much further past its threshold is news again
    raised: bool = False
    kind: str = ""
    angle_deg: Optional[float] = None
    acknowledged: bool = False
    ack_kinds: set[str] = field(default_factory=set)
    ack_worst: float = 0.0
    raises: int = 0                   # times it went from quiet (or acknowledged) to needing attention

    @property
    def gentle(self) -> bool:
        """The one action: move gently while it needs attention and nobody said they saw it."""
        return self.raised and not self.acknowledged

    def update(self, v: Verdict) -> bool:
        """After a move's verdict; True when this verdict raised it (again)."""
        if v.kind is None:
            if self.raised and v.worst < self.clear_ratio:
                self.reset()
            return False
        news = not self.raised or (self.acknowledged and (v.kind not in self.ack_kinds
                                                          or v.worst > self.ack_worst * self.worse_ratio))
        self.raised, self.kind, self.angle_deg = True, v.kind, v.angle_deg
        if news:
            self.acknowledged = False
            self.raises += 1
        return news

    def acknowledge(self, worst: float) -> bool:
        """The owner saw it; False when there was nothing to acknowledge."""
        if not self.raised:
            return False
        self.acknowledged = True
        self.ack_kinds.add(self.kind)
        self.ack_worst = max(self.ack_worst, worst)
        return True

    def reset(self) -> None:
        """A new reference (or the fault went away): nothing is raised or acknowledged."""
        self.raised, self.kind, self.angle_deg, self.acknowledged = False, "", None, False
        self.ack_kinds, self.ack_worst = set(), 0.0
