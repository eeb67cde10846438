"""Vision benchmark: precision/recall by distance on a tuning set and a held-out report set, phantoms on empty
scenes with decoys, the rigid-poster rule on frame sequences, bearing error, engagement and per-stage time."""
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
from device.vision.detector import Detector, cascade_regions, zoom_regions            # noqa: E402
from device.vision.people import estimate                                             # noqa: E402
from device.vision.pipeline import FramePipeline                                      # noqa: E402
from device.vision.quiet import native_stderr_silenced                                # noqa: E402
from device.vision.tracker import Tracker                                             # noqa: E402
from device.vision.people import PersonEstimate                                       # noqa: E402
from tools.bench import vision_sets as vs                                             # noqa: E402
from tools.bench.benchmarks_md import write_section                                   # noqa: E402

W, H, HFOV = 640, 480, 66.0
BANDS = [(0.5, 1.5), (1.5, 2.0), (2.0, 3.0), (3.0, 3.5)]
FPS = 15.0                   # the active frame rate: stream frames are this far apart in scene time
CONDITIONS = ["clean", "dim", "bright", "blur", "motion blur", "occluded"]
PHOTOS = ["astronaut", "hopper", "cameraman", "astronaut_mirror", "hopper_mirror", "cameraman_mirror"]
MATCH_MIN_DEG, MATCH_HEAD_M = 3.0, 0.12   # a match lies within 12 cm of the head (at least 3 deg)
FACINGS = [0, 0, 0, 0, 15, 45, 60, 180]   # head yaw of a person; 180 = back to the camera
STREAM_FRAMES = 20           # 1.3 s at the active rate: detector schedules and two pose runs
# The per-frame target (15 ms) was set on the machine where the environment's facts were measured, on
# 640x480: mediapipe's face detection ~1.8 ms, face mesh 2.4-3.8 ms, pose ~18 ms. As a ratio against the
# first, measured in the same run here, the target is this many face-detection calls.
TARGET_MS, FACTS_MS = 15.0, {"face detection": 1.8, "face mesh": 2.4, "pose": 18.0}


@dataclass
class Truth:
    bearing: float
    elevation: float
    distance: float
    photo: str
    facing: float = 0.0       # head yaw away from the camera (deg); beyond 90 the back is seen

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


def render(people, truths, condition, heading, seed, room, model, t_s=None):
    lighting = {"dim": 0.35, "bright": 1.5}.get(condition, 1.0)
    frame = render_frame(people, heading, HFOV, W, H, lighting=lighting, seed=seed, room=room,
                         motion_blur_px=9.0 if condition == "motion blur" else 0.0, model=model, t_s=t_s)
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


REPORT_CONDITIONS = ["clean", "clean", "dim", "bright", "blur"]
CROPS = ["", "", "", "", "", "top", "side", "low"]      # partial crops: forehead, one side, mouth and chin cut off
SEQ_FRAMES = 75              # rigid-rule sequences: 5 s at the active rate
PUBLISH_NS = 300_000_000     # the service publishes confirmed tracks seen this recently


def pick_bearings(rng, count, spread=HFOV / 2 - 6, apart=12.0):
    used = []
    for _ in range(count):
        for _try in range(30):
            b = float(rng.uniform(-spread, spread))
            if all(abs(b - u) > apart for u in used):
                break
        used.append(b)
    return used


def report_scene(rng, band, names=vs.REPORT_LFW, decoy_set="report"):
    """Held-out: one or two LFW heads of the report half (tinted, some partly cropped) in a room or on a
    plain wall, often with a decoy of the report half beside them."""
    count = 2 if rng.random() < 0.25 else 1
    bearings = pick_bearings(rng, count + 1)
    heads, truths = [], []
    for b in bearings[:count]:
        dist = float(rng.uniform(*band))
        elevation = float(rng.uniform(-8.0, 16.0))
        idx, tone, crop = int(rng.choice(names)), int(rng.integers(len(vs.SKIN_TONES))), str(rng.choice(CROPS))
        heads.append((idx, tone, crop, b, dist, CAMERA_HEIGHT_M + dist * math.tan(math.radians(elevation))))
        truths.append(Truth(b, elevation, dist, f"lfw {crop or 'whole'}"))
    names_d = [n for n, d in vs.decoys().items() if d[0] == decoy_set]
    decoys = [(str(rng.choice(names_d)), bearings[-1], float(rng.uniform(1.0, 3.0)), float(rng.uniform(0.9, 1.8)))] \
        if rng.random() < 0.5 else []
    return dict(heads=heads, decoys=decoys, truths=truths, background="wall" if rng.random() < 0.25 else "room",
                condition=str(rng.choice(REPORT_CONDITIONS)))


