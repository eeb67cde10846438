"""The vision service: camera frames in, `vision.people` out (landmarks and numbers, never pixels)."""
from __future__ import annotations

import bisect
import logging
import time
from collections import deque
from typing import Optional

from ..bus import schemas as s
from ..errors import UserError
from ..runtime.service import Service
from .camera_model import CameraModel, wrap_deg
from .rate import FrameRate
from .tracker import Tracker

TICK_S = 0.005                   # how often the loop checks whether the next frame is due
HEADING_HISTORY = 200            # motor.state samples kept to look up the heading at capture time
PUBLISH_UNSEEN_NS = 300_000_000  # a confirmed person unseen this long is no longer published (id kept)


class VisionService(Service):
    name = "vision"

    def setup(self) -> None:
        vc = self.cfg.vision
        from ..hw.gpio import SimSwitches, use_pin_factory
        from .detector import Detector
        from .pipeline import FramePipeline
        from .quiet import native_stderr_silenced
        from .shutter import ShutterSwitch
        use_pin_factory(self.cfg.gpio.backend)
        self.model = CameraModel.from_config(vc)
        with native_stderr_silenced():
            self.detector = Detector(min_face_score=vc.min_face_score)
            self.detector.warm_up()
        self.pipeline = FramePipeline(self.detector, self.model, pose_every=vc.pose_every)
        self.tracker = Tracker(confirm_hits=vc.confirm_hits, confirm_span_s=vc.confirm_span_s,
                               max_missed_s=vc.max_missed_s, motion_spans=vc.motion_spans,
                               motion_spans_mesh=vc.motion_spans_mesh,
                               static_hold_s=vc.static_hold_s,
                               gate_deg=vc.gate_deg, fast_turn_dps=vc.fast_turn_dps)
        self.rate = FrameRate(vc.idle_fps, vc.active_fps, vc.wake_boost_s, vc.linger_s)
        self.shutter = ShutterSwitch(vc.shutter_pin, vc.shutter_active_low)
        self.headings: deque[tuple[int, float, float]] = deque(maxlen=HEADING_HISTORY)
        self.world: Optional[s.SimWorld] = None
        self.camera = None
        self.camera_error = ""
        self._switches = None
        if vc.camera_backend == "sim":
            if self.cfg.gpio.backend == "mock" and vc.shutter_pin is not None:
                self._switches = SimSwitches({"shutter_closed": (vc.shutter_pin, vc.shutter_active_low)})
            self.on("world", "sim.world", self._on_world)
        self.on("motor", "motor.state", self._on_motor)
        self.on("policy", "policy.state", self._on_policy)
        self.on("wake", "wake.event", lambda m: self.rate.on_wake(time.monotonic_ns()))
        self._open_camera()
        self._next_frame = 0.0
        self._last_heading: Optional[float] = None
        self.frames = 0
        self.loop.every(TICK_S, self._tick)

    # -- inputs ---------------------------------------------------------------------------------------
    def _on_world(self, msg: s.SimWorld) -> None:
        self.world = msg
        if self._switches is not None:
            self._switches.apply(msg)

    def _on_motor(self, msg: s.MotorState) -> None:
        self.headings.append((msg.t_ns, msg.heading_deg, msg.velocity_dps))
        self.rate.turning = msg.moving

    def _on_policy(self, msg: s.PolicyState) -> None:
        self.rate.policy_mode = msg.mode

    def heading_at(self, t_ns: int) -> tuple[Optional[float], float]:
        """(heading, turn rate) at a capture time, interpolated between motor.state samples."""
        if not self.headings:
            return None, 0.0
        times = [h[0] for h in self.headings]
        i = bisect.bisect_left(times, t_ns)
        if i == 0:
            return self.headings[0][1], self.headings[0][2]
        if i >= len(times):
            return self.headings[-1][1], self.headings[-1][2]
        (t0, h0, v0), (t1, h1, v1) = self.headings[i - 1], self.headings[i]
        f = (t_ns - t0) / max(1, t1 - t0)
        return wrap_deg(h0 + f * wrap_deg(h1 - h0)), v0 + f * (v1 - v0)

    def _open_camera(self) -> None:
        vc = self.cfg.vision
        from ..hw.camera import CameraUnavailable, OpenCVCamera, SimCamera
        if vc.camera_backend == "sim":
            self.camera = SimCamera(lambda: self.world, vc.width, vc.height, model=self.model)
            return
        try:
            self.camera = OpenCVCamera(vc.device, vc.width, vc.height, retry_s=vc.camera_retry_s)
        except CameraUnavailable as exc:
            # Not fatal: the device stays useful by sound; the camera is tried again every retry_s.
            self.camera_error = str(exc)
            self.event("camera unavailable", logging.WARNING, detail=str(exc))

    # -- frames ---------------------------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        if now < self._next_frame:
            return
        fps = self.rate.fps(time.monotonic_ns())
        self._next_frame = now + 1.0 / fps
        if self.shutter.closed:
            # Closed shutter: the camera is released (a real one stops streaming into its driver
            # buffers) and not read; it is opened again on the first frame after the shutter opens.
            if self.camera is not None:
                self.camera.close()
            self.tracker.clear()
            self._publish_blind("shutter closed")
            self._next_frame = now + 1.0 / self.rate.idle_fps
            return
        from ..hw.camera import CameraUnavailable
        try:
            if self.camera is None:
                self._open_camera()
                if self.camera is None:
                    raise CameraUnavailable(self.camera_error)
            t_ns, frame = self.camera.read()
        except CameraUnavailable as exc:
            if not self.camera_error:                     # log the change, not every retry
                self.event("camera unavailable", logging.WARNING, detail=str(exc))
            self.camera_error = str(exc)
            self.tracker.clear()
            self._publish_blind("camera unavailable")
            self._next_frame = now + 1.0 / self.rate.idle_fps
            return
        if self.camera_error:
            self.event("camera delivering again")
            self.camera_error = ""
        self._process(t_ns, frame, fps)

    def _process(self, t_ns: int, frame, fps: float) -> None:
        heading, turn_dps = self.heading_at(t_ns)
        h = heading if heading is not None else 0.0
        change = 0.0 if self._last_heading is None else wrap_deg(h - self._last_heading)
        self._last_heading = h
        followed = self.tracker.followed_faces(t_ns, self.pipeline.model.px_per_deg)
        seen = self.pipeline.process(frame, followed, heading_change_deg=change)
        del frame                                             # already overwritten by the pipeline
        tracks = self.tracker.update(t_ns, seen, h, turn_dps)
        current = [t for t in tracks if t_ns - t.last_ns <= PUBLISH_UNSEEN_NS]
        self.rate.on_people(t_ns, len(current))
        self.frames += 1
        people = [s.Person(track_id=t.track_id, bearing_deg=round(wrap_deg(t.world_az_deg - h), 3),
                           elevation_deg=round(t.elevation_deg, 3),
                           distance_m=round(t.distance_m, 3) if t.distance_m == t.distance_m else -1.0,
                           engagement=round(min(1.0, max(0.0, t.engagement)), 3),
                           confidence=round(t.confidence, 3), static=self.tracker.is_static(t, t_ns),
                           landmarks=[s.Landmark(round(x, 4), round(y, 4)) for x, y in t.landmarks[:64]])
                  for t in sorted(current, key=lambda t: -t.confidence)[: min(16, self.cfg.vision.max_people)]]
        self.pub.publish("vision.people", s.People(t_ns=t_ns, heading_deg=heading, fps=fps, people=people))
        self.pub.hb_detail = f"{self.pipeline.timings_ms.get('total', 0.0):.1f} ms/frame"

    def _publish_blind(self, reason: str) -> None:
        self.pub.publish("vision.people", s.People(t_ns=time.monotonic_ns(), blind=True, blind_reason=reason,
                                                   fps=0.0, heading_deg=self.heading_at(time.monotonic_ns())[0]))

    def teardown(self) -> None:
        for part in ("camera", "shutter", "detector"):
            obj = getattr(self, part, None)
            if obj is not None:
                obj.close()


def main(cfg) -> int:
    if cfg.vision.width < 64 or cfg.vision.height < 64:
        raise UserError(f"vision.width and vision.height must be at least 64 pixels, got "
                        f"{cfg.vision.width}x{cfg.vision.height}")
    return VisionService(cfg).run()
