"""Vision benchmark: precision/recall by distance, bearing error, engagement and per-stage time at 640x480."""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from device.sim.camera_render import CAMERA_HEIGHT_M, EYE_BELOW_TOP, render_frame   # noqa: E402
from device.vision.camera_model import CameraModel, wrap_deg                          # noqa: E402
from device.vision.detector import Detector, zoom_regions                             # noqa: E402
from device.vision.people import estimate                                             # noqa: E402
from device.vision.pipeline import FramePipeline                                      # noqa: E402
from device.vision.quiet import native_stderr_silenced                                # noqa: E402
from device.vision.tracker import Tracker                                             # noqa: E402
from tools.bench.benchmarks_md import write_section                                   # noqa: E402

W, H, HFOV = 640, 480, 66.0
BANDS = [(0.5, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 3.5)]
CONDITIONS = ["clean", "dim", "bright", "blur", "motion blur", "occluded"]
PHOTOS = ["astronaut", "hopper", "cameraman", "astronaut_mirror", "hopper_mirror", "cameraman_mirror"]
MATCH_MIN_DEG, MATCH_HEAD_M = 3.0, 0.12   # a match lies within 12 cm of the head (at least 3 deg)
FACINGS = [0, 0, 0, 0, 15, 45, 60, 180]   # head yaw of a person; 180 = back to the camera
STREAM_FRAMES = 20           # 1.3 s at the active rate: detector schedules and two pose runs


@dataclass
class Truth:
    bearing: float
    elevation: float
    distance: float
    photo: str
    facing: float             # head yaw away from the camera (deg); beyond 90 the back is seen

    @property
    def band(self):
        return next(b for b in BANDS if b[0] <= self.distance <= b[1])

    @property
    def back(self) -> bool:
        return abs(self.facing) > 90

    @property
    def engaged(self) -> bool:
        # The cameraman's own head is turned about 50 degrees (his eye is at the viewfinder).
        return abs(self.facing) <= 30 and not self.photo.startswith("cameraman")

    @property
    def facing_group(self) -> str:
        if self.photo.startswith("cameraman"):
            return "cameraman (head turned ~50 deg in the photo)"
        return f"head turned {abs(self.facing):g} deg"



def make_scene(rng: np.random.Generator, band, model: CameraModel):
    """People (SimPerson dicts), their truth, lighting and a post-processing condition."""
    count = 2 if rng.random() < 0.3 else 1
    people, truths, used = [], [], []
    for _ in range(count):
        for _try in range(20):
            bearing = rng.uniform(-HFOV / 2 + 6, HFOV / 2 - 6)
            if all(abs(bearing - u) > 12 for u in used):
                break
        used.append(bearing)
        dist = rng.uniform(*band)
        elevation = rng.uniform(-8.0, 16.0)
        eye_h = CAMERA_HEIGHT_M + dist * math.tan(math.radians(elevation))
        photo = str(rng.choice(PHOTOS))
        facing = float(rng.choice(FACINGS)) * rng.choice([-1, 1])
        if photo.startswith("cameraman") and abs(facing) < 90:
            facing = 0.0              # his head is already turned ~50 deg in the photograph
        people.append(dict(azimuth_world_deg=bearing, distance_m=dist, height_m=eye_h / (1 - EYE_BELOW_TOP),
                           facing_deg=facing, photo=photo))
        truths.append(Truth(bearing, elevation, dist, photo, facing))
    return people, truths, str(rng.choice(CONDITIONS))


def render(people, truths, condition, heading, seed, room, model):
    lighting = {"dim": 0.35, "bright": 1.5}.get(condition, 1.0)
    frame = render_frame(people, heading, HFOV, W, H, lighting=lighting, seed=seed, room=room,
                         motion_blur_px=9.0 if condition == "motion blur" else 0.0, model=model)
    if condition == "blur":
        frame = cv2.GaussianBlur(frame, (0, 0), 1.5)
    if condition == "occluded":              # a raised mug hides the mouth and a cheek
        for p, t in zip(people, truths):
            u, v, depth = model.project(t.bearing, t.distance,
                                        p["height_m"] * (1 - EYE_BELOW_TOP) - CAMERA_HEIGHT_M)
            face = model.fx * 0.15 / depth
            cv2.ellipse(frame, (int(u - 0.15 * face), int(v + 0.55 * face)),
                        (int(0.5 * face), int(0.35 * face)), 0, 0, 360, (40, 90, 170), -1)
    return frame


def tolerance_deg(t: Truth) -> float:
    """How far (deg) a prediction may lie from a person and still be that person: their head's size."""
    return max(MATCH_MIN_DEG, math.degrees(math.atan2(MATCH_HEAD_M, t.distance)))


