"""`swivel speaker render IN.wav --bearing DEG --distance M` (one WAV per driver) and `swivel speaker plot --png`."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import UserError
from .acoustics import Listener, paths
from .design import MODES, DesignParams, design
from .drivers import load_drivers
from .render import SpatialRenderer
from .wavio import read_wav, write_wav


def add_parser(subparsers) -> None:
    sp = subparsers.add_parser("speaker", help="spatial audio tools (offline): render for a listener, plot separation")
    sub = sp.add_subparsers(dest="speaker_command", required=True, metavar="TOOL")
    p = sub.add_parser("render", help="render a stereo WAV for a listener into one WAV per driver")
    p.add_argument("wav", metavar="IN.wav", help="stereo (or mono) WAV")
    _listener_args(p)
    p.add_argument("--out-dir", default=".", metavar="DIR", help="where driver1.wav ... driverN.wav go (default .)")
    p.set_defaults(func=cmd_render)
    p = sub.add_parser("plot", help="plot the channel separation at the ears against frequency")
    _listener_args(p)
    p.add_argument("--rate", type=int, default=48000, help="sample rate of the design (default 48000)")
    p.add_argument("--png", required=True, metavar="FILE", help="where the plot goes")
    p.set_defaults(func=cmd_plot)


def _listener_args(p) -> None:
    p.add_argument("--bearing", type=float, required=True, metavar="DEG",
                   help="listener bearing, device frame (left of the screen normal positive)")
    p.add_argument("--distance", type=float, required=True, metavar="M", help="listener distance in metres")
    p.add_argument("--drivers", default="cyl2", metavar="FILE", help="driver layout preset (cyl2, cyl4) or TOML")
    p.add_argument("--mode", default="spatial", choices=MODES, help="processing (default spatial)")


def _listener(args) -> Listener:
    if not math.isfinite(args.bearing) or not -180 <= args.bearing <= 180:
        raise UserError(f"--bearing must be between -180 and 180 degrees, got {args.bearing}")
    if not math.isfinite(args.distance) or not 0.3 <= args.distance <= 10:
        raise UserError(f"--distance must be between 0.3 and 10 m, got {args.distance}")
    return Listener(args.bearing, args.distance)


def cmd_render(args) -> int:
    listener = _listener(args)
    layout = load_drivers(args.drivers)
    x, rate = read_wav(args.wav)
    if x.shape[1] > 2:
        raise UserError(f"{args.wav} has {x.shape[1]} channels; render takes stereo or mono")
    if not 16000 <= rate <= 96000:
        raise UserError(f"{args.wav} is sampled at {rate} Hz; render takes 16 to 96 kHz")
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out-dir {out_dir} is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot make --out-dir {out_dir}: {exc.strerror or exc}") from None
    if not os.access(out_dir, os.W_OK):
        raise UserError(f"--out-dir {out_dir} is not writable")
    fs = design(layout, listener, args.mode, DesignParams(), rate)
    r = SpatialRenderer(fs)
    y = np.concatenate([r.process(x), r.flush()])[fs.latency:fs.latency + len(x)]
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    scale = 1.0 if peak <= 1.0 else 0.999 / peak              # never clip: scale the whole render down
    names = []
    for n in range(layout.n_drivers):
        path = out_dir / f"driver{n + 1}.wav"
        write_wav(str(path), y[:, n] * scale, rate)
        names.append(str(path))
    note = f", scaled by {20 * math.log10(scale):.1f} dB to fit" if scale < 1 else ""
    print(f"{layout.name} ({args.mode}) for a listener at {listener.bearing_deg:g} deg, {listener.distance_m:g} m: "
          f"{', '.join(names)}{note}")
    return 0


def cmd_plot(args) -> int:
    listener = _listener(args)
    layout = load_drivers(args.drivers)
    if not 16000 <= args.rate <= 96000:
        raise UserError(f"--rate must be between 16000 and 96000 Hz, got {args.rate}")
    png = Path(args.png)
    if png.suffix.lower() != ".png":
        raise UserError(f"--png wants a .png file name, got {args.png}")
    if not png.parent.exists() if str(png.parent) else False:
        raise UserError(f"directory {png.parent} does not exist")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .evaluate import ear_responses, separation_curve_db, separation_db
    freqs = np.fft.rfftfreq(8192, 1 / args.rate)
    H = paths("sphere", layout.positions, listener, freqs)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    sel = (freqs >= 100) & (freqs <= min(16000, args.rate / 2))
    cases = [(args.mode, design(layout, listener, args.mode, rate=args.rate)),
             ("fixed sweet spot (0 deg, 2 m)", design(layout, Listener(0.0, 2.0), args.mode, rate=args.rate)),
             ("plain stereo", design(layout, listener, "bypass", rate=args.rate))]
    for label, fs in cases:
        T = ear_responses(fs, H)
        curve = separation_curve_db(T)
        ax.semilogx(freqs[sel], curve[sel], label=f"{label}: {separation_db(T, freqs):.1f} dB (200 Hz-8 kHz)")
    ax.axvspan(200, 8000, color="0.93", zorder=0)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("separation at the ears (dB)")
    ax.set_title(f"{layout.name}: listener at {listener.bearing_deg:g} deg, {listener.distance_m:g} m "
                 "(rigid-sphere head, anechoic)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        fig.savefig(png, dpi=100)
    except OSError as exc:
        raise UserError(f"cannot write {png}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    print(f"wrote {png}")
    return 0
