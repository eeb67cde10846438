"""SSL benchmark: Swivel's estimator against pyroomacoustics' DOA methods on simulated reverberant rooms."""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from device.sim.acoustics import diffuse_field, room_impulse_responses   # noqa: E402
from device.sim.speech import SENTENCES, VOICES, cache_root, program_material, synthesize  # noqa: E402
from device.ssl.estimator import EstimatorParams, SrpPhatEstimator, angular_distance  # noqa: E402
from device.ssl.geometry import ArrayGeometry, load_array                 # noqa: E402
from tools.bench.benchmarks_md import write_section                       # noqa: E402
from tools.bench.ssl_rooms import ARRAYS, draw_room_scene, render_room_scene  # noqa: E402

SCENE_VERSION = 5            # bump when the scene recipe changes, so the cache is not reused
PRA_METHODS = ("SRP", "MUSIC", "NormMUSIC", "TOPS")
PRA_FREQ_RANGE = (300.0, 5500.0)   # their best of 300-3500, 300-5500, 300-7800, 500-4000 Hz on 80 scenes
PREROLL_S = 0.3              # audio before the utterance the estimators see (what the service analyses)
RT60_BANDS = ((0.2, 0.4), (0.4, 0.6), (0.6, 0.9))
SNR_BANDS = ((0.0, 10.0), (10.0, 20.0), (20.0, 30.0))


@dataclass
class SceneSpec:
    kind: str                # single | pair | rom
    seed: int
    preset: str
    room: tuple[float, float, float]
    rt60: float
    snr_db: float
    noise: str               # white | babble
    device: tuple[float, float, float]
    talkers: list[dict]      # azimuth, distance, height, voice, text
    interferer: dict | None  # azimuth, distance, sir_db
    rom: tuple[float, float] | None


def draw_scene(kind: str, seed: int) -> SceneSpec:
    """A random scene inside the benchmark's ranges (rooms 3x3..8x6 m, RT60 0.2..0.9 s, SNR 0..30 dB)."""
    rng = np.random.default_rng(seed)
    preset = ("respeaker4", "respeaker6")[seed % 2]
    w, d = float(rng.uniform(3, 8)), float(rng.uniform(3, 6))
    w, d = max(w, d), min(w, d)
    room = (round(w, 2), round(d, 2), round(float(rng.uniform(2.4, 3.0)), 2))
    rt60 = round(float(rng.uniform(0.2, 0.9)), 3)
    snr = round(float(rng.uniform(0, 30)), 1) if kind == "single" else round(float(rng.uniform(15, 30)), 1)
    noise = ("white", "babble")[int(rng.integers(2))]
    for _ in range(1000):
        dev = (float(rng.uniform(0.4, w - 0.4)), float(rng.uniform(0.4, d - 0.4)), float(rng.uniform(0.75, 1.0)))
        az = [float(rng.uniform(-180, 180))]
        if kind == "pair":
            az.append(float(az[0] + rng.choice([-1, 1]) * rng.uniform(90, 180)))
        if kind == "rom":
            az = [float(rng.choice([-1, 1]) * rng.uniform(110, 180))]
        dist = [float(rng.uniform(0.5, 4.0))]
        if kind == "pair":                               # equal level at the device: about equally far
            dist.append(float(np.clip(dist[0] * rng.uniform(0.8, 1.25), 0.5, 4.0)))
        if all(_inside(dev, a, r, room) for a, r in zip(az, dist)):
            break
    talkers = [{"azimuth": round(((a + 180) % 360) - 180, 2), "distance": round(r, 2),
                "height": round(float(rng.uniform(1.1, 1.8)), 2),
                "voice": VOICES[int(rng.integers(len(VOICES)))],
                "text": SENTENCES[int(rng.integers(len(SENTENCES)))]} for a, r in zip(az, dist)]
    interferer = None
    if kind == "single" and rng.random() < 0.3:
        for _ in range(200):
            ia = float(talkers[0]["azimuth"] + rng.choice([-1, 1]) * rng.uniform(40, 180))
            ir = float(rng.uniform(1.0, 3.5))
            if _inside(dev, ia, ir, room):
                interferer = {"azimuth": round(((ia + 180) % 360) - 180, 2), "distance": round(ir, 2),
                              "sir_db": round(float(rng.uniform(5, 15)), 1)}
                break
    rom = (-90.0, 90.0) if kind == "rom" else None
    return SceneSpec(kind, seed, preset, room, rt60, snr, noise, tuple(round(v, 2) for v in dev), talkers,
                     interferer, rom)


def _inside(dev, az_deg, r, room, margin=0.3) -> bool:
    x = dev[0] + r * math.cos(math.radians(az_deg))
    y = dev[1] + r * math.sin(math.radians(az_deg))
    return margin <= x <= room[0] - margin and margin <= y <= room[1] - margin


def _babble_bank(fs: int) -> np.ndarray:
    """Sixteen 8 s tracks of three-voice babble, made once and cached (babble sources of the diffuse field)."""
    path = cache_root() / "bench_ssl" / f"babble_bank_{fs}.npy"
    if path.exists():
        return np.load(path)
    tracks = []
    for k in range(16):
        t = sum(np.roll(program_material(8.0, fs, seed=100 * k + j, music_share=0.0), 4000 * j) for j in range(3))
        tracks.append(t / (np.std(t) + 1e-9))
    bank = np.stack(tracks).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, bank)
    return bank


