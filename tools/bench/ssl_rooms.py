"""Irregular-room scenes for the ssl benchmark: extruded polygons, per-wall materials, arrays near walls, 3 arrays."""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass

import numpy as np
from scipy.signal import fftconvolve

from device.sim.speech import SENTENCES, VOICES, cache_root, synthesize
from device.ssl.geometry import ArrayGeometry, parse_array

SCENE_VERSION = 1            # bump when the recipe changes, so cached renders are not reused
ISM_ORDER = 3                # exact image sources up to this order (every near-wall echo), ray tracing after
RAY_COUNT = 6000
LEAD_S = 0.6                 # audio before the talk (the estimators see the last PREROLL_S of it)


def _ring(n: int, radius: float, center: bool = False, offset_deg: float = 0.0) -> list[dict]:
    mics = [{"x": radius * math.cos(math.radians(offset_deg + 360.0 * k / n)),
             "y": radius * math.sin(math.radians(offset_deg + 360.0 * k / n)), "z": 0.0} for k in range(n)]
    return mics + ([{"x": 0.0, "y": 0.0, "z": 0.0}] if center else [])


# arrays the tuning of the estimator never saw (it was tuned on the two ReSpeaker presets)
ARRAYS: dict[str, ArrayGeometry] = {
    "square4": parse_array({"name": "square4", "sample_rate": 16000,
                            "mics": [{"x": sx * 0.0229, "y": sy * 0.0229, "z": 0.0}
                                     for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))]}),
    "ring6c": parse_array({"name": "ring6c", "sample_rate": 16000, "mics": _ring(6, 0.0463, center=True)}),
    "ring8": parse_array({"name": "ring8", "sample_rate": 16000, "mics": _ring(8, 0.050)}),
}


@dataclass
class RoomScene:
    kind: str                     # single | pair
    seed: int
    array: str                    # key of ARRAYS
    corners: list[list[float]]    # floor polygon, counter-clockwise, metres
    height: float
    walls: list[list[float]]      # per wall (then floor, ceiling): energy absorption, scattering
    near_wall_m: float | None     # gap between the nearest mic and a wall, if placed near one
    device: tuple[float, float, float]
    yaw_deg: float                # device frame azimuth 0 = this room-frame azimuth
    talkers: list[dict]           # azimuth (device frame), distance, height, voice, text
    interferer: dict | None       # kind (music | pink), azimuth, distance, sir_db
    noise: str                    # white | pink (diffuse)
    snr_db: float
    rt60_target: float


# ---- geometry -------------------------------------------------------------------------------------

def _polygon(rng: np.random.Generator) -> np.ndarray:
    """A floor plan: L-shape, trapezoid, cut-corner room or irregular convex hexagon, (N, 2) counter-clockwise."""
    w, d = float(rng.uniform(3.5, 8.0)), float(rng.uniform(3.0, 6.0))
    shape = int(rng.integers(4))
    if shape == 0:                                          # L: a rectangle with one corner block removed
        cw, cd = w * rng.uniform(0.3, 0.5), d * rng.uniform(0.3, 0.5)
        pts = [(0, 0), (w, 0), (w, d - cd), (w - cw, d - cd), (w - cw, d), (0, d)]
    elif shape == 1:                                        # trapezoid: one slanted side wall
        s = d * rng.uniform(0.15, 0.4)
        pts = [(0, 0), (w, 0), (w - s, d), (0, d)]
    elif shape == 2:                                        # a bay: the corner cut off at 45 degrees-ish
        a, b = w * rng.uniform(0.2, 0.4), d * rng.uniform(0.2, 0.4)
        pts = [(0, 0), (w, 0), (w, d - b), (w - a, d), (0, d)]
    else:                                                   # irregular convex hexagon around an ellipse
        ang = np.linspace(0, 2 * np.pi, 7)[:-1] + rng.uniform(-0.3, 0.3, 6)
        pts = [(w / 2 * (1 + math.cos(t)), d / 2 * (1 + math.sin(t))) for t in np.sort(ang)]
    p = np.array(pts, float)
    if _area(p) < 0:
        p = p[::-1]
    return p