def empty_scene(rng, decoy_set):
    names_d = [n for n, d in vs.decoys().items() if d[0] == decoy_set]
    count = int(rng.integers(1, 3))
    decoys = [(str(rng.choice(names_d)), b, float(rng.uniform(0.8, 3.0)), float(rng.uniform(0.9, 1.8)))
              for b in pick_bearings(rng, count, apart=18.0)]
    return dict(heads=[], decoys=decoys, truths=[], background="wall" if rng.random() < 0.25 else "room",
                condition=str(rng.choice(REPORT_CONDITIONS)))


def draw_scene(scene, model, heading, room, seed, t_s=None, posters=(), key=0):
    """One frame of a scene of LFW heads and decoys (heads move as living heads when t_s is given)."""
    if scene["background"] == "wall":
        frame = vs.plain_wall(W, H, seed=seed)
        if posters:
            raise ValueError("posters hang in rooms")
    else:
        frame = render_frame([], heading, HFOV, W, H, seed=seed, room=room, model=model,
                             posters=[dict(p, azimuth_world_deg=p["azimuth_world_deg"] + heading) for p in posters])
    for name, b, d, h in scene["decoys"]:
        vs.place_decoy(frame, model, name, b, d, h)
    for j, (idx, tone, crop, b, d, eye_h) in enumerate(scene["heads"]):
        vs.place_head(frame, model, vs.lfw_head(idx, tone, crop), b, d, eye_h, t_s=t_s, key=key + j)
    for idx, tone, b, d, eye_h in scene.get("prints", ()):
        vs.poster_of_head(frame, model, vs.lfw_head(idx, tone), b, d, eye_h)
    c = scene["condition"]
    if c == "dim":
        noise = np.random.default_rng(seed).normal(0.0, 2.5, frame.shape[:2])[..., None]
        frame = np.clip(frame * 0.35 + noise, 0, 255).astype(np.uint8)
    elif c == "bright":
        frame = cv2.convertScaleAbs(frame, alpha=1.5)
    elif c == "blur":
        frame = cv2.GaussianBlur(frame, (0, 0), 1.5)
    return frame


class Timing:
    """Per-stage times of the service's pipeline, and a reference measured on the same frames in the
    same run: one call of mediapipe's full-range face detector on the whole frame."""

    def __init__(self):
        self.stage_ms = {k: [] for k in ("convert", "detect", "mesh", "pose", "track", "total")}
        self.stage_cpu = {k: [] for k in self.stage_ms}
        self.reference_ms, self.reference_cpu, self.render_ms, self.still_ms = [], [], [], []

    def reference(self, detector, frame):
        rgb = np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        t0, c0 = time.perf_counter(), time.process_time()
        detector.face.process(rgb)
        self.reference_ms.append((time.perf_counter() - t0) * 1e3)
        self.reference_cpu.append((time.process_time() - c0) * 1e3)
        rgb.fill(0)


class Calibration:
    """The three operations the environment's facts quote, timed on a 640x480 photograph of a person in
    this run: mediapipe's face detection (its default, short-range model) on the whole frame, face mesh
    and pose (both in their tracking mode, as on a video stream). Sampled at the start and the end of the
    run, so that the machine's load at either end weighs in as it does on the pipeline's frames."""

    def __init__(self):
        import mediapipe as mp
        from skimage import data
        self.frame = np.ascontiguousarray(cv2.resize(data.astronaut(), (W, H)))
        sol = mp.solutions
        self.ops = {"face detection": sol.face_detection.FaceDetection(),
                    "face mesh": sol.face_mesh.FaceMesh(static_image_mode=False),
                    "pose": sol.pose.Pose(static_image_mode=False)}
        self.wall = {k: [] for k in self.ops}
        self.cpu = {k: [] for k in self.ops}
        for op in self.ops.values():
            op.process(self.frame)

    def sample(self, runs: int = 15) -> None:
        for name, op in self.ops.items():
            for _ in range(runs):
                t0, c0 = time.perf_counter(), time.process_time()
                op.process(self.frame)
                self.wall[name].append((time.perf_counter() - t0) * 1e3)
                self.cpu[name].append((time.process_time() - c0) * 1e3)

    def close(self) -> None:
        for op in self.ops.values():
            op.close()


