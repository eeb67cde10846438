"""Wake-word benchmark: both engines side by side on rendered rooms (detection per model, false accepts per hour,
CPU per audio stream, which beam the detector hears best).

Speech is real espeak-ng (8 voices), rendered through pyroomacoustics rooms (RT60 0.2-0.9 s, the
respeaker4 array) with a TV, babble or music at SNR 0-30 dB, then through ssl's beam, exactly as the
wake service hears it. The engines run faster than real time on the rendered streams (one stream
per condition, so each engine keeps its state as on a device). Rooms and speech are cached on disk.

Usage: python tools/bench/bench_wake.py [--per-model 200] [--fa-minutes 120] [--no-write]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from device.sim.acoustics import room_impulse_responses              # noqa: E402
from device.sim.speech import VOICES, babble, cache_root, program_material, synthesize   # noqa: E402
from device.ssl.beam import Beamformer                                # noqa: E402
from device.ssl.geometry import load_array                            # noqa: E402
from device.wake.config import SHIPPED_MODELS                         # noqa: E402
from device.wake.engine import RATE, Detector, keyword_text           # noqa: E402
from tools.bench.benchmarks_md import write_section                   # noqa: E402

COMMANDS = ("what is the weather like today", "set a timer for ten minutes", "turn on the lights in the kitchen",
            "play some music", "how long do I bake the bread", "call my sister please",
            "what is on my calendar tomorrow", "show me the recipe for pancakes")
OTHER = COMMANDS + ("the bus leaves at half past seven", "could you pass me the salt", "I think it will rain later",
                    "we need more milk and some eggs", "the meeting moved to Thursday afternoon",
                    "my phone is somewhere on the sofa", "that film was longer than I expected",
                    "let us go for a walk after dinner", "the kids are already asleep upstairs",
                    "he said the train was late again", "put the kettle on would you", "I lost my keys")
ROOM = (6.0, 5.0, 2.7)
DEVICE = np.array([3.2, 2.0, 0.9])
RT60S = (0.2, 0.35, 0.5, 0.65, 0.8, 0.9)
ARRAY = load_array("respeaker4")
MICS = ARRAY.positions - ARRAY.center + DEVICE


def rirs(rt60: float, azimuth_deg: float, distance_m: float, height_m: float = 1.5) -> np.ndarray:
    """(4, L) impulse responses to the array's mics, cached on disk."""
    path = cache_root() / "wake-bench" / f"rir-{rt60:.2f}-{azimuth_deg:.0f}-{distance_m:.1f}-{height_m:.1f}.npy"
    if path.exists():
        return np.load(path)
    a = np.radians(azimuth_deg)
    while True:                                   # nearer where the wall is closer than asked
        src = [DEVICE[0] + distance_m * np.cos(a), DEVICE[1] + distance_m * np.sin(a), height_m]
        if 0.3 <= src[0] <= ROOM[0] - 0.3 and 0.3 <= src[1] <= ROOM[1] - 0.3:
            break
        distance_m -= 0.1
    h = room_impulse_responses(ROOM, rt60, src, MICS, RATE, seed=int(azimuth_deg) % 97).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, h)
    return h


