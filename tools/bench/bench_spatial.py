"""Spatial audio benchmark: channel separation at the ears, tonal balance, head-offset robustness and CPU.

Filters are designed on the Brown-Duda spherical-head model (device/speaker/acoustics.py "design") and
evaluated on models they never saw: the exact rigid sphere (Duda-Martens) in free field, and the same
direct sound plus pyroomacoustics image-source reflections in a furnished room (6 x 5 x 2.7 m, RT60 0.3 s).
The design parameters were tuned on the design model only.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")        # one core: no BLAS threads in the timed part
import numpy as np  # noqa: E402
from scipy.signal import oaconvolve  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from device.speaker.acoustics import Listener, sphere_paths                      # noqa: E402
from device.speaker.design import design                                         # noqa: E402
from device.speaker.drivers import load_drivers                                  # noqa: E402
from device.speaker.evaluate import (early_paths, ear_responses, mono_response,  # noqa: E402
                                     separation_db, tonal_deviation_db)
from device.speaker.render import SpatialRenderer                                # noqa: E402
from device.speaker.room import Room, reflection_paths                           # noqa: E402
from tools.bench.benchmarks_md import write_section                              # noqa: E402

RATE = 48000
NFFT = 16384
BEARINGS = (0.0, 15.0, -15.0, 30.0, -30.0)
DISTANCES = (1.0, 2.0, 3.0)
SWEET_SPOT = Listener(0.0, 2.0)          # where a fixed design assumes the listener is
ROOM = Room(size_m=(6.0, 5.0, 2.7), rt60_s=0.3, device_m=(1.2, 2.5, 1.1))
EARLY_MS = 5.0
OFFSETS_M = (0.05, 0.10)


def offset_listeners(base: Listener, d: float) -> list[Listener]:
    """The head moved d to either side and d nearer/further, filters still designed for `base`."""
    b = np.radians(base.bearing_deg)
    radial, side = np.array([np.cos(b), np.sin(b)]), np.array([-np.sin(b), np.cos(b)])
    return [Listener(base.bearing_deg, base.distance_m, offset_m=tuple(v * d)) for v in (side, -side, radial, -radial)]


def evaluate_layout(name: str) -> dict:
    layout = load_drivers(name)
    freqs = np.fft.rfftfreq(NFFT, 1 / RATE)
    fixed = design(layout, SWEET_SPOT, "ctc")
    rows = []
    for bearing in BEARINGS:
        for dist in DISTANCES:
            true = Listener(bearing, dist)
            tracked, plain, spatial = design(layout, true, "ctc"), design(layout, true, "bypass"), \
                design(layout, true, "spatial")
            S = sphere_paths(layout.positions, true, freqs)
            R = S + reflection_paths(layout.positions, true, ROOM, RATE, NFFT)
            Re = early_paths(R, RATE, EARLY_MS)
            row = {"bearing": bearing, "distance": dist}
            for label, H in (("anechoic", S), ("room_early", Re), ("room_full", R)):
                for case, fs in (("tracked", tracked), ("fixed", fixed), ("plain", plain)):
                    row[f"{label}.{case}"] = separation_db(ear_responses(fs, H), freqs)
                row[f"{label}.spatial"] = separation_db(ear_responses(spatial, H), freqs)
            for case, fs in (("spatial", spatial), ("plain", plain)):
                row[f"drr.{case}"] = centre_drr_db(fs, R, Re, freqs)
            Tp = ear_responses(plain, S)
            for case, fs in (("tracked", tracked), ("spatial", spatial)):
                row[f"tonal.{case}"] = tonal_deviation_db(mono_response(fs, ear_responses(fs, S)),
                                                          mono_response(plain, Tp), freqs)
            if dist == 2.0:
                for d in OFFSETS_M:
                    seps = [separation_db(ear_responses(tracked, sphere_paths(layout.positions, h, freqs)), freqs)
                            for h in offset_listeners(true, d)]
                    row[f"offset{int(d * 100)}.tracked"] = min(seps)
                    row[f"offset{int(d * 100)}.mean"] = float(np.mean(seps))
            rows.append(row)
    return {"layout": name, "drivers": layout.n_drivers, "rows": rows}


def centre_drr_db(fs, R: np.ndarray, early: np.ndarray, freqs: np.ndarray, band=(300.0, 5000.0)) -> float:
    """Mono content in the room: energy of the direct sound and first EARLY_MS at both ears over the rest
    (the beam's job is to raise it), in the beam's band, dB."""
    sel = (freqs >= band[0]) & (freqs <= band[1])
    full = np.sum(np.abs(mono_response(fs, ear_responses(fs, R))[sel]) ** 2)
    first = np.sum(np.abs(mono_response(fs, ear_responses(fs, early))[sel]) ** 2)
    return float(10 * np.log10(first / (full - first)))


def stereo_pair_reference(angle_deg: float = 30.0, dist: float = 2.0) -> float:
    """Separation a real stereo pair at +-angle_deg and `dist` from the listener gives (rigid sphere, anechoic):
    what the *spatial* mode's crosstalk simulation aims for."""
    listener = Listener(0.0, dist)
    head = listener.center()
    # The listener faces the device (-x): their left is the device's -y. Left speaker first.
    pos = np.array([head + dist * np.array([np.cos(np.radians(180 + s * angle_deg)),
                                            np.sin(np.radians(180 + s * angle_deg)), 0.0]) for s in (1, -1)])
    freqs = np.fft.rfftfreq(NFFT, 1 / RATE)
    H = sphere_paths(pos, listener, freqs)
    T = np.zeros((freqs.size, 2, 3), complex)
    T[:, :, :2] = H
    return separation_db(T, freqs)


def cpu_layout(name: str, seconds: float = 10.0, repeats: int = 5) -> dict:
    """Process time of the streaming renderer per second of 48 kHz stereo, and of a plain offline FIR
    (scipy oaconvolve of the same N x 2 filters over the whole signal) measured in the same run."""
    layout = load_drivers(name)
    x = np.random.default_rng(0).standard_normal((int(RATE * seconds), 2)) * 0.1
    fs = design(layout, Listener(15.0, 1.5), "spatial")
    stream, ref = [], []
    for _ in range(repeats):
        r = SpatialRenderer(fs)
        t = time.process_time()
        for i in range(0, len(x), 480):                      # 10 ms chunks, as a sound card delivers
            r.process(x[i:i + 480])
        stream.append((time.process_time() - t) / seconds)
        t = time.process_time()
        for n in range(layout.n_drivers):
            for k in range(3):
                oaconvolve(x[:, k % 2], fs.taps[:, n, k])
        ref.append((time.process_time() - t) / seconds)
    designs = []
    for i in range(20):
        t = time.process_time()
        design(layout, Listener(-30.0 + 3 * i, 1.5), "spatial")
        designs.append(time.process_time() - t)
    return {"layout": name, "stream_core_fraction": statistics.median(stream),
            "offline_fir_core_fraction": statistics.median(ref),
            "design_ms": 1000 * statistics.median(designs)}


def summarise(res: dict) -> dict:
    """Separation by bearing group (0, +-15, +-30 degrees; distances 1-3 m), mean in dB."""
    groups = {"on axis": (0.0,), "+-15 deg": (15.0, -15.0), "+-30 deg": (30.0, -30.0)}
    out = {}
    for g, bs in groups.items():
        rows = [r for r in res["rows"] if r["bearing"] in bs]
        out[g] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if "." in k and not k.startswith("offset")}
    return out


