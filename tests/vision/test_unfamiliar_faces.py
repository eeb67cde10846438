"""Faces the simulator never shows: small and cropped heads become people, round decoys do not, and a print of
a face on the wall is static while a living head sitting still soon is not (real frame sequences)."""
import math
import zlib

import numpy as np
import pytest

from device.sim.camera_render import render_frame
from device.vision.camera_model import CameraModel, wrap_deg
from device.vision.cli import detect_people
from device.vision.pipeline import FramePipeline
from device.vision.tracker import Tracker
from tools.bench import vision_sets as vs

MODEL = CameraModel.from_hfov(640, 480, 66.0)
FPS = 15.0


def stream(detector, draw, frames, heading=0.0, tracker=None):
    """The service's pipeline and tracker over frames drawn by draw(f, t_s); yields (t_ns, published)."""
    pipeline = FramePipeline(detector, MODEL)
    tracker = tracker or Tracker()
    for f in range(frames):
        t_ns = int(f / FPS * 1e9)
        followed = [(t.box, t.confidence, t.track_id, t.verified) for t in tracker.tracks
                    if t.box is not None and t.source == "face"]
        seen = pipeline.process(draw(f, f / FPS), followed)
        yield t_ns, [t for t in tracker.update(t_ns, seen, heading) if t_ns - t.last_ns <= 300_000_000], tracker


def near(track, bearing, heading=0.0, tol=3.0):
    return abs(wrap_deg(track.world_az_deg - heading - bearing)) <= tol


def assert_a_person_within_20_frames(detector, draw, bearing):
    """The benchmark's 20 frames of a scene: someone is published at the bearing, nobody anywhere else."""
    confirmed = False
    for _, published, _ in stream(detector, draw, 20):
        assert all(near(t, bearing) for t in published), published
        confirmed = confirmed or bool(published)
    assert confirmed, "never a person"


def test_small_frontal_face_on_a_plain_wall_is_found(detector):
    """An LFW head (report half) 1 m away on a plain wall, about 76 px wide: mediapipe's face detector
    finds it rarely without head and shoulders around it; the cascade and the verifier do."""
    head = vs.lfw_head(63, tone=2)
    width_px = MODEL.fx * (head[0].shape[1] / (head[4] / vs.EYE_SPAN_M)) / 1.0
    assert 70 < 0.85 * width_px < 90                      # the face itself, within the crop's margin

    def draw(f, t_s):
        frame = vs.plain_wall(seed=f)
        vs.place_head(frame, MODEL, head, 8.0, 1.0, 1.15, t_s=t_s, key=3)
        return frame
    *_, (t_ns, published, _) = stream(detector, draw, 24)
    assert len(published) == 1 and near(published[0], 8.0, tol=2.0), published
    # The still-image path finds it too.
    found = detect_people(draw(0, None), 66.0, detector)
    assert len(found) == 1 and found[0].bearing_deg == pytest.approx(8.0, abs=2.0)


@pytest.mark.parametrize("index, tone, crop, distance, background", [
    (11, 3, "", 2.6, "room"),          # small: a face about 30 px wide
    (17, 5, "top", 1.4, "wall"),       # forehead cut off above the brows, darkest skin tone, plain wall
    (22, 2, "top", 1.8, "room"),
])
def test_small_or_cropped_heads_are_people_within_20_frames(detector, index, tone, crop, distance, background):
    """Heads of the tuning half that the face mesh cannot fit (too small, or the forehead cut off) were
    never confirmed while the mesh's presence check was the only way to become a person; both face
    detectors agreeing on them (the cascade finds these, the full-range detector finds them again
    around the cascade's box) confirms them within the benchmark's 20 frames of a scene."""
    head = vs.lfw_head(index, tone, crop)

    def draw(f, t_s):
        frame = vs.plain_wall(seed=f) if background == "wall" else render_frame([], 0.0, room=2, seed=f, model=MODEL)
        vs.place_head(frame, MODEL, head, -9.0, distance, 1.2, t_s=t_s, key=index)
        return frame
    assert_a_person_within_20_frames(detector, draw, -9.0)


@pytest.mark.parametrize("index, tone, crop, distance, bearing, eye_height", [
    (10, 5, "side", 2.5, -3.2, 1.0),   # 2.5 m, darkest skin tone, a third cut off at the side
    (4, 5, "", 2.0, -25.3, 1.45),      # darkest skin tone, near the edge of the view
])
def test_heads_the_tiles_miss_are_found_through_the_closer_windows(detector, index, tone, crop, distance,
                                                                   bearing, eye_height):
    """Bodiless tuning heads in a room that the full-range detector never found on the full frame or a
    tile in 20 frames (nor the cascade): the windows a third of the frame wide, one looked through with
    each of its turns, zoom in enough to find them, and they become people within the 20 frames."""
    head = vs.lfw_head(index, tone, crop)

    def draw(f, t_s):
        frame = render_frame([], 0.0, room=2, seed=f, model=MODEL)
        vs.place_head(frame, MODEL, head, bearing, distance, eye_height, t_s=t_s, key=index)
        return frame
    assert_a_person_within_20_frames(detector, draw, bearing)