def match(preds, truths):
    """Greedy matching on bearing and elevation; returns [(pred, truth)], unmatched preds, unmatched truths."""
    pairs = sorted(((abs(p.bearing_deg - t.bearing), i, j) for i, p in enumerate(preds)
                    for j, t in enumerate(truths)
                    if abs(p.bearing_deg - t.bearing) < tolerance_deg(t)
                    and abs(p.elevation_deg - t.elevation) < 1.5 * tolerance_deg(t)))
    used_p, used_t, matched = set(), set(), []
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            matched.append((preds[i], truths[j]))
    return (matched, [p for i, p in enumerate(preds) if i not in used_p],
            [t for j, t in enumerate(truths) if j not in used_t])


class Tally:
    def __init__(self):
        self.tp = {b: 0 for b in BANDS}
        self.fn = {b: 0 for b in BANDS}
        self.fp = {b: 0 for b in BANDS}
        self.fp_unbanded = 0
        self.back_found = self.back_total = 0
        self.bearing_err, self.dist_err, self.engagement = [], [], []
        self.engagement_by: dict[str, list[bool]] = {}

    def add(self, preds, truths):
        faces = [t for t in truths if not t.back]
        matched, extra, missed = match(preds, truths)
        for p, t in matched:
            if t.back:
                self.back_found += 1
                continue
            self.tp[t.band] += 1
            self.bearing_err.append(abs(wrap_deg(p.bearing_deg - t.bearing)))
            if p.distance_m == p.distance_m:
                self.dist_err.append(abs(p.distance_m - t.distance) / t.distance)
            self.engagement.append((p.engagement >= 0.5) == t.engaged)
            self.engagement_by.setdefault(t.facing_group, []).append((p.engagement >= 0.5) == t.engaged)
        for t in missed:
            if not t.back:
                self.fn[t.band] += 1
        self.back_total += len(truths) - len(faces)
        for p in extra:
            band = next((b for b in BANDS if b[0] <= p.distance_m <= b[1]), None)
            if band is None:
                self.fp_unbanded += 1
            else:
                self.fp[band] += 1

    def precision(self, bands):
        tp = sum(self.tp[b] for b in bands)
        fp = sum(self.fp[b] for b in bands) + (self.fp_unbanded if len(bands) > 1 else 0)
        return tp / (tp + fp) if tp + fp else float("nan")

    def recall(self, bands):
        tp = sum(self.tp[b] for b in bands)
        fn = sum(self.fn[b] for b in bands)
        return tp / (tp + fn) if tp + fn else float("nan")