def run_stream(detector, model, draw, heading, frames, key, timing=None, every=None):
    """The service's per-frame pipeline and tracker over `frames` frames drawn by draw(f, t_s).
    Returns the tracks published after the last frame, and `every(f, t_ns, published, tracker)` is
    called after each frame."""
    pipeline = FramePipeline(detector, model, pose_every=8)
    tracker = Tracker(confirm_hits=3)
    published = []
    for f in range(frames):
        t_r = time.perf_counter()
        frame = draw(f, f / FPS)
        if timing is not None:
            timing.render_ms.append((time.perf_counter() - t_r) * 1e3)
            if f % 4 == 2:
                timing.reference(detector, frame)
        t_ns = int(f / FPS * 1e9)
        followed = [(box, conf, (key, tid), verified) for box, conf, tid, verified
                    in tracker.followed_faces(t_ns, model.px_per_deg)]
        seen = pipeline.process(frame, followed)
        t1, c1 = time.perf_counter(), time.process_time()
        published = [t for t in tracker.update(t_ns, seen, heading) if t_ns - t.last_ns <= PUBLISH_NS]
        track_ms, track_cpu = (time.perf_counter() - t1) * 1e3, (time.process_time() - c1) * 1e3
        if timing is not None:
            for k, value in pipeline.timings_ms.items():
                timing.stage_ms[k].append(value + (track_ms if k == "total" else 0.0))
                timing.stage_cpu[k].append(pipeline.cpu_ms[k] + (track_cpu if k == "total" else 0.0))
            timing.stage_ms["track"].append(track_ms)
            timing.stage_cpu["track"].append(track_cpu)
        if every is not None:
            every(f, t_ns, published, tracker)
    return published, tracker


def as_estimates(tracks, heading):
    return [PersonEstimate(wrap_deg(t.world_az_deg - heading), t.elevation_deg, t.distance_m, t.engagement,
                           t.confidence, t.source) for t in tracks]


def still_people(detector, model, frame):
    """What `swivel vision detect` reports: every region, the cascade, pose; verified only."""
    rgb = np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    obs = detector.observe(rgb, zoom_regions(W, H) + cascade_regions(W, H), with_pose=True)
    rgb.fill(0)
    return [estimate(o, model) for o in obs if o.verified]


