"""`swivel wake detect FILE.wav [--engine micro|open] [--model NAME] [--json]`: find wake words in a recording."""
from __future__ import annotations

import json
import os
import wave

import numpy as np

from ..errors import UserError
from .config import SHIPPED_MODELS
from .engine import RATE, detect_file


def add_parser(subparsers) -> None:
    wake = subparsers.add_parser("wake", help="wake-word tools (offline)")
    sub = wake.add_subparsers(dest="wake_command", required=True, metavar="TOOL")
    p = sub.add_parser("detect", help="where in a recording was a wake word said")
    p.add_argument("wav", metavar="FILE.wav", help="16 kHz, 16-bit: mono, or one channel per mic of the array")
    p.add_argument("--engine", choices=sorted(SHIPPED_MODELS), default=None,
                   help="microWakeWord or openWakeWord (default: wake.engine of the config, micro)")
    p.add_argument("--model", action="append", metavar="NAME",
                   help="a shipped model (repeatable; default: wake.models of the config). micro: "
                        f"{', '.join(SHIPPED_MODELS['micro'])}; open: {', '.join(SHIPPED_MODELS['open'])}")
    p.add_argument("--array", metavar="NAME_OR_TOML",
                   help="for a multichannel file: the array (default: ssl.array of the config)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_detect)


def read_wav16(path: str) -> np.ndarray:
    """Samples (n, channels) float32 of a 16 kHz 16-bit PCM WAV, or a UserError saying what is wrong."""
    if not os.path.exists(path):
        raise UserError(f"{path} does not exist")
    if os.path.isdir(path):
        raise UserError(f"{path} is a directory, not a WAV file")
    try:
        with wave.open(path, "rb") as w:
            channels, rate, width, frames = w.getnchannels(), w.getframerate(), w.getsampwidth(), w.getnframes()
            raw = w.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise UserError(f"{path} is not a readable 16-bit PCM WAV file ({exc})") from None
    except OSError as exc:
        raise UserError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if width != 2:
        raise UserError(f"{path} has {8 * width}-bit samples; the wake engines take 16-bit "
                        f"(convert it, e.g. sox in.wav -b 16 out.wav)")
    if rate != RATE:
        raise UserError(f"{path} is sampled at {rate} Hz; the wake engines take {RATE} Hz "
                        f"(resample it first, e.g. sox in.wav -r {RATE} out.wav)")
    x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    x = x[: len(x) // channels * channels].reshape(-1, channels)
    if x.shape[0] < RATE // 2:
        raise UserError(f"{path} is too short ({x.shape[0] / RATE:.2f} s; a wake word needs at least 0.5 s)")
    return x


def to_mono(x: np.ndarray, array: str, path: str) -> np.ndarray:
    """A mono file as is; the array's channels through the same beam ssl gives the engine (unsteered)."""
    if x.shape[1] == 1:
        return x[:, 0]
    from ..ssl.beam import Beamformer
    from ..ssl.geometry import load_array
    g = load_array(array)
    if x.shape[1] not in (g.n_mics, g.capture_channels):
        raise UserError(f"{path} has {x.shape[1]} channels: give a mono file or one with the {g.n_mics} "
                        f"mics of array {g.name} (--array)")
    if x.shape[1] == g.capture_channels and g.capture_channels != g.n_mics:
        x = g.select_mics(x)
    return Beamformer(g, "mean").process(x)


def cmd_detect(args) -> int:
    from ..config import load_config
    cfg = load_config(args.config)
    engine = args.engine or cfg.wake.engine
    models = args.model or (cfg.wake.models if engine == cfg.wake.engine else ["alexa"])
    for m in models:
        if m not in SHIPPED_MODELS[engine]:
            raise UserError(f"--model {m}: not a shipped {engine} model (shipped: {', '.join(SHIPPED_MODELS[engine])})")
    x = to_mono(read_wav16(args.wav), args.array or cfg.ssl.array, args.wav)
    found = detect_file(x, engine=engine, models=models, threshold=cfg.wake.threshold,
                        refractory_s=cfg.wake.refractory_s, max_keyword_s=cfg.wake.max_keyword_s)
    rows = [{"model": d.model, "start_s": round(d.start / RATE, 3), "end_s": round(d.end / RATE, 3),
             "score": round(d.score, 3)} for d in found]
    if args.json:
        print(json.dumps({"detections": rows}))
        return 0
    if not rows:
        print(f"no wake word ({engine}: {', '.join(models)})")
    for r in rows:
        print(f"{r['model']}  {r['start_s']:.2f}-{r['end_s']:.2f} s  score {r['score']:.2f}")
    return 0