def markdown(results: list[dict], cpu: list[dict], command: str, pair_db: float) -> str:
    lines = ["## Spatial audio (speaker)", "",
             f"Command: `{command}`", "",
             "Channel separation at the ears: ipsilateral over contralateral energy, 200 Hz-8 kHz, for an L-only "
             "and an R-only input, mean of the two in dB; averaged over distances 1, 2 and 3 m and both signs of "
             "the bearing. Filters are designed on the Brown-Duda spherical-head model and evaluated on the exact "
             "rigid sphere (anechoic) and on the rigid sphere plus pyroomacoustics reflections in a 6 x 5 x 2.7 m "
             f"room with RT60 {ROOM.rt60_s} s: the direct sound and the first {EARLY_MS:.0f} ms (what localises), "
             "and the whole response with its reverberant tail. Cases: *tracked* = CTC designed for where the "
             f"listener is; *fixed* = CTC designed once for a sweet spot at {SWEET_SPOT.bearing_deg:.0f} deg, "
             f"{SWEET_SPOT.distance_m:.0f} m; *plain* = plain stereo (bypass); *spatial* = the service's default "
             "(upmix, crosstalk simulation of a +-30 deg stereo pair, CTC, centre beam), whose crosstalk is by "
             f"design that of a real stereo pair: a stereo pair at +-30 deg, 2 m gives {pair_db:.1f} dB on the same "
             "anechoic rigid sphere.", ""]
    for res in results:
        s = summarise(res)
        lines += [f"### {res['layout']} ({res['drivers']} drivers)", "",
                  "| listener | model | tracked | fixed | plain | spatial |", "| --- | --- | --- | --- | --- | --- |"]
        for g, v in s.items():
            for label, name in (("anechoic", "rigid sphere, anechoic"), ("room_early", f"room, first {EARLY_MS:.0f} ms"),
                                ("room_full", "room, whole response")):
                lines.append(f"| {g} | {name} | {v[label + '.tracked']:.1f} dB | {v[label + '.fixed']:.1f} dB | "
                             f"{v[label + '.plain']:.1f} dB | {v[label + '.spatial']:.1f} dB |")
        rows = res["rows"]
        tonal_t = [r["tonal.tracked"] for r in rows]
        tonal_s = [r["tonal.spatial"] for r in rows]
        lines += ["", "Tonal balance of the mono sum (same signal on L and R; power summed over both ears, third-octave "
                  "bands 200 Hz-8 kHz, level-matched, largest deviation from plain stereo; anechoic rigid sphere): "
                  f"spatial (centre path) median {statistics.median(tonal_s):.2f} dB, worst {max(tonal_s):.2f} dB; "
                  f"CTC alone median {statistics.median(tonal_t):.2f} dB, worst {max(tonal_t):.2f} dB.", ""]
        drr_s, drr_p = np.mean([r["drr.spatial"] for r in rows]), np.mean([r["drr.plain"] for r in rows])
        lines += [f"Centre in the room (mono input, 300 Hz-5 kHz, both ears): direct sound and first {EARLY_MS:.0f} ms over "
                  f"the rest, mean over all positions: spatial {drr_s:.1f} dB, plain {drr_p:.1f} dB "
                  f"({'the beam' if res['drivers'] > 2 else 'two drivers: plain mono, no beam'}: "
                  f"{drr_s - drr_p:+.1f} dB).", ""]
        lines += ["Head offset (filters designed for the nominal position at 2 m, head moved sideways or along the "
                  "line of sight; anechoic rigid sphere, tracked CTC):", "",
                  "| offset | mean separation | worst direction | nominal |", "| --- | --- | --- | --- |"]
        nominal = float(np.mean([r["anechoic.tracked"] for r in rows if r["distance"] == 2.0]))
        for d in OFFSETS_M:
            k = int(d * 100)
            sel = [r for r in rows if f"offset{k}.mean" in r]
            lines.append(f"| {k} cm | {np.mean([r[f'offset{k}.mean'] for r in sel]):.1f} dB | "
                         f"{np.mean([r[f'offset{k}.tracked'] for r in sel]):.1f} dB | {nominal:.1f} dB |")
        lines.append("")
    lines += ["### CPU", "", "One core, process time per second of 48 kHz stereo (median of 5 runs of 10 s, 10 ms chunks; "
              "the machine is shared, so the ratio to the reference measured in the same run is the steadier figure). "
              "Reference: the same filters applied offline with scipy's oaconvolve over the whole signal.", "",
              "| layout | streaming renderer | offline FIR reference | ratio | one redesign |",
              "| --- | --- | --- | --- | --- |"]
    for c in cpu:
        lines.append(f"| {c['layout']} | {100 * c['stream_core_fraction']:.2f} % of a core | "
                     f"{100 * c['offline_fir_core_fraction']:.2f} % | "
                     f"{c['stream_core_fraction'] / c['offline_fir_core_fraction']:.2f} | {c['design_ms']:.0f} ms |")
    lines += ["", "Target: at most 5 % of one core. A redesign runs only when the listener moved (at most 10 times a "
              "second in the service)."]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--layouts", default="cyl2,cyl4", help="driver presets or files, comma-separated")
    ap.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    ap.add_argument("--no-write", action="store_true", help="print the section instead of updating BENCHMARKS.md")
    args = ap.parse_args(argv)
    names = [n for n in args.layouts.split(",") if n]
    results = [evaluate_layout(n) for n in names]
    cpu = [cpu_layout(n) for n in names]
    text = markdown(results, cpu, "nice .venv/bin/python tools/bench/bench_spatial.py", stereo_pair_reference())
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "cpu": cpu}, indent=1))
    if args.no_write:
        print(text)
    else:
        write_section("spatial", text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