def rigid_sequences(detector, model, rng, count):
    """A print of a face on the wall (an LFW face of the report half, framed, or one of the simulator's
    photographs as a poster) and a living head elsewhere, in a room, for SEQ_FRAMES frames.
    Returns per sequence: (print ever published as not static, print published at the end as static,
    person published not static at the end, seconds until the person was first published not static)."""
    out = []
    for k in range(count):
        heading = float(rng.uniform(-180, 180))
        b_print, b_person = pick_bearings(rng, 2, spread=HFOV / 2 - 10, apart=20.0)
        d_print, d_person = float(rng.uniform(1.0, 2.5)), float(rng.uniform(1.0, 2.5))
        eye_print, eye_person = float(rng.uniform(1.1, 1.5)), float(rng.uniform(1.1, 1.4))
        sim_poster = k % 2 == 1
        scene = dict(heads=[(int(rng.choice(vs.REPORT_LFW)), int(rng.integers(6)), "", b_person, d_person,
                             eye_person)], decoys=[], truths=[], background="room",
                     condition=str(rng.choice(["clean", "dim"])))
        posters = []
        if sim_poster:
            photo = str(rng.choice(PHOTOS))
            posters = [dict(azimuth_world_deg=b_print, distance_m=d_print, height_m=eye_print, width_m=0.45,
                            photo=photo)]
        else:
            scene["prints"] = [(int(rng.choice(vs.REPORT_LFW)), int(rng.integers(6)), b_print, d_print, eye_print)]
        state = dict(person_alive_s=None, print_target_s=None)

        def near(t, b):
            return abs(wrap_deg(t.world_az_deg - heading - b)) < 6.0

        def every(f, t_ns, published, tracker):
            for t in published:
                static = tracker.is_static(t, t_ns)
                if near(t, b_print) and not static and state["print_target_s"] is None:
                    state["print_target_s"] = t_ns / 1e9
                if near(t, b_person) and not static and state["person_alive_s"] is None:
                    state["person_alive_s"] = t_ns / 1e9
            state["end"] = [(near(t, b_print), near(t, b_person), tracker.is_static(t, t_ns)) for t in published]

        run_stream(detector, model, lambda f, t_s: draw_scene(scene, model, heading, k % 4, 20_000 * k + f, t_s,
                                                              posters=posters, key=500 + k),
                   heading, SEQ_FRAMES, ("rigid", k), every=every)
        end = state.get("end", [])
        what = (f"the {posters[0]['photo']} photograph" if sim_poster
                else f"LFW {scene['prints'][0][0]} (tone {scene['prints'][0][1] + 1})")
        out.append(dict(kind="simulator photograph" if sim_poster else "LFW print",
                        what=f"{what} at {d_print:.2f} m, {scene['condition']}, a target after "
                             f"{state['print_target_s'] or 0:.1f} s",
                        print_moving=state["print_target_s"] is not None,
                        print_static_end=any(p and s for p, _, s in end),
                        print_seen_end=any(p for p, _, _ in end),
                        person_alive_end=any(q and not s for _, q, s in end),
                        person_alive_s=state["person_alive_s"]))
    return out