def test_a_person_first_seen_sitting_still_is_a_target_within_two_seconds(detector):
    """The talker the device has just turned to (two_people: the astronaut 2.2 m away) must show a living
    head's micro-motion before the policy stops looking for them (1.5 s once still). Judged on the eye
    corners and the head axis it took about 3 s; on the mesh's centroid, well under 2."""
    people = [dict(id=2, azimuth_world_deg=110.0, distance_m=2.2, height_m=1.7, photo="astronaut")]
    alive = None
    for t_ns, published, tracker in stream(detector, lambda f, t_s: render_frame(people, 110.0, seed=f, room=1,
                                                                                  model=MODEL, t_s=t_s),
                                           int(2.0 * FPS), heading=110.0):
        if alive is None and any(near(t, 0.0, heading=110.0) and not tracker.is_static(t, t_ns) for t in published):
            alive = t_ns / 1e9
    assert alive is not None and alive <= 2.0, alive


@pytest.mark.parametrize("name", ["head phantom", "coin", "moon disc", "clock", "retina"])
def test_round_decoys_are_not_people(detector, name):
    """Round, textured things (mediapipe's full-range model takes the head phantom and the moon for faces, scores 0.6-0.77)
    at sizes from a coin in the hand to a framed picture: nobody, on a still image or in the service."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for k, (distance, height) in enumerate([(0.7, 1.05), (1.3, 1.2), (2.2, 1.4)]):
        bearing = float(rng.uniform(-20, 20))
        heading = float(rng.uniform(-180, 180))

        def draw(f, t_s, room=k % 4):
            frame = render_frame([], heading, room=room, seed=f, model=MODEL)
            vs.place_decoy(frame, MODEL, name, bearing, distance, height)
            return frame
        assert detect_people(draw(0, None), 66.0, detector) == [], (name, distance)
        *_, (_, published, _) = stream(detector, draw, 12, heading=heading)
        assert published == [], (name, distance)


def print_and_person(poster_photo="hopper"):
    """A framed photograph on the wall at +16 deg and a living person (who sways and breathes) seated
    at -14 deg, both about 1.6 m away."""
    posters = [dict(azimuth_world_deg=16.0, distance_m=1.6, height_m=1.25, width_m=0.45, photo=poster_photo)]
    people = [dict(id=4, azimuth_world_deg=-14.0, distance_m=1.6, height_m=1.3, photo="astronaut")]
    return lambda f, t_s: render_frame(people, 0.0, seed=f, room=1, posters=posters, model=MODEL, t_s=t_s)


def test_print_on_the_wall_is_static_and_a_still_person_is_not(detector):
    """From its first sighting on, the photograph is static (never someone to turn to); the seated
    person shows a living head's micro-motion within a few seconds and is not."""
    frames = int(6.0 * FPS)
    history = {"print": [], "person": []}
    for t_ns, published, tracker in stream(detector, print_and_person(), frames):
        for t in published:
            who = "print" if near(t, 16.0) else "person" if near(t, -14.0) else "other"
            assert who != "other", t
            history[who].append(tracker.is_static(t, t_ns))
    assert history["print"] and all(history["print"]), "the photograph never moved"
    assert history["person"] and not any(history["person"][-20:]), "the seated person sways and breathes"
    first_alive = history["person"].index(False)
    assert first_alive / FPS < 3.5


def test_micro_motion_is_small_and_seeded():
    """The simulator's living head moves by millimetres to a couple of centimetres, differently per person."""
    from device.sim.camera_render import micro_motion
    a = np.array([micro_motion(1, t) for t in np.arange(0, 20, 0.1)])
    b = np.array([micro_motion(2, t) for t in np.arange(0, 20, 0.1)])
    assert 0.005 < np.abs(a).max() < 0.03 and not np.allclose(a, b)
    assert micro_motion(1, 3.3) == micro_motion(1, 3.3)
    assert math.isfinite(float(a.std()))


def test_a_small_face_in_a_dim_poster_stays_static(detector):
    """The cameraman's photograph as a poster 1.2 m away in a dim room: his face in it is about 14 px
    between the eyes, where the mesh's centroid wobbles by about a pixel from block to block, 0.07 eye
    spans. That made the print a target after 2.3 s (a tuning sequence of the benchmark's rigid rule, run
    as the benchmark runs it); a shift must also exceed the jitter in pixels. The bodiless head seated
    2 m away still becomes a target."""
    from tools.bench.bench_vision import draw_scene, run_stream
    heading = 156.36
    posters = [dict(azimuth_world_deg=3.6, distance_m=1.197, height_m=1.287, width_m=0.45, photo="cameraman")]
    scene = dict(heads=[(19, 3, "", -17.82, 2.078, 1.163)], decoys=[], truths=[], background="room", condition="dim")
    seen = {"print": [], "person": []}

    def every(f, t_ns, published, tracker):
        for t in published:
            who = "print" if near(t, 3.6, heading, 6.0) else "person" if near(t, -17.8, heading, 6.0) else "other"
            assert who != "other", t
            seen[who].append(tracker.is_static(t, t_ns))
    run_stream(detector, MODEL, lambda f, t_s: draw_scene(scene, MODEL, heading, 1, 20_000 + f, t_s, posters=posters,
                                                          key=501),
               heading, int(5.0 * FPS), ("rigid", 1), every=every)
    assert seen["print"] and all(seen["print"]), "the poster was published as someone to turn to"
    assert seen["person"] and not seen["person"][-1], "the seated head sways and breathes"