def render_scene(spec: SceneSpec) -> tuple[np.ndarray, int, int]:
    """Mic signals of a scene and the sample span of the talk (start, end); cached on disk."""
    key = hashlib.sha1(json.dumps([SCENE_VERSION, asdict(spec)]).encode()).hexdigest()[:20]
    path = cache_root() / "bench_ssl" / f"{key}.npz"
    if path.exists():
        z = np.load(path)
        return z["audio"].astype(np.float32) * float(z["scale"]), int(z["start"]), int(z["end"])
    g = load_array(spec.preset)
    fs = g.sample_rate
    rng = np.random.default_rng(spec.seed + 7)
    mics = g.positions - g.center + np.array(spec.device)
    lead = int(0.6 * fs)
    dry = [synthesize(t["text"], t["voice"], fs) for t in spec.talkers]
    if len(dry) > 1:                                     # simultaneous: both talk for the whole span
        dry = [s[: min(len(d) for d in dry)] for s in dry]
    n = lead + max(len(s) for s in dry) + int(0.3 * fs)
    speech = np.zeros((n, g.n_mics))
    for t, s in zip(spec.talkers, dry):
        src = _room_point(spec, t["azimuth"], t["distance"], t["height"])
        rirs = room_impulse_responses(spec.room, spec.rt60, src, mics, fs, seed=spec.seed)
        s = s / (np.std(s) + 1e-9)                       # every talker equally loud at 1 m
        image = np.zeros((n, g.n_mics))
        for m in range(g.n_mics):
            y = np.convolve(s, rirs[m])[: n - lead]
            image[lead: lead + len(y), m] = y
        speech += image
    start, end = lead, lead + max(len(s) for s in dry)
    p_speech = np.mean(speech[start:end] ** 2)
    audio = speech.copy()
    if spec.interferer:
        it = spec.interferer
        prog = program_material(n / fs + 0.1, fs, seed=spec.seed)[:n]
        rirs = room_impulse_responses(spec.room, spec.rt60, _room_point(spec, it["azimuth"], it["distance"], 1.0),
                                      mics, fs, seed=spec.seed + 1)
        tv = np.stack([np.convolve(prog, rirs[m])[:n] for m in range(g.n_mics)], axis=1)
        audio += tv * math.sqrt(p_speech / (np.mean(tv ** 2) + 1e-20) / 10 ** (it["sir_db"] / 10))
    if spec.noise == "babble":
        bank = _babble_bank(fs)
        picks = rng.choice(len(bank), 12, replace=False)
        src = np.stack([np.resize(np.roll(bank[i], int(rng.integers(bank.shape[1]))), n) for i in picks])
        field = diffuse_field(mics, n, fs, rng, 12, sources=src)
    else:
        field = diffuse_field(mics, n, fs, rng, 48)
    audio += field.T * math.sqrt(p_speech / (np.mean(field ** 2) + 1e-20) / 10 ** (spec.snr_db / 10))
    scale = float(np.max(np.abs(audio))) / 32000 + 1e-12
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, audio=np.round(audio / scale).astype(np.int16), scale=scale, start=start, end=end)
    os.replace(tmp, path)
    return (np.round(audio / scale) * scale).astype(np.float32), start, end


def _room_point(spec: SceneSpec, az: float, r: float, h: float):
    return (spec.device[0] + r * math.cos(math.radians(az)), spec.device[1] + r * math.sin(math.radians(az)), h)


# ---- the methods ----------------------------------------------------------------------------------

_ESTIMATORS: dict[str, SrpPhatEstimator] = {}


def geometry(name: str) -> ArrayGeometry:
    """A ReSpeaker preset, or one of the irregular-room set's arrays (square4, ring6c, ring8)."""
    return ARRAYS[name] if name in ARRAYS else load_array(name)


def swivel_locate(audio, preset, rom=None):
    est = _ESTIMATORS.setdefault(preset, SrpPhatEstimator(geometry(preset)))
    return est.locate(audio, rom=rom)