def place(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    return np.stack([fftconvolve(x, hm)[: len(x)] for hm in h], axis=1).astype(np.float32)


class Noise:
    """Long noise tracks as the array hears them: a TV (speech + music) through the room, diffuse babble, music."""

    def __init__(self, seconds: float, rng: np.random.Generator):
        self.n = int(seconds * RATE)
        tv_h = rirs(0.5, -70.0, 2.0, 1.0)
        self.tracks = {"tv": place(program_material(seconds, RATE, seed=11), tv_h),
                       "music": place(program_material(seconds, RATE, seed=12, music_share=1.0), rirs(0.5, 150.0, 2.2, 1.0))}
        mono = babble(seconds, RATE, talkers=6, seed=13)
        # diffuse: each mic a different stretch of the same crowd (low inter-mic coherence, like a far crowd)
        self.tracks["babble"] = np.stack([np.roll(mono, int(rng.integers(self.n))) for _ in range(ARRAY.n_mics)], 1)

    def cut(self, kind: str, start: int, n: int) -> np.ndarray:
        t = self.tracks[kind]
        idx = (np.arange(n) + start) % len(t)
        return t[idx]


def beam(x: np.ndarray, mode: str = "mean", azimuth: float | None = None) -> np.ndarray:
    b = Beamformer(ARRAY, mode)
    b.steer(azimuth)
    return b.process(x)


def wake_set(model: str, count: int, rng: np.random.Generator, noise: Noise):
    """Rendered utterances "<keyword>, <command>": list of (mics audio, speech start, end, snr, kind, rt60, az)."""
    out = []
    for i in range(count):
        voice = VOICES[i % len(VOICES)]
        text = f"{keyword_text(model)}, {COMMANDS[rng.integers(len(COMMANDS))]}"
        speech = synthesize(text, voice, RATE)
        rt60 = RT60S[rng.integers(len(RT60S))]
        az = float(rng.choice(np.arange(-180, 180, 30)))
        dist = float(rng.choice([1.0, 1.8, 2.5]))
        wet = place(np.concatenate([np.zeros(RATE, np.float32), speech * 0.05, np.zeros(RATE, np.float32)]),
                    rirs(rt60, az, dist))
        snr = float(rng.uniform(0.0, 30.0))
        kind = ("tv", "babble")[i % 2]
        nz = noise.cut(kind, int(rng.integers(noise.n)), len(wet))
        s_rms = np.sqrt(np.mean(wet[RATE: RATE + len(speech)] ** 2))
        n_rms = np.sqrt(np.mean(nz ** 2)) + 1e-12
        out.append((wet + nz * (s_rms / n_rms) * 10 ** (-snr / 20), 1.0, 1.0 + len(speech) / RATE, snr, kind, rt60,
                    az))
    return out


def run_stream(engine: str, models: list[str], clips: list[np.ndarray]) -> tuple[list[list], float]:
    """One detector over the clips played back to back; detections (model, end s) per clip, CPU seconds."""
    det = Detector(engine, models, refractory_s=1.0)
    per = [[] for _ in clips]
    t_cpu = time.process_time()
    for k, x in enumerate(clips):
        base = det.samples
        for j in range(0, len(x), 1024):
            for d in det.push(x[j: j + 1024]):
                per[k].append((d.model, (d.end - base) / RATE, (d.start - base) / RATE))
    return per, time.process_time() - t_cpu


def detection_tables(per_model: int, rng, noise, beam_clips: int):
    rows = {}
    spans = {}
    beams = {}
    for model in SHIPPED_MODELS["open"]:
        clips = wake_set(model, per_model, rng, noise)
        mono = [beam(c[0]) for c in clips]
        for engine in ("micro", "open"):
            if model not in SHIPPED_MODELS[engine]:
                continue
            found, _ = run_stream(engine, [model], mono)
            hit = [any(m == model and c[1] < e <= c[2] + 1.0 for m, e, _ in f) for f, c in zip(found, clips)]
            rows[(engine, model)] = [(h, c[3], c[4], c[5]) for h, c in zip(hit, clips)]
            spans[(engine, model)] = [next(s for m, e, s in f if m == model and c[1] < e <= c[2] + 1.0) - c[1]
                                      for f, c, h in zip(found, clips, hit) if h]
        if model == "alexa":                                   # which beam: on the default model's clips
            sub = clips[:beam_clips]
            for mode, az in (("mic0", None), ("mean", None), ("steered", "talker"), ("steered", "away")):
                mono_m = [beam(c[0], mode, None if az is None else (c[6] if az == "talker" else c[6] + 180))
                          for c in sub]
                for engine in ("micro", "open"):
                    found, _ = run_stream(engine, ["alexa"], mono_m)
                    beams[(mode, az, engine)] = np.mean(
                        [any(c[1] < e <= c[2] + 1.0 for _, e, _ in f) for f, c in zip(found, sub)])
    return rows, spans, beams


def false_accepts(minutes: float, rng, noise):
    """Minutes of rendered audio without the wake word: talk in the room, TV, music, babble (a quarter each)."""
    kinds = ("speech", "tv", "music", "babble")
    per_kind = minutes * 60 / len(kinds)
    chunk_s = 60.0
    streams = {}
    for kind in kinds:
        chunks = []
        for c in range(int(np.ceil(per_kind / chunk_s))):
            n = int(chunk_s * RATE)
            if kind == "speech":
                dry = np.zeros(n, np.float32)
                t = int(rng.uniform(0.2, 1.0) * RATE)
                while t < n:
                    s = synthesize(OTHER[rng.integers(len(OTHER))], VOICES[rng.integers(len(VOICES))], RATE)
                    m = min(len(s), n - t)
                    dry[t: t + m] += s[:m] * 0.05
                    t += m + int(rng.uniform(0.3, 2.0) * RATE)
                x = place(dry, rirs(RT60S[c % len(RT60S)], float((c * 45) % 360 - 180), 1.8))
                x += noise.cut("babble", int(rng.integers(noise.n)), n) * np.sqrt(np.mean(x ** 2)) * 0.05 / (
                    np.sqrt(np.mean(noise.tracks["babble"][:RATE * 5] ** 2)) + 1e-12)
            else:
                x = noise.cut(kind, int(rng.integers(noise.n)), n) * 0.3 / (np.abs(noise.tracks[kind]).max() + 1e-9)
            chunks.append(beam(x))
        streams[kind] = chunks
    out = {}
    for engine in ("micro", "open"):
        models = list(SHIPPED_MODELS[engine])
        for kind, chunks in streams.items():
            found, cpu = run_stream(engine, models, chunks)
            hours = sum(len(c) for c in chunks) / RATE / 3600
            for m in models:
                out[(engine, m, kind)] = (sum(1 for f in found for d in f if d[0] == m), hours)
            out[(engine, "_cpu", kind)] = (cpu, hours)
    return out


def cpu_per_stream(seconds: float = 120.0):
    """CPU of one engine with its default model on one stream, as a share of one core (and ssl's beam)."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(int(seconds * RATE)) * 0.01).astype(np.float32)
    res = {}
    for engine in ("micro", "open"):
        _, cpu = run_stream(engine, ["alexa"], [x])
        res[engine] = cpu / seconds
    mics = np.repeat(x[:, None], ARRAY.n_mics, axis=1)
    b = Beamformer(ARRAY, "steered")
    b.steer(40.0)
    t = time.process_time()
    for j in range(0, len(mics), 1024):
        b.process(mics[j: j + 1024])
    res["beam"] = (time.process_time() - t) / seconds
    return res


def pct(v) -> str:
    return f"{100 * np.mean(v):.1f} %" if len(v) else "-"


def markdown(args, rows, spans, beams, fa, cpu, wall) -> str:
    out = ["## Wake word (both engines, rendered rooms)", "",
           f"Command: `{args.command}` ({wall:.0f} s). {args.per_model} utterances per model "
           "(\"<keyword>, <command>\", 8 espeak-ng voices in turn), each in a room with RT60 0.2-0.9 s, the talker "
           "1-2.5 m away in any direction, and a TV (point source, speech and music) or diffuse babble at SNR "
           "0-30 dB (uniform), through ssl's beam. A detection counts if the engine fires between the start of "
           "the utterance and 1 s after its end. Nothing was tuned on these clips (the engines' own default "
           "thresholds: micro the model's cutoff, open 0.5).", "",
           "| engine | model | detected, all | SNR >= 10 dB | SNR < 10 dB | TV | babble | RT60 >= 0.65 s | onset error median |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (engine, model), r in rows.items():
        hit = lambda f: [h for h, snr, kind, rt in r if f(snr, kind, rt)]     # noqa: E731
        onset = spans.get((engine, model), [])
        out.append(f"| {engine} | {model} | {pct(hit(lambda *_: True))} | {pct(hit(lambda s, k, t: s >= 10))} | "
                   f"{pct(hit(lambda s, k, t: s < 10))} | {pct(hit(lambda s, k, t: k == 'tv'))} | "
                   f"{pct(hit(lambda s, k, t: k == 'babble'))} | {pct(hit(lambda s, k, t: t >= 0.65))} | "
                   + (f"{np.median(np.abs(onset)) * 1000:.0f} ms |" if onset else "- |"))
    out += ["", "The onset error is how far the estimated keyword start (the energy onset before the detection, "
            "`device/wake/engine.py` KeywordSpan) lies from the true start of the speech.", "",
            f"False accepts per hour ({args.fa_minutes:.0f} minutes of rendered audio without the wake word, a "
            "quarter each: people talking in the room over light babble, a TV, music, a babbling crowd; all "
            "models listening at once):", "",
            "| engine | model | talk | TV | music | babble | all |", "| --- | --- | --- | --- | --- | --- | --- |"]
    kinds = ("speech", "tv", "music", "babble")
    for engine in ("micro", "open"):
        for m in SHIPPED_MODELS[engine]:
            cells = []
            tot_n = tot_h = 0
            for k in kinds:
                n, h = fa[(engine, m, k)]
                cells.append(f"{n / h:.1f}")
                tot_n, tot_h = tot_n + n, tot_h + h
            out.append(f"| {engine} | {m} | " + " | ".join(cells) + f" | {tot_n / tot_h:.2f} ({tot_n} in {tot_h:.2f} h) |")
    out += ["", f"Which signal the detector hears best (the first {args.beam_clips} alexa clips above, detection rate):",
            "", "| beam | micro | open |", "| --- | --- | --- |"]
    names = {("mic0", None): "one mic", ("mean", None): "sum of the 4 mics (what ssl.beam sends before any estimate)",
             ("steered", "talker"): "delay-and-sum steered at the talker",
             ("steered", "away"): "delay-and-sum steered away from the talker (a stale estimate)"}
    for key, label in names.items():
        out.append(f"| {label} | {beams[key + ('micro',)] * 100:.1f} % | {beams[key + ('open',)] * 100:.1f} % |")
    out += ["", "CPU per audio stream (one model, share of one core of this machine, process time over "
            f"{120:.0f} s of audio): micro {cpu['micro'] * 100:.2f} %, open {cpu['open'] * 100:.2f} % "
            f"(open / micro = {cpu['open'] / cpu['micro']:.1f}); ssl's beam {cpu['beam'] * 100:.2f} %."]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-model", type=int, default=200)
    ap.add_argument("--fa-minutes", type=float, default=120.0)
    ap.add_argument("--beam-clips", type=int, default=200, help="alexa clips on which the beams are compared")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    args.command = (f"python tools/bench/bench_wake.py --per-model {args.per_model} --fa-minutes {args.fa_minutes:g} "
                    f"--beam-clips {args.beam_clips}")
    t0 = time.monotonic()
    rng = np.random.default_rng(args.seed)
    noise = Noise(120.0, rng)
    rows, spans, beams = detection_tables(args.per_model, rng, noise, args.beam_clips)
    print("detection done", time.monotonic() - t0, flush=True)
    fa = false_accepts(args.fa_minutes, rng, noise)
    print("false accepts done", time.monotonic() - t0, flush=True)
    cpu = cpu_per_stream()
    md = markdown(args, rows, spans, beams, fa, cpu, time.monotonic() - t0)
    print(md)
    if not args.no_write:
        write_section("wake", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
