"""Dynamic frame rate: slow when nobody is around and the policy is idle, fast while tracking or after a wake."""
from __future__ import annotations


class FrameRate:
    """Decides the frame rate from what vision sees and what the rest of the device is doing."""

    def __init__(self, idle_fps: float = 2.0, active_fps: float = 15.0, wake_boost_s: float = 8.0,
                 linger_s: float = 5.0):
        self.idle_fps, self.active_fps = idle_fps, active_fps
        self.wake_boost_ns, self.linger_ns = int(wake_boost_s * 1e9), int(linger_s * 1e9)
        self._wake_ns = None
        self._person_ns = None
        self.policy_mode = "idle"
        self.turning = False            # the turntable is moving (an away-mode pan looks for people)

    def on_wake(self, t_ns: int) -> None:
        self._wake_ns = t_ns

    def on_people(self, t_ns: int, count: int) -> None:
        if count:
            self._person_ns = t_ns

    def fps(self, now_ns: int) -> float:
        recent = lambda since, span: since is not None and now_ns - since <= span   # noqa: E731
        busy = (recent(self._wake_ns, self.wake_boost_ns) or recent(self._person_ns, self.linger_ns)
                or self.policy_mode not in ("idle", "", "away") or (self.policy_mode == "away" and self.turning))
        return self.active_fps if busy else self.idle_fps