def pra_locate(audio, preset, method: str) -> float:
    import pyroomacoustics as pra
    g = geometry(preset)
    nfft = 512
    X = np.array([pra.transform.stft.analysis(audio[:, m], nfft, nfft // 2).T for m in range(g.n_mics)])
    grid = np.radians(np.arange(-180.0, 180.0, 1.0))
    doa = pra.doa.algorithms[method]((g.positions - g.center)[:, :2].T, g.sample_rate, nfft, c=343.0,
                                     num_src=1, azimuth=grid)
    doa.locate_sources(X, freq_range=list(PRA_FREQ_RANGE))
    return float(np.degrees(doa.azimuth_recon[0]))


def evaluate(spec_dict: dict) -> dict:
    """Render one scene and run every method on the wake-word span; errors in degrees, CPU seconds."""
    spec = SceneSpec(**spec_dict)
    audio, start, end = render_scene(spec)
    fs = load_array(spec.preset).sample_rate
    seg = audio[max(0, start - int(PREROLL_S * fs)): end]
    seconds = len(seg) / fs
    truth = [t["azimuth"] for t in spec.talkers]
    out = {"kind": spec.kind, "seed": spec.seed, "preset": spec.preset, "rt60": spec.rt60,
           "snr": spec.snr_db, "interferer": spec.interferer is not None, "seconds": seconds, "truth": truth}
    t0 = time.process_time()
    r = swivel_locate(seg, spec.preset, rom=spec.rom)
    out["swivel"] = {"az": r.azimuth_deg, "ambiguous": r.ambiguous, "confidence": r.confidence,
                     "cpu": time.process_time() - t0,
                     "err": None if r.azimuth_deg is None else float(angular_distance(r.azimuth_deg, truth[0]))}
    if spec.kind == "single":
        for m in PRA_METHODS:
            t0 = time.process_time()
            az = pra_locate(seg, spec.preset, m)
            out[m] = {"az": az, "cpu": time.process_time() - t0, "err": float(angular_distance(az, truth[0]))}
    return out


# ---- irregular rooms: the ambiguity decision on rooms and arrays it was not tuned on --------------

ROOM_TUNE_ARRAYS = ("square4", "ring6c")        # the tuning draw's arrays; ring8 only in the report draw
ROOM_TUNE_SEEDS = (1000, 2000)                  # single-talker, two-talker seed bases of the tuning draw
ROOM_REPORT_SEEDS = (900000, 910000)            # ...and of the report draw, never tuned on


def room_specs(singles: int, pairs: int, report: bool = True) -> list[dict]:
    base, arrays = (ROOM_REPORT_SEEDS, tuple(ARRAYS)) if report else (ROOM_TUNE_SEEDS, ROOM_TUNE_ARRAYS)
    return ([asdict(draw_room_scene("single", base[0] + s, arrays)) for s in range(singles)]
            + [asdict(draw_room_scene("pair", base[1] + s, arrays)) for s in range(pairs)])


def evaluate_room(spec_dict: dict) -> dict:
    """One irregular-room scene: Swivel (azimuth, ambiguity and its evidence) and, for one talker,
    pyroomacoustics' methods on the same span."""
    from tools.bench.ssl_rooms import RoomScene
    spec = RoomScene(**spec_dict)
    audio, start, end, rt60 = render_room_scene(spec)
    fs = ARRAYS[spec.array].sample_rate
    seg = audio[max(0, start - int(PREROLL_S * fs)): end]
    truth = [t["azimuth"] for t in spec.talkers]
    out = {"kind": spec.kind, "seed": spec.seed, "preset": spec.array, "rt60": rt60, "snr": spec.snr_db,
           "near_wall": spec.near_wall_m is not None,
           "interferer": spec.interferer["kind"] if spec.interferer else None,
           "seconds": len(seg) / fs, "truth": truth, "corners": len(spec.corners)}
    t0 = time.process_time()
    r = swivel_locate(seg, spec.array)
    out["swivel"] = {"az": r.azimuth_deg, "ambiguous": r.ambiguous, "confidence": r.confidence,
                     "cpu": time.process_time() - t0, "evidence": r.evidence,
                     "candidates": [c[0] for c in r.candidates],
                     "second_peak": r.candidates[1][1] if len(r.candidates) > 1 else 0.0,
                     "err": None if r.azimuth_deg is None else float(angular_distance(r.azimuth_deg, truth[0]))}
    earlier = _ESTIMATORS.setdefault(spec.array + ":votes", SrpPhatEstimator(
        geometry(spec.array), EstimatorParams(ambiguity_rule="votes")))
    out["earlier_rule_ambiguous"] = earlier.locate(seg).ambiguous
    if spec.kind == "single":
        for m in PRA_METHODS:
            t0 = time.process_time()
            az = pra_locate(seg, spec.array, m)
            out[m] = {"az": az, "cpu": time.process_time() - t0, "err": float(angular_distance(az, truth[0]))}
    return out


def room_section(rows: list[dict]) -> list[str]:
    single = [r for r in rows if r["kind"] == "single"]
    pairs = [r for r in rows if r["kind"] == "pair"]
    methods = ("swivel",) + PRA_METHODS

    def flag(sel):
        return float(np.mean([r["swivel"]["ambiguous"] for r in sel])) if sel else float("nan")
    lines = ["### Irregular rooms: accuracy and the ambiguous flag (report draw)", "",
             f"{len(single)} single-talker and {len(pairs)} two-talker scenes (seeds {ROOM_REPORT_SEEDS[0]}+ and "
             f"{ROOM_REPORT_SEEDS[1]}+, `tools/bench/ssl_rooms.py`): pyroomacoustics `Room.from_corners` floor plans "
             "(L-shapes, trapezoids, cut corners, irregular hexagons; 3.5x3 to 8x6 m) extruded to 2.4-3 m, each wall, "
             "floor and ceiling with its own absorption (spread x0.3 to x1.8 around a Sabine RT60 of 0.2-0.9 s) and "
             "scattering; image sources to order 3 (every wall echo) then pyroomacoustics ray tracing. Arrays: "
             "4-mic square at +-22.9 mm, 6-mic ring (46.3 mm) with a centre mic, 8-mic ring of 50 mm radius, "
             "turned at random; in a third of the scenes the array stands 5-20 cm (nearest mic) from a wall. "
             "Music (plucked chords and drums) or pink-noise point interferers at SIR 5-15 dB in 40 % of the "
             "single-talker scenes (20 % of the pairs); diffuse white or pink noise, SNR 5-30 dB (pairs 15-30). "
             "Two talkers: >= 60 degrees apart, equally loud at 1 m, 0.8-1.25x each other's distance, speaking "
             "at once over the whole span. RT60 in the tables is measured on the rendered response.", "",
             f"Tuning draw (the ambiguity weights were fitted on it, `--fit-ambiguity`): the shoebox set's single "
             f"seeds 0-159 and pair seeds 10000-10039, plus irregular rooms with seeds {ROOM_TUNE_SEEDS[0]}+ "
             f"(90 single) and {ROOM_TUNE_SEEDS[1]}+ (46 pairs) on the square4 and ring6c arrays only. The ring8 "
             "array and every room of this report draw were never tuned on.", "",
             "| group | n | " + " | ".join(f"{m} median / p90 / gross" for m in methods) + " | flagged ambiguous |",
             "| --- | --- | " + " | ".join("---" for _ in methods) + " | --- |"]
    groups = [("all single", single)] + [(a, [r for r in single if r["preset"] == a]) for a in ARRAYS] + [
        ("near a wall", [r for r in single if r["near_wall"]]),
        ("away from walls", [r for r in single if not r["near_wall"]]),
        ("music interferer", [r for r in single if r["interferer"] == "music"]),
        ("pink-noise interferer", [r for r in single if r["interferer"] == "pink"]),
        ("no interferer", [r for r in single if r["interferer"] is None])] + [
        (f"RT60 {a}-{b} s", [r for r in single if _in_band(r["rt60"], (a, b), RT60_BANDS)]) for a, b in RT60_BANDS]
    for name, sel in groups:
        if sel:
            cells = []
            for m in methods:
                med, p90, gross = _stats([r[m]["err"] for r in sel])
                cells.append(f"{med:.1f} / {p90:.1f} / {100 * gross:.0f} %")
            lines.append(f"| {name} | {len(sel)} | " + " | ".join(cells) + f" | {100 * flag(sel):.1f} % |")
    lines += ["", "| two talkers | n | flagged ambiguous | both found (candidates within 10 deg) |",
              "| --- | --- | --- | --- |"]
    for name, sel in [("all", pairs)] + [(a, [r for r in pairs if r["preset"] == a]) for a in ARRAYS] + [
            ("near a wall", [r for r in pairs if r["near_wall"]])]:
        if sel:
            both = np.mean([_found_both(r) for r in sel])
            lines.append(f"| {name} | {len(sel)} | {100 * flag(sel):.0f} % | {100 * both:.0f} % |")
    med, p90, gross = _stats([r["swivel"]["err"] for r in single])
    theirs = {m: _stats([r[m]["err"] for r in single]) for m in PRA_METHODS}
    best = min(theirs, key=lambda m: theirs[m][0])
    better = med < theirs[best][0] and gross <= min(v[2] for v in theirs.values())
    def earlier(sel):
        return float(np.mean([r["earlier_rule_ambiguous"] for r in sel])) if sel else float("nan")
    lines += ["", f"The earlier rule (vote share >= 0.25 or a second map peak at 0.8, `ambiguity_rule = \"votes\"`) "
              f"on the same recordings: {100 * earlier(pairs):.0f} % of the two-talker and {100 * earlier(single):.1f} % "
              "of the single-talker scenes flagged. The azimuths do not depend on the rule.",
              "", "Targets on this draw:",
              f"- two talkers flagged ambiguous in {100 * flag(pairs):.0f} % of {len(pairs)} (>= 90 %): "
              f"{'met' if flag(pairs) >= 0.9 else 'NOT met'}",
              f"- single talkers flagged ambiguous in {100 * flag(single):.1f} % of {len(single)} (<= 5 %): "
              f"{'met' if flag(single) <= 0.05 else 'NOT met'}",
              f"- accuracy: median {med:.1f} deg, p90 {p90:.1f}, gross {100 * gross:.0f} % vs the best "
              f"pyroomacoustics median {theirs[best][0]:.1f} ({best}), best gross "
              f"{100 * min(v[2] for v in theirs.values()):.0f} %: {'better' if better else 'NOT better'}", ""]
    return lines


def _found_both(row: dict) -> bool:
    cands = row["swivel"].get("candidates") or []
    return all(any(angular_distance(c, t) <= 10 for c in cands) for t in row["truth"])


def fit_ambiguity(workers: int) -> None:
    """Fit the ambiguity score's weights on the tuning draw (logistic regression) and print rates by threshold."""
    from scipy.optimize import minimize
    specs = ([asdict(draw_scene("single", s)) for s in range(160)]
             + [asdict(draw_scene("pair", 10000 + s)) for s in range(40)])
    room = room_specs(90, 46, report=False)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(_evidence_row, [("box", d) for d in specs] + [("room", d) for d in room], chunksize=4))
    cand = [r for r in rows if r["evidence"]]
    y = np.array([r["kind"] == "pair" for r in cand], float)
    x = np.array([[np.log(max(r["evidence"]["votes"], 1e-3)), r["evidence"]["persistence"], r["evidence"]["power"],
                   r["evidence"]["subwindow"], r["evidence"]["winner_left"], r["evidence"]["coherence"]]
                  for r in cand])
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.c_[np.ones(len(x)), (x - mu) / sd]

    def loss(b):
        t = z @ b
        return float(np.sum(np.logaddexp(0, t) - y * t) + 0.1 * np.sum(b[1:] ** 2))
    b = minimize(loss, np.zeros(z.shape[1]), method="BFGS").x
    w = np.r_[b[0] - np.sum(b[1:] * mu / sd), b[1:] / sd]
    w = np.r_[w[:6], 0.0, w[6:]]                     # the summed map's second peak gets no weight
    print("ambiguity_weights =", tuple(round(float(v), 2) for v in w))
    score = np.c_[np.ones(len(x)), x[:, :5], np.zeros(len(x)), x[:, 5:]] @ w
    n_single, n_pair = sum(r["kind"] == "single" for r in rows), sum(r["kind"] == "pair" for r in rows)
    for th in np.arange(-1.0, 1.01, 0.25):
        print(f"  threshold {th:+.2f}: singles flagged {100 * np.sum((score >= th) & (y == 0)) / n_single:.1f} %, "
              f"pairs {100 * np.sum((score >= th) & (y == 1)) / n_pair:.1f} %")


def _evidence_row(job) -> dict:
    src, d = job
    if src == "room":
        r = evaluate_room_swivel(d)
    else:
        spec = SceneSpec(**d)
        audio, start, end = render_scene(spec)
        seg = audio[max(0, start - int(PREROLL_S * 16000)): end]
        r = {"kind": spec.kind, "res": swivel_locate(seg, spec.preset)}
    return {"kind": r["kind"], "evidence": r["res"].evidence}


def evaluate_room_swivel(spec_dict: dict) -> dict:
    from tools.bench.ssl_rooms import RoomScene
    spec = RoomScene(**spec_dict)
    audio, start, end, _ = render_room_scene(spec)
    seg = audio[max(0, start - int(PREROLL_S * ARRAYS[spec.array].sample_rate)): end]
    return {"kind": spec.kind, "res": swivel_locate(seg, spec.array)}


# ---- streaming cost --------------------------------------------------------------------------------

def streaming_rtf(seconds: float = 60.0) -> dict:
    """CPU cost of the service's streaming path (VAD, ring buffer, wake-event estimates) per second of audio."""
    from device.ssl.stream import SslStream
    g = load_array("respeaker6")
    fs = g.sample_rate
    spec = draw_scene("single", 424242)
    spec.preset = "respeaker6"
    audio, start, end = render_scene(spec)
    reps = int(math.ceil(seconds * fs / len(audio)))
    long = np.concatenate([audio] * reps)[: int(seconds * fs)]
    stream = SslStream(g)
    block = 1024
    t_ns = 0
    results = 0
    t0 = time.process_time()
    for i in range(0, len(long) - block + 1, block):
        t_ns = int(i / fs * 1e9)
        results += len(stream.push(t_ns, long[i: i + block]))
        # one wake event per repetition of the scene, arriving after the utterance like a wake engine's
        k = (i + block) // len(audio)
        within = (i + block) % len(audio)
        if within < block and k >= 1:
            s_ns = int(((k - 1) * len(audio) + start) / fs * 1e9)
            e_ns = int(((k - 1) * len(audio) + end) / fs * 1e9)
            if stream.localize(s_ns, e_ns) is not None:
                results += 1
    cpu = time.process_time() - t0
    return {"seconds": seconds, "cpu_s": cpu, "rtf": seconds / cpu, "core_share": cpu / seconds,
            "estimates": results}


# ---- report ---------------------------------------------------------------------------------------

def _in_band(v: float, band: tuple[float, float], bands) -> bool:
    """Half-open bands [a, b), except that the last band also holds its upper edge."""
    a, b = band
    return a <= v < b or (band == bands[-1] and v == b)


def _stats(errs) -> tuple[float, float, float]:
    e = np.asarray([x if x is not None else 180.0 for x in errs], float)
    if e.size == 0:
        return float("nan"), float("nan"), float("nan")
    return float(np.median(e)), float(np.percentile(e, 90)), float(np.mean(e > 15.0))


def report(rows: list[dict], rtf: dict, cmd: str, elapsed_s: float) -> str:
    single = [r for r in rows if r["kind"] == "single"]
    methods = ("swivel",) + PRA_METHODS
    lines = ["## Sound source localization (Swivel's SRP-PHAT vs pyroomacoustics)", "",
             f"Command: `{cmd}` ({len(single)} single-talker scenes, "
             f"{sum(r['kind'] == 'pair' for r in rows)} two-talker, {sum(r['kind'] == 'rom' for r in rows)} outside-ROM; "
             f"run took {elapsed_s / 60:.1f} min on 2 shared cores, scenes cached under $SWIVEL_CACHE/bench_ssl).", "",
             "Scenes: pyroomacoustics shoebox rooms 3x3 to 8x6 m (image sources to order 17, then a diffuse "
             "exponential tail at the room's RT60), RT60 0.2 to 0.9 s, diffuse white or babble noise at "
             "SNR 0 to 30 dB (speech power over the utterance at the mics vs noise), a TV-like point interferer "
             "(speech and music, SIR 5 to 15 dB) in about 30 % of scenes, talker 0.5 to 4 m away at 1.1 to 1.8 m "
             "height, array 0.75 to 1 m high, both ReSpeaker presets alternating, espeak-ng speech in "
             f"{len(VOICES)} voices. Every method sees the same span: the utterance plus {PREROLL_S} s before it. "
             f"pyroomacoustics methods: STFT 512/256, {PRA_FREQ_RANGE[0]:.0f} to {PRA_FREQ_RANGE[1]:.0f} Hz, "
             "1 degree grid. Error = angular distance to the talker's true azimuth; gross = over 15 degrees.", "",
             "Swivel's parameters (band, weights, vote thresholds) were tuned on single-talker seeds 0-159 and "
             "two-talker seeds 10000-10039 of this set; pyroomacoustics got its best of four frequency ranges. "
             "`--seed-base N` draws a fresh set to check the figures hold out of sample.", ""]

    def table(title, groups):
        out = [f"### {title}", "", "| group | n | " + " | ".join(
            f"{m} median / p90 / gross" for m in methods) + " | swivel ambiguous |",
            "| --- | --- | " + " | ".join("---" for _ in methods) + " | --- |"]
        for name, sel in groups:
            if not sel:
                continue
            cells = []
            for m in methods:
                med, p90, gross = _stats([r[m]["err"] for r in sel])
                cells.append(f"{med:.1f} / {p90:.1f} / {100 * gross:.0f} %")
            amb = np.mean([r["swivel"]["ambiguous"] for r in sel])
            out.append(f"| {name} | {len(sel)} | " + " | ".join(cells) + f" | {100 * amb:.0f} % |")
        return out + [""]

    lines += table("All single-talker scenes", [("all", single)])
    lines += table("By RT60", [(f"RT60 {a}-{b} s", [r for r in single if _in_band(r["rt60"], (a, b), RT60_BANDS)])
                               for a, b in RT60_BANDS])
    lines += table("By SNR", [(f"SNR {a:.0f}-{b:.0f} dB", [r for r in single if _in_band(r["snr"], (a, b), SNR_BANDS)])
                              for a, b in SNR_BANDS])
    lines += table("By array", [(p, [r for r in single if r["preset"] == p]) for p in ("respeaker4", "respeaker6")])
    lines += table("With / without a point interferer", [
        ("with TV", [r for r in single if r["interferer"]]), ("without", [r for r in single if not r["interferer"]])])
    target = [r for r in single if r["rt60"] <= 0.6 and r["snr"] >= 10]
    lines += table("Target set: RT60 <= 0.6 s and SNR >= 10 dB", [("target set", target)])

    def cpu_row(name, sel):
        secs = sum(r["seconds"] for r in sel)
        return f"| {name} | {len(sel)} | " + " | ".join(
            f"{1000 * sum(r[m]['cpu'] for r in sel) / secs:.1f} ms" for m in methods) + " |"
    lines += ["### CPU time per second of audio (offline, whole span)", "",
              "| group | n | " + " | ".join(methods) + " |", "| --- | --- |" + " --- |" * len(methods),
              cpu_row("all", single)]
    for a, b in RT60_BANDS:
        sel = [r for r in single if _in_band(r["rt60"], (a, b), RT60_BANDS)]
        if sel:
            lines.append(cpu_row(f"RT60 {a}-{b} s", sel))
    for a, b in SNR_BANDS:
        sel = [r for r in single if _in_band(r["snr"], (a, b), SNR_BANDS)]
        if sel:
            lines.append(cpu_row(f"SNR {a:.0f}-{b:.0f} dB", sel))
    lines.append("")

    pairs = [r for r in rows if r["kind"] == "pair"]
    roms = [r for r in rows if r["kind"] == "rom"]
    amb_pairs = float(np.mean([r["swivel"]["ambiguous"] for r in pairs])) if pairs else float("nan")
    none_rom = float(np.mean([r["swivel"]["az"] is None for r in roms])) if roms else float("nan")
    lines += ["### Two talkers and the range of motion", "",
              f"- Two simultaneous talkers of equal level, 90 to 180 degrees apart (SNR 15-30 dB): flagged "
              f"ambiguous in {100 * amb_pairs:.0f} % of {len(pairs)} scenes (target >= 90 %).",
              f"- One talker outside the range of motion (ROM -90..90 deg, talker at 110..180 deg): no target in "
              f"{100 * none_rom:.0f} % of {len(roms)} scenes (target: 100 %).", ""]
    lines += ["### Streaming cost", "",
              f"Service path (`device.ssl.stream.SslStream`: VAD on every 64 ms block, ring buffer, an estimate on "
              f"every VAD segment and wake event) over {rtf['seconds']:.0f} s of 6-mic audio: "
              f"{rtf['cpu_s']:.2f} s CPU, real-time factor {rtf['rtf']:.0f} "
              f"({100 * rtf['core_share']:.1f} % of one core; target >= 20, i.e. <= 5 %).", ""]

    lines += ["### Targets", ""] + verdicts(single, pairs, roms, rtf)
    return "\n".join(lines)


def band_comparison(single: list[dict]) -> list[tuple[str, str, str]]:
    """Per RT60 band: (band, text comparing Swivel with the best pyroomacoustics method, verdict)."""
    out = []
    for a, b in RT60_BANDS:
        sel = [r for r in single if _in_band(r["rt60"], (a, b), RT60_BANDS)]
        if not sel:
            continue
        mine = _stats([r["swivel"]["err"] for r in sel])
        theirs = {m: _stats([r[m]["err"] for r in sel]) for m in PRA_METHODS}
        best_m = min(theirs, key=lambda m: (theirs[m][0], theirs[m][2]))
        best_gross = min(v[2] for v in theirs.values())
        if mine[0] < theirs[best_m][0] and mine[2] < best_gross:
            verdict = "better"
        elif mine[0] < theirs[best_m][0] and mine[2] == best_gross:
            verdict = "better median, gross tied"
        else:
            verdict = "NOT better"
        out.append((f"{a}-{b} s", f"median {mine[0]:.1f} vs {theirs[best_m][0]:.1f} ({best_m}), gross "
                                  f"{100 * mine[2]:.0f} % vs {100 * best_gross:.0f} % (best of four)", verdict))
    return out


def verdicts(single: list[dict], pairs: list[dict], roms: list[dict], rtf: dict | None) -> list[str]:
    target = [r for r in single if r["rt60"] <= 0.6 and r["snr"] >= 10]
    med_t, _, gross_t = _stats([r["swivel"]["err"] for r in target])
    amb_pairs = float(np.mean([r["swivel"]["ambiguous"] for r in pairs])) if pairs else float("nan")
    none_rom = float(np.mean([r["swivel"]["az"] is None for r in roms])) if roms else float("nan")
    lines = [f"- target set (RT60 <= 0.6 s, SNR >= 10 dB, n={len(target)}): median {med_t:.1f} deg (<= 5) and "
             f"gross {100 * gross_t:.0f} % (<= 10 %): {'met' if med_t <= 5 and gross_t <= 0.10 else 'NOT met'}"]
    lines += [f"- RT60 {band}: {text}: {verdict}" for band, text, verdict in band_comparison(single)]
    lines += [f"- two talkers flagged ambiguous in {100 * amb_pairs:.0f} % of {len(pairs)} (>= 90 %): "
              f"{'met' if amb_pairs >= 0.9 else 'NOT met'}",
              f"- outside the ROM gives no target in {100 * none_rom:.0f} % of {len(roms)}: "
              f"{'met' if none_rom == 1.0 else 'NOT met'}"]
    if rtf is not None:
        lines.append(f"- streaming real-time factor {rtf['rtf']:.0f} (>= 20): {'met' if rtf['rtf'] >= 20 else 'NOT met'}")
    return lines


def holdout_section(rows: list[dict], seed_base: int) -> list[str]:
    """The same verdicts on a scene set drawn with other seeds, which no parameter was tuned on."""
    single = [r for r in rows if r["kind"] == "single"]
    if not single:
        return []
    pairs = [r for r in rows if r["kind"] == "pair"]
    roms = [r for r in rows if r["kind"] == "rom"]
    methods = ("swivel",) + PRA_METHODS
    lines = ["### Held-out check", "",
             f"{len(single)} single-talker, {len(pairs)} two-talker and {len(roms)} outside-ROM scenes drawn the same "
             f"way with seeds offset by {seed_base} (never used for tuning).", "",
             "| group | n | " + " | ".join(f"{m} median / p90 / gross" for m in methods) + " |",
             "| --- | --- | " + " | ".join("---" for _ in methods) + " |"]
    groups = [("all", single)] + [(f"RT60 {a}-{b} s", [r for r in single if _in_band(r["rt60"], (a, b), RT60_BANDS)])
                                  for a, b in RT60_BANDS]
    for name, sel in groups:
        if sel:
            cells = []
            for m in methods:
                med, p90, gross = _stats([r[m]["err"] for r in sel])
                cells.append(f"{med:.1f} / {p90:.1f} / {100 * gross:.0f} %")
            lines.append(f"| {name} | {len(sel)} | " + " | ".join(cells) + " |")
    amb = float(np.mean([r["swivel"]["ambiguous"] for r in single]))
    return lines + ["", f"Swivel flagged {100 * amb:.0f} % of these single talkers ambiguous.", ""] + verdicts(
        single, pairs, roms, None) + [""]


HOLDOUT_SEED_BASE = 100000


ROOM_HEADING = "### Irregular rooms"


def rooms_only(args) -> int:
    """The irregular-room draw alone, spliced into the ssl section in place of its previous version."""
    t0 = time.time()
    room = room_specs(args.room_scenes, args.room_pairs)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(evaluate_room, room, chunksize=2))
    cmd = (f"python tools/bench/bench_ssl.py --rooms-only --room-scenes {args.room_scenes} "
           f"--room-pairs {args.room_pairs}")
    md = "\n".join(room_section(rows)).replace(
        ROOM_HEADING + ": accuracy and the ambiguous flag (report draw)\n",
        ROOM_HEADING + ": accuracy and the ambiguous flag (report draw)\n\n"
        f"Command: `{cmd}` (took {(time.time() - t0) / 60:.1f} min). The shoebox tables above come from the "
        "last full run; their `swivel ambiguous` columns predate this decision until the next full run.\n", 1)
    (cache_root() / "bench_ssl").mkdir(parents=True, exist_ok=True)
    (cache_root() / "bench_ssl" / "last_room_rows.json").write_text(json.dumps(rows))
    if args.no_write:
        print(md)
        return 0
    from tools.bench.benchmarks_md import BENCHMARKS
    text = BENCHMARKS.read_text()
    begin, end = "<!-- BEGIN ssl -->", "<!-- END ssl -->"
    current = text.split(begin, 1)[1].split(end, 1)[0].strip() if begin in text else ""
    kept = current.split(ROOM_HEADING, 1)[0].rstrip()
    write_section("ssl", (kept + "\n\n" if kept else "") + md)
    print(md)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small smoke run (30 scenes)")
    ap.add_argument("--scenes", type=int, default=320, help="single-talker scenes (default 320)")
    ap.add_argument("--pairs", type=int, default=40, help="two-talker scenes (default 40)")
    ap.add_argument("--rom", type=int, default=30, help="outside-ROM scenes (default 30)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed-base", type=int, default=0,
                    help="offset of every scene seed: another value draws a fresh, held-out scene set")
    ap.add_argument("--holdout", type=int, default=120,
                    help=f"single-talker scenes of the held-out check (seeds + {HOLDOUT_SEED_BASE}; default 120)")
    ap.add_argument("--room-scenes", type=int, default=120,
                    help="single-talker scenes of the irregular-room report draw (default 120)")
    ap.add_argument("--room-pairs", type=int, default=60, help="two-talker scenes of that draw (default 60)")
    ap.add_argument("--fit-ambiguity", action="store_true",
                    help="fit the ambiguity score's weights on the tuning draw, print them and exit")
    ap.add_argument("--rooms-only", action="store_true",
                    help="run only the irregular-room draw and replace that part of the ssl section")
    ap.add_argument("--no-write", action="store_true", help="print the report instead of updating BENCHMARKS.md")
    args = ap.parse_args(argv)
    if args.fit_ambiguity:
        fit_ambiguity(args.workers)
        return 0
    if args.rooms_only:
        return rooms_only(args)
    if args.quick:
        args.scenes, args.pairs, args.rom, args.holdout, args.room_scenes, args.room_pairs = 20, 6, 4, 0, 9, 6
    cmd = "python tools/bench/bench_ssl.py" + (" --quick" if args.quick else "") + (
        f" --seed-base {args.seed_base}" if args.seed_base else "")
    t_start = time.time()
    _babble_bank(16000)
    b = args.seed_base
    specs = ([asdict(draw_scene("single", b + s)) for s in range(args.scenes)]
             + [asdict(draw_scene("pair", b + 10000 + s)) for s in range(args.pairs)]
             + [asdict(draw_scene("rom", b + 20000 + s)) for s in range(args.rom)])
    h = b + HOLDOUT_SEED_BASE
    n_main = len(specs)
    specs += ([asdict(draw_scene("single", h + s)) for s in range(args.holdout)]
              + [asdict(draw_scene("pair", h + 10000 + s)) for s in range(args.holdout // 4)]
              + [asdict(draw_scene("rom", h + 20000 + s)) for s in range(args.holdout // 12)])
    rows = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for i, row in enumerate(pool.map(evaluate, specs, chunksize=4)):
            rows.append(row)
            if (i + 1) % 25 == 0:
                print(f"  {i + 1}/{len(specs)} scenes", flush=True)
    room = room_specs(args.room_scenes, args.room_pairs)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        room_rows = []
        for i, row in enumerate(pool.map(evaluate_room, room, chunksize=2)):
            room_rows.append(row)
            if (i + 1) % 25 == 0:
                print(f"  {i + 1}/{len(room)} irregular-room scenes", flush=True)
    rtf = streaming_rtf(20.0 if args.quick else 60.0)
    md = report(rows[:n_main], rtf, cmd, time.time() - t_start)
    md += "\n\n" + "\n".join(holdout_section(rows[n_main:], h))
    md += "\n" + "\n".join(room_section(room_rows))
    out = cache_root() / "bench_ssl" / "last_rows.json"
    out.write_text(json.dumps(rows + room_rows))
    if args.no_write:
        print(md)
    else:
        write_section("ssl", md)
        print(md.split("### Targets", 1)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