def _area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _inside(p: np.ndarray, xy, margin: float) -> bool:
    """Point strictly inside the polygon and at least `margin` from every wall."""
    x, y = xy
    inside = False
    n = len(p)
    for i in range(n):
        (x1, y1), (x2, y2) = p[i], p[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside and _wall_distance(p, xy) >= margin


def _wall_distance(p: np.ndarray, xy) -> float:
    q = np.asarray(xy, float)
    best = math.inf
    for i in range(len(p)):
        a, b = p[i], p[(i + 1) % len(p)]
        t = np.clip(np.dot(q - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
        best = min(best, float(np.linalg.norm(q - (a + t * (b - a)))))
    return best


def _visible(p: np.ndarray, a, b, margin: float = 0.1) -> bool:
    """The straight line from a to b stays inside the room (no wall of an L-shape in between)."""
    return all(_inside(p, (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])), margin * min(t, 1 - t) * 2)
               for t in np.linspace(0.05, 0.95, 19))


def draw_room_scene(kind: str, seed: int, arrays: tuple[str, ...] = tuple(ARRAYS)) -> RoomScene:
    """A random scene: irregular room, per-wall absorption around a Sabine RT60 of 0.2..0.9 s, an array
    5..20 cm from a wall in a third of the scenes, one talker (or two >= 60 degrees apart, equally loud)."""
    rng = np.random.default_rng(seed)
    array = arrays[seed % len(arrays)]
    g = ARRAYS[array]
    for _ in range(200):
        poly = _polygon(rng)
        height = float(rng.uniform(2.4, 3.0))
        area = abs(_area(poly))
        perim = float(np.sum(np.linalg.norm(poly - np.roll(poly, -1, axis=0), axis=1)))
        surface = 2 * area + perim * height
        rt60 = float(rng.uniform(0.2, 0.9))
        mean_abs = float(np.clip(0.161 * area * height / (surface * rt60), 0.02, 0.9))
        walls = [[round(float(np.clip(mean_abs * rng.uniform(0.3, 1.8), 0.01, 0.95)), 3),
                  round(float(rng.uniform(0.05, 0.3)), 2)] for _ in range(len(poly) + 2)]
        near = rng.random() < 1 / 3
        gap = None
        if near:                                            # against a wall: pick one, stand `gap` from it
            i = int(rng.integers(len(poly)))
            a, b = poly[i], poly[(i + 1) % len(poly)]
            length = float(np.linalg.norm(b - a))
            if length < 1.5:
                continue
            gap = float(rng.uniform(0.05, 0.20))
            t = rng.uniform(0.6, length - 0.6) / length
            inward = np.array([-(b - a)[1], (b - a)[0]]) / length     # left of a->b is inside (CCW)
            xy = a + t * (b - a) + inward * (gap + g.radius)
            if not _inside(poly, xy, gap + g.radius - 1e-6) or _wall_distance(poly, xy) < gap + g.radius - 1e-3:
                continue
        else:
            lo, hi = poly.min(axis=0), poly.max(axis=0)
            xy = rng.uniform(lo, hi)
            if not _inside(poly, xy, 0.5):
                continue
        dev = (float(xy[0]), float(xy[1]), float(rng.uniform(0.75, 1.0)))
        yaw = float(rng.uniform(-180, 180))
        az = [float(rng.uniform(-180, 180))]
        if kind == "pair":
            az.append(az[0] + float(rng.choice([-1, 1]) * rng.uniform(60, 180)))
        dist = [float(rng.uniform(0.7, 3.5))]
        if kind == "pair":
            dist.append(float(np.clip(dist[0] * rng.uniform(0.8, 1.25), 0.7, 3.5)))
        ok = True
        for a_, r_ in zip(az, dist):
            pt = (dev[0] + r_ * math.cos(math.radians(a_ + yaw)), dev[1] + r_ * math.sin(math.radians(a_ + yaw)))
            ok = ok and _inside(poly, pt, 0.3) and _visible(poly, dev[:2], pt)
        if not ok:
            continue
        voices = rng.choice(len(VOICES), 2, replace=False)
        talkers = [{"azimuth": round(((a_ + 180) % 360) - 180, 2), "distance": round(r_, 2),
                    "height": round(float(rng.uniform(1.1, 1.8)), 2), "voice": VOICES[int(voices[k])],
                    "text": SENTENCES[int(rng.integers(len(SENTENCES)))]}
                   for k, (a_, r_) in enumerate(zip(az, dist))]
        interferer = None
        if rng.random() < (0.4 if kind == "single" else 0.2):
            for _ in range(100):
                ia = talkers[0]["azimuth"] + float(rng.choice([-1, 1]) * rng.uniform(40, 180))
                ir = float(rng.uniform(1.0, 3.5))
                pt = (dev[0] + ir * math.cos(math.radians(ia + yaw)), dev[1] + ir * math.sin(math.radians(ia + yaw)))
                if _inside(poly, pt, 0.3) and _visible(poly, dev[:2], pt):
                    interferer = {"kind": ("music", "pink")[int(rng.integers(2))],
                                  "azimuth": round(((ia + 180) % 360) - 180, 2), "distance": round(ir, 2),
                                  "sir_db": round(float(rng.uniform(5, 15)), 1)}
                    break
        noise = ("white", "pink")[int(rng.integers(2))]
        snr = round(float(rng.uniform(5, 30) if kind == "single" else rng.uniform(15, 30)), 1)
        return RoomScene(kind, seed, array, [[round(float(x), 3), round(float(y), 3)] for x, y in poly],
                         round(height, 2), walls, None if gap is None else round(gap, 3),
                         tuple(round(v, 3) for v in dev), round(yaw, 1), talkers, interferer, noise, snr,
                         round(rt60, 3))
    raise RuntimeError(f"could not draw a {kind} scene for seed {seed}")


# ---- signals --------------------------------------------------------------------------------------

def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return (x / (np.std(x) + 1e-12)).astype(np.float32)


def music(n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    """Plucked chords on a beat with a bass line: sharp onsets like real music, not a steady drone."""
    out = np.zeros(n)
    t = 0
    beat = int(fs * rng.uniform(0.25, 0.5))
    while t < n:
        root = 110.0 * 2 ** (int(rng.integers(0, 12)) / 12)
        for semis in (0, 4, 7, 12) if rng.random() < 0.5 else (0, 3, 7):
            f0 = root * 2 ** (semis / 12) * 2
            m = min(n - t, int(1.5 * fs))
            tt = np.arange(m) / fs
            env = np.exp(-tt / rng.uniform(0.2, 0.6)) * (1 - np.exp(-tt / 0.003))
            for h in range(1, 7):
                out[t:t + m] += env * np.sin(2 * np.pi * f0 * h * tt + rng.uniform(0, 6.28)) / h ** 1.5
        m = min(n - t, beat)
        tt = np.arange(m) / fs
        out[t:t + m] += 0.8 * np.exp(-tt / 0.03) * rng.standard_normal(m)      # a drum hit on each beat
        t += beat * int(rng.integers(1, 3))
    return (out / (np.std(out) + 1e-12)).astype(np.float32)


def _rirs(spec: RoomScene, src_xyz, mics: np.ndarray, fs: int) -> list[np.ndarray]:
    import pyroomacoustics as pra
    corners = np.array(spec.corners, float).T
    mats = [pra.Material(a, s) for a, s in spec.walls]
    room = pra.Room.from_corners(corners, fs=fs, max_order=ISM_ORDER, materials=mats[:-2], ray_tracing=True,
                                 air_absorption=False)
    room.extrude(spec.height, materials={"floor": mats[-2], "ceiling": mats[-1]})
    room.set_ray_tracing(n_rays=RAY_COUNT, receiver_radius=0.5)
    room.add_source(np.asarray(src_xyz, float))
    room.add_microphone_array(mics.T)
    np.random.seed(spec.seed % (2 ** 31))                   # ray tracing draws from numpy's global generator
    room.compute_rir()
    return [np.asarray(room.rir[m][0], float) for m in range(mics.shape[0])]


def mic_positions(spec: RoomScene) -> np.ndarray:
    g = ARRAYS[spec.array]
    c, s = math.cos(math.radians(spec.yaw_deg)), math.sin(math.radians(spec.yaw_deg))
    rel = (g.positions - g.center) @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
    return rel + np.array(spec.device)


def _point(spec: RoomScene, az: float, r: float, h: float):
    a = math.radians(az + spec.yaw_deg)
    return (spec.device[0] + r * math.cos(a), spec.device[1] + r * math.sin(a), h)


def render_room_scene(spec: RoomScene) -> tuple[np.ndarray, int, int, float]:
    """Mic signals (n, M), the talk's sample span and the measured RT60 (mic 0, talker 0); cached on disk."""
    key = hashlib.sha1(json.dumps([SCENE_VERSION, asdict(spec)]).encode()).hexdigest()[:20]
    path = cache_root() / "bench_ssl_rooms" / f"{key}.npz"
    if path.exists():
        z = np.load(path)
        return z["audio"].astype(np.float32) * float(z["scale"]), int(z["start"]), int(z["end"]), float(z["rt60"])
    from device.sim.acoustics import diffuse_field
    g = ARRAYS[spec.array]
    fs = g.sample_rate
    rng = np.random.default_rng(spec.seed + 11)
    mics = mic_positions(spec)
    lead = int(LEAD_S * fs)
    dry = [synthesize(t["text"], t["voice"], fs) for t in spec.talkers]
    if len(dry) > 1:                                        # simultaneous: both talk over the whole span
        dry = [s[: min(len(d) for d in dry)] for s in dry]
    talk = max(len(s) for s in dry)
    n = lead + talk + int(0.3 * fs)
    speech = np.zeros((n, g.n_mics))
    rt60 = float("nan")
    for k, (t, s) in enumerate(zip(spec.talkers, dry)):
        rirs = _rirs(spec, _point(spec, t["azimuth"], t["distance"], t["height"]), mics, fs)
        if k == 0:
            import pyroomacoustics as pra
            rt60 = float(pra.experimental.measure_rt60(rirs[0], fs))
        s = s / (np.std(s) + 1e-9)                          # equally loud at 1 m (pra's direct path is 1/r)
        for m in range(g.n_mics):
            y = fftconvolve(s, rirs[m])[: n - lead]
            speech[lead: lead + len(y), m] += y
    start, end = lead, lead + talk
    p_speech = np.mean(speech[start:end] ** 2)
    audio = speech.copy()
    if spec.interferer:
        it = spec.interferer
        sig = music(n, fs, rng) if it["kind"] == "music" else pink_noise(n, rng)
        rirs = _rirs(spec, _point(spec, it["azimuth"], it["distance"], 1.0), mics, fs)
        img = np.stack([fftconvolve(sig, rirs[m])[:n] for m in range(g.n_mics)], axis=1)
        audio += img * math.sqrt(p_speech / (np.mean(img ** 2) + 1e-20) / 10 ** (it["sir_db"] / 10))
    if spec.noise == "pink":
        src = np.stack([pink_noise(n, rng) for _ in range(24)])
        field = diffuse_field(mics, n, fs, rng, 24, sources=src)
    else:
        field = diffuse_field(mics, n, fs, rng, 48)
    audio += field.T * math.sqrt(p_speech / (np.mean(field ** 2) + 1e-20) / 10 ** (spec.snr_db / 10))
    scale = float(np.max(np.abs(audio))) / 32000 + 1e-12
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, audio=np.round(audio / scale).astype(np.int16), scale=scale, start=start, end=end, rt60=rt60)
    os.replace(tmp, path)
    return (np.round(audio / scale) * scale).astype(np.float32), start, end, rt60