def pct(x):
    return "n/a" if x != x else f"{100 * x:.1f} %"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a small smoke run (a few scenes per band)")
    ap.add_argument("--scenes", type=int, default=None, help="scenes per distance band (default 60, quick 6)")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)
    per_band = args.scenes or (6 if args.quick else 60)
    empties = max(4, per_band)
    rng = np.random.default_rng(args.seed)
    model = CameraModel.from_hfov(W, H, HFOV)
    with native_stderr_silenced():
        detector = Detector()
        detector.warm_up()
        render_frame([dict(azimuth_world_deg=0.0, distance_m=1.0, photo=p) for p in PHOTOS[:3]], 0.0)

    scenes = []
    for band in BANDS:
        for _ in range(per_band):
            scenes.append(make_scene(rng, band, model))
    for _ in range(empties):
        scenes.append(([], [], str(rng.choice(CONDITIONS))))

    still, stream = Tally(), Tally()
    by_condition = {c: Tally() for c in CONDITIONS}
    stage_ms: dict[str, list[float]] = {k: [] for k in ("convert", "detect", "mesh", "pose", "track", "total")}
    stage_cpu: dict[str, list[float]] = {k: [] for k in stage_ms}
    still_ms, render_ms = [], []
    empty_fp_still = empty_fp_stream = 0
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    for k, (people, truths, condition) in enumerate(scenes):
        heading = float(rng.uniform(-180, 180))
        room = k % 4
        world_people = [dict(p, azimuth_world_deg=p["azimuth_world_deg"] + heading) for p in people]
        # Still image, every region and the pose model (what `swivel vision detect` does).
        frame = render(world_people, truths, condition, heading, seed=k, room=room, model=model)
        rgb = np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        t0 = time.perf_counter()
        preds = [estimate(o, model) for o in detector.observe(rgb, zoom_regions(W, H), with_pose=True)]
        still_ms.append((time.perf_counter() - t0) * 1e3)
        still.add(preds, truths)
        empty_fp_still += len(preds) if not truths else 0
        # Streaming: the service's per-frame pipeline and tracker over a few frames of the same scene.
        pipeline = FramePipeline(detector, model, pose_every=8)
        tracker = Tracker(confirm_hits=3)
        confirmed = []
        for f in range(STREAM_FRAMES):
            t_r = time.perf_counter()
            frame = render(world_people, truths, condition, heading, seed=10_000 * k + f, room=room, model=model)
            render_ms.append((time.perf_counter() - t_r) * 1e3)
            t_ns = f * 66_000_000
            followed = [(t.box, t.confidence, (k, t.track_id)) for t in tracker.tracks
                        if t.box is not None and t.source == "face"]
            seen = pipeline.process(frame, followed)
            t1, c1 = time.perf_counter(), time.process_time()
            # What the service publishes: confirmed tracks seen within the last 0.3 s.
            confirmed = [t for t in tracker.update(t_ns, seen, heading) if t_ns - t.last_ns <= 300_000_000]
            track_ms, track_cpu = (time.perf_counter() - t1) * 1e3, (time.process_time() - c1) * 1e3
            for key, value in pipeline.timings_ms.items():
                stage_ms[key].append(value + (track_ms if key == "total" else 0.0))
                stage_cpu[key].append(pipeline.cpu_ms[key] + (track_cpu if key == "total" else 0.0))
            stage_ms["track"].append(track_ms)
            stage_cpu["track"].append(track_cpu)
        from device.vision.people import PersonEstimate
        preds = [PersonEstimate(wrap_deg(t.world_az_deg - heading), t.elevation_deg, t.distance_m, t.engagement,
                                t.confidence, t.source) for t in confirmed]
        stream.add(preds, truths)
        by_condition[condition].add(preds, truths)
        empty_fp_stream += len(preds) if not truths else 0
    elapsed = time.perf_counter() - started
    detector.close()

    near3, near2 = BANDS[:3], BANDS[:2]
    lines = []
    cmd = "nice .venv/bin/python tools/bench/bench_vision.py" + (" --quick" if args.quick else "") + \
        (f" --scenes {args.scenes}" if args.scenes else "") + (f" --seed {args.seed}" if args.seed != 4 else "")
    faces = sum(1 for _, ts, _ in scenes for t in ts if not t.back)
    backs = sum(1 for _, ts, _ in scenes for t in ts if t.back)
    lines.append("## Vision (mediapipe 0.10.18 on real photographs composited into rendered rooms, 640x480, "
                 "66 deg hfov)\n")
    lines.append(f"Command: `{cmd}` ({len(scenes)} scenes: {faces} people facing the camera, {backs} turned "
                 f"away, {empties} empty rooms; {elapsed:.0f} s).\n")
    lines.append("Set: scikit-image's astronaut and cameraman and matplotlib's Grace Hopper (and their mirror "
                 "images), cut out with selfie segmentation and scaled by a pinhole model at 0.5-3.5 m, bearings "
                 "across the view, eyes between -8 and +16 deg elevation, one or two people per scene, in four "
                 "synthetic rooms (with framed photographs of a cat, coffee and a rocket on the walls), heads "
                 "turned 0, 15, 45 or 60 deg or the back turned, each "
                 "scene under one of: clean, dim (x0.35 + sensor noise), bright (x1.5), Gaussian blur (1.5 px), "
                 "motion blur (9 px), a mug hiding the mouth and a cheek. A prediction matches a person when it "
                 f"lies within {MATCH_HEAD_M * 100:g} cm of their head sideways (at least {MATCH_MIN_DEG:g} deg of "
                 "bearing; 1.5 times that in elevation): 13.5 deg at 0.5 m, 3.4 deg at 2 m. The truth is the head's "
                 "turning axis at eye height.\n")
    lines.append("*still* = one frame, every detector region plus pose (`swivel vision detect`); *service* = the "
                 f"service's per-frame pipeline and tracker over {STREAM_FRAMES} frames of the scene, as the "
                 "service publishes them: confirmed (3 detections, or 2 at least 0.4 s apart) and seen in the last "
                 "0.3 s.\n")
    lines.append("| distance | still precision | still recall | service precision | service recall |")
    lines.append("| --- | --- | --- | --- | --- |")
    for b in BANDS:
        lines.append(f"| {b[0]:g}-{b[1]:g} m | {pct(still.precision([b]))} | {pct(still.recall([b]))} | "
                     f"{pct(stream.precision([b]))} | {pct(stream.recall([b]))} |")
    lines.append(f"| **up to 3 m** | **{pct(still.precision(near3))}** | {pct(still.recall(near3))} | "
                 f"**{pct(stream.precision(near3))}** | {pct(stream.recall(near3))} |")
    lines.append(f"| **up to 2 m** | {pct(still.precision(near2))} | **{pct(still.recall(near2))}** | "
                 f"{pct(stream.precision(near2))} | **{pct(stream.recall(near2))}** |")
    lines.append("")
    lines.append(f"False people in the {empties} empty rooms: still {empty_fp_still}, service {empty_fp_stream}. "
                 f"Turned-away people found (pose model, no face visible): still {still.back_found}/{still.back_total}, "
                 f"service {stream.back_found}/{stream.back_total}.\n")
    lines.append("| quality | still | service |")
    lines.append("| --- | --- | --- |")
    for name, tally in (("bearing error median / p95 / max (deg)", None),):
        st, sv = np.array(still.bearing_err), np.array(stream.bearing_err)
        lines.append(f"| {name} | {np.median(st):.2f} / {np.percentile(st, 95):.2f} / {st.max():.2f} | "
                     f"{np.median(sv):.2f} / {np.percentile(sv, 95):.2f} / {sv.max():.2f} |")
    lines.append(f"| distance error median / p95 (relative) | {pct(np.median(still.dist_err))} / "
                 f"{pct(np.percentile(still.dist_err, 95))} | {pct(np.median(stream.dist_err))} / "
                 f"{pct(np.percentile(stream.dist_err, 95))} |")
    lines.append(f"| engagement accuracy (engaged = engagement >= 0.5) | {pct(np.mean(still.engagement))} | "
                 f"{pct(np.mean(stream.engagement))} |")
    lines.append("")
    lines.append("Engagement accuracy of the service by how far the head is turned (engaged = within 30 deg; "
                 "the renderer turns the head in 3D with the face mesh): " + ", ".join(
                     f"{g} {pct(np.mean(v))} (n={len(v)})" for g, v in sorted(stream.engagement_by.items())) + ".\n")
    lines.append("Service recall and precision up to 3 m by condition: " + ", ".join(
        f"{c} {pct(t.recall(near3))} / {pct(t.precision(near3))}" for c, t in by_condition.items()) + ".\n")
    lines.append("Time per frame at 640x480 on this machine (ms; the service's pipeline over all scenes and "
                 "frames, empty rooms included; face detection runs on one region per frame, and only on every "
                 "other frame while every tracked face was found again; pose replaces it on one frame in 8):\n")
    lines.append("| stage | wall median | wall mean | wall p95 | CPU median | CPU mean | CPU p95 |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    labels = {"convert": "BGR to RGB (then the frame is zeroed)", "detect": "face detection (one region)",
              "mesh": "face mesh (every face found or followed)", "pose": "pose (scheduled)",
              "track": "tracker", "total": "**whole per-frame pipeline**"}
    for key, label in labels.items():
        v = np.array(stage_ms[key])
        c = np.array(stage_cpu[key])
        lines.append(f"| {label} | {np.median(v):.2f} | {v.mean():.2f} | {np.percentile(v, 95):.2f} | "
                     f"{np.median(c):.2f} | {c.mean():.2f} | {np.percentile(c, 95):.2f} |")
    sv = np.array(still_ms)
    rv = np.array(render_ms)
    lines.append(f"| still image, every region + pose (CLI) | {np.median(sv):.2f} | {sv.mean():.2f} | "
                 f"{np.percentile(sv, 95):.2f} | | | |")
    lines.append(f"| simulated camera render (not on the device) | {np.median(rv):.2f} | {rv.mean():.2f} | "
                 f"{np.percentile(rv, 95):.2f} | | | |")
    lines.append("\nLoad average of this shared 2-core machine during the run (other engineers' work included; "
                 "wall-clock figures include waiting for a core, CPU time is what the work costs): "
                 f"{load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end.\n")
    lines.append("")
    total, total_cpu = np.median(stage_ms["total"]), np.median(stage_cpu["total"])
    checks = [("precision >= 95 % up to 3 m (service)", stream.precision(near3) >= 0.95),
              ("recall >= 90 % up to 2 m (service)", stream.recall(near2) >= 0.90),
              ("bearing error <= 2 deg (service p95)", np.percentile(stream.bearing_err, 95) <= 2.0),
              (f"whole per-frame pipeline <= 15 ms median (CPU time {total_cpu:.1f} ms)", total_cpu <= 15.0),
              (f"the same in wall-clock time on the shared machine ({total:.1f} ms)", total <= 15.0)]
    lines.append("Targets: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks) + ".")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("vision", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
