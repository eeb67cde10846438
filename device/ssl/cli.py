"""`swivel ssl locate FILE.wav --array NAME_OR_TOML [--rom MIN:MAX] [--json]`: localize a recording offline."""
from __future__ import annotations

import json
import os
import wave

import numpy as np

from ..errors import UserError
from .estimator import SrpPhatEstimator
from .geometry import ArrayGeometry, load_array


def add_parser(subparsers) -> None:
    ssl = subparsers.add_parser("ssl", help="sound source localization tools (offline)")
    sub = ssl.add_subparsers(dest="ssl_command", required=True, metavar="TOOL")
    p = sub.add_parser("locate", help="where did the talker in a multichannel WAV speak from (device frame)")
    p.add_argument("wav", metavar="FILE.wav", help="one channel per mic, in the order of the geometry file")
    p.add_argument("--array", required=True, metavar="NAME_OR_TOML",
                   help="array preset (respeaker4, respeaker6) or a geometry TOML file")
    p.add_argument("--rom", metavar="MIN:MAX",
                   help="range of motion in degrees, device frame, e.g. -120:120")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_locate)


def parse_rom(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise UserError(f"--rom wants MIN:MAX in degrees (e.g. -120:120), got {text!r}") from None
    if not (-360 <= lo <= 360 and -360 <= hi <= 360):
        raise UserError(f"--rom limits must be within -360..360 degrees, got {text!r}")
    return lo, hi


def read_wav(path: str, geometry: ArrayGeometry) -> np.ndarray:
    """Samples (n, mics) float32 of a PCM WAV that matches the array, or a UserError saying why not."""
    if not os.path.exists(path):
        raise UserError(f"{path} does not exist")
    if os.path.isdir(path):
        raise UserError(f"{path} is a directory, not a WAV file")
    try:
        with wave.open(path, "rb") as w:
            channels, rate, width, frames = w.getnchannels(), w.getframerate(), w.getsampwidth(), w.getnframes()
            raw = w.readframes(frames)
    except (wave.Error, EOFError) as exc:
        # the wave module reads integer PCM only: fall back to scipy for float WAVs
        try:
            from scipy.io import wavfile
            rate, data = wavfile.read(path)
        except Exception:
            raise UserError(f"{path} is not a readable WAV file ({exc})") from None
        data = np.atleast_2d(data.T).T
        channels = data.shape[1]
        x = data.astype(np.float32)
        if data.dtype.kind in "iu":
            x /= float(np.iinfo(data.dtype).max)
    except OSError as exc:
        raise UserError(f"{path} cannot be read: {exc.strerror or exc}") from None
    else:
        x = None
    if channels not in (geometry.n_mics, geometry.capture_channels):
        raise UserError(f"{path} has {channels} channel(s) but array {geometry.name} has {geometry.n_mics} mics")
    if rate != geometry.sample_rate:
        raise UserError(f"{path} is sampled at {rate} Hz but array {geometry.name} expects "
                        f"{geometry.sample_rate} Hz (resample it first, e.g. sox in.wav -r "
                        f"{geometry.sample_rate} out.wav)")
    if x is None:
        if width == 1:
            x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
        elif width == 2:
            x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
        elif width == 3:
            b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
            v = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16))
            x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / (1 << 23)
        else:
            x = np.frombuffer(raw, "<i4").astype(np.float32) / 2 ** 31
        x = x.reshape(-1, channels)
    if x.shape[0] < geometry.sample_rate // 10:
        raise UserError(f"{path} is too short to localize ({x.shape[0]} samples; need at least 0.1 s)")
    if geometry.capture_channels != geometry.n_mics and channels == geometry.capture_channels:
        x = x[:, list(geometry.channel_map)]
    return np.ascontiguousarray(x, dtype=np.float32)


def cmd_locate(args) -> int:
    geometry = load_array(args.array)
    rom = parse_rom(args.rom)
    audio = read_wav(args.wav, geometry)
    result = SrpPhatEstimator(geometry).locate(audio, rom=rom)
    if args.json:
        print(json.dumps(result.as_json()))
        return 0
    if result.azimuth_deg is None:
        why = "outside the range of motion" if result.candidates else "no speech found"
        print(f"no target ({why})")
    else:
        flag = "  AMBIGUOUS" if result.ambiguous else ""
        print(f"azimuth {result.azimuth_deg:+.1f} deg (device frame)  confidence {result.confidence:.2f}{flag}")
    for c_az, c_pw in result.candidates:
        print(f"  candidate {c_az:+7.1f} deg  power {c_pw:.2f}")
    return 0