def tally_table(lines, title, still, stream):
    lines.append(f"**{title}**\n")
    lines.append("| distance | still precision | still recall | service precision | service recall |")
    lines.append("| --- | --- | --- | --- | --- |")
    labels = {BANDS[0]: "under 1.5 m", BANDS[1]: "1.5-2 m", BANDS[2]: "2-3 m", BANDS[3]: "over 3 m"}
    for b in BANDS:
        lines.append(f"| {labels[b]} | {pct(still.precision([b]))} | {pct(still.recall([b]))} | "
                     f"{pct(stream.precision([b]))} | {pct(stream.recall([b]))} |")
    near3, near2 = BANDS[:3], BANDS[:2]
    lines.append(f"| **up to 3 m** | **{pct(still.precision(near3))}** | {pct(still.recall(near3))} | "
                 f"**{pct(stream.precision(near3))}** | {pct(stream.recall(near3))} |")
    lines.append(f"| **up to 2 m** | {pct(still.precision(near2))} | **{pct(still.recall(near2))}** | "
                 f"{pct(stream.precision(near2))} | **{pct(stream.recall(near2))}** |")
    lines.append("")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a small smoke run (a few scenes per band)")
    ap.add_argument("--scenes", type=int, default=None, help="scenes per distance band and set (default 30, quick 4)")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)
    per_band = args.scenes or (4 if args.quick else 30)
    empties = max(4, per_band)
    rigid_count = max(2, per_band // 2)
    rng = np.random.default_rng(args.seed)
    model = CameraModel.from_hfov(W, H, HFOV)
    with native_stderr_silenced():
        detector = Detector()
        detector.warm_up()
        render_frame([dict(azimuth_world_deg=0.0, distance_m=1.0, photo=p) for p in PHOTOS[:3]], 0.0)

    timing = Timing()
    with native_stderr_silenced():
        calibration = Calibration()
    calibration.sample()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]

    # -- tuning set: the simulator's photographs (what thresholds were chosen on) ------------------------
    tune_scenes = [make_scene(rng, band, model) for band in BANDS for _ in range(per_band)]
    tune_scenes += [([], [], str(rng.choice(CONDITIONS))) for _ in range(empties)]
    tune_still, tune_stream = Tally(), Tally()
    by_condition = {c: Tally() for c in CONDITIONS}
    tune_fp_still = tune_fp_stream = 0
    for k, (people, truths, condition) in enumerate(tune_scenes):
        heading = float(rng.uniform(-180, 180))
        room = k % 4
        world_people = [dict(p, id=k * 10 + j, azimuth_world_deg=p["azimuth_world_deg"] + heading)
                        for j, p in enumerate(people)]
        decoys = [] if people and rng.random() < 0.7 else [
            (n, b, float(rng.uniform(0.8, 3.0)), float(rng.uniform(0.9, 1.8)))
            for n, b in zip(rng.choice([n for n, d in vs.decoys().items() if d[0] == "tuning"], 2),
                            pick_bearings(rng, 2, apart=18.0))
            if all(abs(b - t.bearing) > 12 for t in truths)]

        def draw(f, t_s, seed=None):
            frame = render(world_people, truths, condition, heading, seed=10_000 * k + f if seed is None else seed,
                           room=room, model=model, t_s=t_s)
            for name, b, d, h in decoys:
                vs.place_decoy(frame, model, name, b, d, h)
            return frame
        t0 = time.perf_counter()
        preds = still_people(detector, model, draw(0, None, seed=k))
        timing.still_ms.append((time.perf_counter() - t0) * 1e3)
        tune_still.add(preds, truths)
        tune_fp_still += bool(preds) if not truths else 0
        published, _ = run_stream(detector, model, draw, heading, STREAM_FRAMES, ("tune", k), timing)
        preds = as_estimates(published, heading)
        tune_stream.add(preds, truths)
        by_condition[condition].add(preds, truths)
        tune_fp_stream += bool(preds) if not truths else 0

    # -- report set: LFW heads of the report half and the report decoys (never tuned on) -----------------
    rep_scenes = [report_scene(rng, band) for band in BANDS for _ in range(per_band)]
    rep_scenes += [empty_scene(rng, "report") for _ in range(empties)]
    rep_still, rep_stream = Tally(), Tally()
    by_crop: dict[str, list[bool]] = {}
    by_tone: dict[int, list[bool]] = {}
    rep_fp_still = rep_fp_stream = 0
    phantom_kinds: dict[str, int] = {}
    for k, scene in enumerate(rep_scenes):
        heading = float(rng.uniform(-180, 180))
        room = k % 4
        truths = scene["truths"]

        def draw(f, t_s, seed=None):
            return draw_scene(scene, model, heading, room, 30_000 + 100 * k + f if seed is None else seed, t_s,
                              key=7000 + 10 * k)
        t0 = time.perf_counter()
        preds = still_people(detector, model, draw(0, None, seed=k))
        timing.still_ms.append((time.perf_counter() - t0) * 1e3)
        rep_still.add(preds, truths)
        rep_fp_still += bool(preds) if not truths else 0
        published, _ = run_stream(detector, model, draw, heading, STREAM_FRAMES, ("report", k), timing)
        preds = as_estimates(published, heading)
        rep_stream.add(preds, truths)
        matched, extra, _ = match(preds, truths)
        found = {id(t) for _, t in matched}
        for (idx, tone, crop, *_), t in zip(scene["heads"], truths):
            if t.distance <= 3.0:
                by_crop.setdefault(crop or "whole", []).append(id(t) in found)
                by_tone.setdefault(tone, []).append(id(t) in found)
        if not truths:
            rep_fp_stream += bool(preds)
            if preds:
                for name, *_ in scene["decoys"]:
                    phantom_kinds[name] = phantom_kinds.get(name, 0) + 1

    # -- the rigid-poster rule on frame sequences ----------------------------------------------------
    rigid = rigid_sequences(detector, model, rng, rigid_count)
    calibration.sample()
    calibration.close()
    elapsed = time.perf_counter() - started
    detector.close()

    near3, near2 = BANDS[:3], BANDS[:2]
    cmd = "nice .venv/bin/python tools/bench/bench_vision.py" + (" --quick" if args.quick else "") + \
        (f" --scenes {args.scenes}" if args.scenes else "") + (f" --seed {args.seed}" if args.seed != 4 else "")
    lines = ["## Vision (mediapipe 0.10.18 and OpenCV's Haar cascade, 640x480, 66 deg hfov)\n"]
    lines.append(f"Command: `{cmd}` ({len(tune_scenes)} tuning scenes, {len(rep_scenes)} report scenes, "
                 f"{len(rigid)} poster sequences of {SEQ_FRAMES} frames; {elapsed:.0f} s).\n")
    lines.append("What runs: per frame the service's pipeline (one detector region by turns from a schedule of ten: "
                 "mediapipe's full-range face detector on the full frame twice and on each of three zoom tiles twice, "
                 "each of those turns also on the next of ten closer zoom windows a third of the frame wide, "
                 "OpenCV's frontal Haar cascade (alt2, contrast-equalized) once on each half of the frame; face mesh "
                 "on every face found or followed; pose every 8th frame). A track becomes a person only after "
                 "independent evidence agreed at least once: the tracking-mode mesh's face-presence check (at least "
                 "0.5), or both face detectors on it in the same frame in two frames (the cascade on a zoomed crop "
                 "around a face the full-range detector found, or that detector on a window around a face the "
                 "cascade found), or the pose model's body under it (its own neck check). A face whose head shows "
                 "no micro-motion (block medians of the mesh's centroid, or of the eye keypoints, over 4 s, while "
                 "the device stands still) is published `static` and the policy does not turn to it.\n")
    lines.append("*still* = one frame, every region (not the windows), the cascade and pose, verified faces only (`swivel vision "
                 f"detect`); *service* = the pipeline and tracker over {STREAM_FRAMES} frames at {FPS:g} fps of "
                 "scene time (living heads sway and breathe), what the service publishes at the end: confirmed and "
                 "seen in the last 0.3 s. A prediction matches a person within 12 cm of their head sideways "
                 f"(at least {MATCH_MIN_DEG:g} deg of bearing; 1.5 times that in elevation).\n")
    lines.append("### Report set (held out: never looked at while tuning)\n")
    lines.append("Faces: the 50 LFW crops of the report half (`lfw_subset` 50-99 of scikit-image: 50 other people, "
                 "many ages, glasses, beards), each tinted with one of six skin tones from light to dark, drawn as a "
                 "head without a body (the 25 px crop enlarged and placed so its eye corners span 90 mm), 3 in 8 of "
                 "them partly cropped (forehead, one side, or mouth and chin cut off), one or two per scene at "
                 "0.5-3.5 m, eyes -8..+16 deg, in one of four synthetic rooms (with framed photographs of a cat, "
                 "coffee and a rocket) or on a plain wall, half of the scenes with a decoy of the report half beside "
                 "them: " + ", ".join(n for n, d in vs.decoys().items() if d[0] == "report") + ". Conditions: clean, "
                 "dim (x0.35 + noise), bright (x1.5), blur (1.5 px). Empty scenes: one or two report decoys, "
                 "nobody.\n")
    tally_table(lines, "Report set", rep_still, rep_stream)
    lines.append(f"Phantom people in the {empties} empty report scenes: still {rep_fp_still} "
                 f"({pct(rep_fp_still / empties)}), service {rep_fp_stream} ({pct(rep_fp_stream / empties)})"
                 + (" (with: " + ", ".join(f"{n} {c}" for n, c in phantom_kinds.items()) + ")" if phantom_kinds else "")
                 + ".\n")
    lines.append("Service recall up to 3 m by crop: " + ", ".join(
        f"{c} {pct(np.mean(v))} (n={len(v)})" for c, v in sorted(by_crop.items())) + "; by skin tone (light to dark): "
        + ", ".join(f"{pct(np.mean(v))} (n={len(v)})" for _, v in sorted(by_tone.items())) + ".\n")
    lines.append("### Posters and photographs of faces (report set; the service's rigid rule)\n")
    lines.append(f"{len(rigid)} sequences of {SEQ_FRAMES / FPS:g} s in a room: a print of a face on the wall (an LFW "
                 "face of the report half in a frame, or one of the simulator's photographs as a poster) and a living "
                 "head elsewhere (an LFW head that sways and breathes, seated still). The detector finds the print "
                 "(it is a face); the rule must keep it `static`.\n")
    pm = sum(r["print_moving"] for r in rigid)
    ps = sum(r["print_static_end"] for r in rigid)
    pseen = sum(r["print_seen_end"] for r in rigid)
    alive = [r for r in rigid if r["person_alive_end"]]
    alive_s = [r["person_alive_s"] for r in rigid if r["person_alive_s"] is not None]
    lines.append("| | result |")
    lines.append("| --- | --- |")
    lines.append(f"| prints ever published not static (a target) | {pm} of {len(rigid)}"
                 + "".join(f": {r['what']}" for r in rigid if r["print_moving"]) + " |")
    lines.append(f"| prints published static at the end | {ps} of {pseen} published |")
    lines.append(f"| living heads published not static at the end | {len(alive)} of {len(rigid)} |")
    if alive_s:
        lines.append(f"| time until a living head is published not static, median / max | "
                     f"{np.median(alive_s):.1f} / {max(alive_s):.1f} s |")
    lines.append("")
    lines.append("### Tuning set (what the thresholds were chosen on)\n")
    lines.append("scikit-image's astronaut and cameraman and matplotlib's Grace Hopper (and their mirror images), cut "
                 "out with selfie segmentation (the simulator's people), heads turned 0, 15, 45 or 60 deg or the back "
                 "turned, under clean, dim, bright, blur, motion blur (9 px) or a mug hiding the mouth; 30 % of the "
                 "scenes and every empty one with decoys of the tuning half: "
                 + ", ".join(n for n, d in vs.decoys().items() if d[0] == "tuning") + ". (The confirmation rules, "
                 "the detector schedule and the micro-motion thresholds were also chosen on LFW crops 0-49, the tuning "
                 "half, with the tuning decoys, and on prints of them and of the simulator's photographs.)\n")
    tally_table(lines, "Tuning set", tune_still, tune_stream)
    lines.append(f"Phantom people in the {empties} empty tuning scenes: still {tune_fp_still}, service "
                 f"{tune_fp_stream}. Turned-away people found (pose model, no face visible): service "
                 f"{tune_stream.back_found}/{tune_stream.back_total}.\n")
    lines.append("| quality (tuning set) | still | service |")
    lines.append("| --- | --- | --- |")
    st, sv = np.array(tune_still.bearing_err), np.array(tune_stream.bearing_err)
    lines.append(f"| bearing error median / p95 / max (deg) | {np.median(st):.2f} / {np.percentile(st, 95):.2f} / "
                 f"{st.max():.2f} | {np.median(sv):.2f} / {np.percentile(sv, 95):.2f} / {sv.max():.2f} |")
    rv_b = np.array(rep_stream.bearing_err) if rep_stream.bearing_err else np.array([np.nan])
    lines.append(f"| distance error median / p95 (relative) | {pct(np.median(tune_still.dist_err))} / "
                 f"{pct(np.percentile(tune_still.dist_err, 95))} | {pct(np.median(tune_stream.dist_err))} / "
                 f"{pct(np.percentile(tune_stream.dist_err, 95))} |")
    lines.append(f"| engagement accuracy (engaged = engagement >= 0.5) | {pct(np.mean(tune_still.engagement))} | "
                 f"{pct(np.mean(tune_stream.engagement))} |")
    lines.append("")
    lines.append(f"Bearing error of the service on the report set: median {np.median(rv_b):.2f}, p95 "
                 f"{np.percentile(rv_b, 95):.2f} deg.\n")
    lines.append("Engagement accuracy of the service by how far the head is turned (tuning set): " + ", ".join(
        f"{g} {pct(np.mean(v))} (n={len(v)})" for g, v in sorted(tune_stream.engagement_by.items())) + ".\n")
    lines.append("Service recall and precision up to 3 m by condition (tuning set): " + ", ".join(
        f"{c} {pct(t.recall(near3))} / {pct(t.precision(near3))}" for c, t in by_condition.items()) + ".\n")
    lines.append("### Time per frame\n")
    ref, ref_cpu = np.median(timing.reference_ms), np.median(timing.reference_cpu)
    total, total_cpu = np.median(timing.stage_ms["total"]), np.median(timing.stage_cpu["total"])
    lines.append("The service's pipeline over every frame of both sets (ms), and the reference measured on the same "
                 "frames in the same run: one call of mediapipe's full-range face detector on the whole frame "
                 f"(median {ref:.2f} ms wall, {ref_cpu:.2f} ms CPU). Ratio = pipeline median / reference median.\n")
    lines.append("| stage | wall median | wall mean | wall p95 | CPU median | CPU p95 | median / reference |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    labels = {"convert": "BGR to RGB (then the frame is zeroed)",
              "detect": "detection (a tile or the full frame and a window, or the cascade)",
              "mesh": "verification and face mesh (every face found or followed)", "pose": "pose (scheduled)",
              "track": "tracker", "total": "**whole per-frame pipeline**"}
    for key, label in labels.items():
        v, c = np.array(timing.stage_ms[key]), np.array(timing.stage_cpu[key])
        lines.append(f"| {label} | {np.median(v):.2f} | {v.mean():.2f} | {np.percentile(v, 95):.2f} | "
                     f"{np.median(c):.2f} | {np.percentile(c, 95):.2f} | {np.median(v) / ref:.2f} |")
    sv_ms, rv = np.array(timing.still_ms), np.array(timing.render_ms)
    lines.append(f"| still image, every region + cascade + pose (CLI) | {np.median(sv_ms):.2f} | {sv_ms.mean():.2f} | "
                 f"{np.percentile(sv_ms, 95):.2f} | | | {np.median(sv_ms) / ref:.2f} |")
    lines.append(f"| simulated camera render (not on the device) | {np.median(rv):.2f} | {rv.mean():.2f} | "
                 f"{np.percentile(rv, 95):.2f} | | | |")
    lines.append("\nLoad average of this shared 2-core machine during the run (other engineers' work included; "
                 "wall-clock figures include waiting for a core, CPU time is what the work costs): "
                 f"{load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end.\n")
    cal_wall = {k: float(np.median(v)) for k, v in calibration.wall.items()}
    cal_cpu = {k: float(np.median(v)) for k, v in calibration.cpu.items()}
    slower = float(np.median([cal_wall[k] / FACTS_MS[k] for k in FACTS_MS]))
    calls_allowed = TARGET_MS / FACTS_MS["face detection"]
    calls_cpu, calls_wall = total_cpu / cal_cpu["face detection"], total / cal_wall["face detection"]
    lines.append(f"The {TARGET_MS:g} ms target was set where the environment's facts were measured on 640x480 "
                 "(face detection ~1.8 ms, face mesh 2.4-3.8 ms, pose ~18 ms; the ratios use 2.4 for the mesh, "
                 "its tracking mode). The same operations timed in this run on a 640x480 "
                 "photograph of a person (median wall / CPU ms): " + ", ".join(
                     f"{k} {cal_wall[k]:.2f} / {cal_cpu[k]:.2f}" for k in FACTS_MS) +
                 f". By wall-clock time this machine runs them {slower:.1f} times slower (median of the three "
                 f"ratios), so the target is checked as a ratio: at most {TARGET_MS:g} / {FACTS_MS['face detection']:g} = "
                 f"{calls_allowed:.1f} face-detection "
                 f"calls of this run. The pipeline's median is {calls_cpu:.1f} calls in CPU time and "
                 f"{calls_wall:.1f} in wall-clock time; in absolute terms {total_cpu:.1f} ms CPU here, about "
                 f"{total / slower:.1f} ms wall on the machine the target was set on.\n")
    empty_rate = rep_fp_stream / empties
    checks = [("precision >= 97 % up to 3 m (service, report set)", rep_stream.precision(near3) >= 0.97),
              ("recall >= 92 % up to 2 m (service, report set)", rep_stream.recall(near2) >= 0.92),
              ("recall >= 80 % at 2-3 m (service, report set)", rep_stream.recall([BANDS[2]]) >= 0.80),
              ("phantom people in <= 1 % of empty scenes (service, report set)", empty_rate <= 0.01),
              ("no print of a face ever a target", pm == 0),
              ("every living head a target by the end", len(alive) == len(rigid)),
              ("bearing error <= 2 deg (service p95, tuning set)", np.percentile(sv, 95) <= 2.0),
              (f"whole per-frame pipeline <= {TARGET_MS:g} ms median where face detection takes "
               f"{FACTS_MS['face detection']:g} ms, i.e. <= "
               f"{calls_allowed:.1f} face-detection calls of this run (CPU time {calls_cpu:.1f} calls, "
               f"{total_cpu:.1f} ms)", calls_cpu <= calls_allowed),
              (f"the same in wall-clock time on the shared machine ({calls_wall:.1f} calls, {total:.1f} ms)",
               calls_wall <= calls_allowed)]
    lines.append("Targets: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks) + ".")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("vision", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
