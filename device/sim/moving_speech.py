"""Utterances of talkers who move while they speak: the speech is cut into short pieces, each rendered from
where the talker stands while saying it, with crossfades between pieces.

A talker who stands still is one source at their exact position, as before. A talker whose path moves
during the utterance becomes a chain of sources on a grid of positions (POSITION_STEP_DEG, DISTANCE_STEP_M),
so a scene's impulse responses stay few and are shared by every scenario that walks the same room.
`prepare(scene, scenario)` computes (or loads) them before the scenario clock starts.
"""
from __future__ import annotations

import math

import numpy as np

from .acoustics import SPEECH_REF_DBFS, AudioScene
from .scenario import PersonSpec, Scenario, Speech, person_at
from .speech import synthesize

PIECE_S = 0.25               # where the talker stands is looked up this often
POSITION_STEP_DEG = 5.0      # a moving talker's azimuth is rendered on this grid...
DISTANCE_STEP_M = 0.1        # ...and their distance on this one
CROSSFADE_S = 0.03           # pieces overlap by this much (raised-cosine fades that sum to one)


def _signal(scene: AudioScene, speech: Speech) -> np.ndarray:
    """The utterance at the scene's reference level (what AudioScene.add_utterance would play)."""
    x = synthesize(speech.text, speech.voice, scene.fs).astype(np.float32)
    return x * np.float32(10 ** (SPEECH_REF_DBFS / 20) / (np.sqrt(np.mean(x ** 2)) + 1e-12))


def pieces(scene: AudioScene, spec: PersonSpec, speech: Speech, n_samples: int) -> list[tuple[int, int, float, float]]:
    """(first sample, end sample, azimuth, distance) of each stretch said from one grid position; [] if the
    talker does not move during the utterance."""
    fs = scene.fs
    step = max(1, int(PIECE_S * fs))
    out: list[list] = []
    moved = False
    first = person_at(spec, speech.t)
    for a in range(0, n_samples, step):
        wp = person_at(spec, speech.t + (a + min(step, n_samples - a) / 2) / fs)
        if abs(wp.azimuth_deg - first.azimuth_deg) > 1e-6 or abs(wp.distance_m - first.distance_m) > 1e-6:
            moved = True
        az = round(wp.azimuth_deg / POSITION_STEP_DEG) * POSITION_STEP_DEG
        dist = round(wp.distance_m / DISTANCE_STEP_M) * DISTANCE_STEP_M
        b = min(a + step, n_samples)
        if out and out[-1][2] == az and out[-1][3] == dist:
            out[-1][1] = b
        else:
            out.append([a, b, az, dist])
    return [tuple(p) for p in out] if moved else []


def add_speech(scene: AudioScene, spec: PersonSpec, speech: Speech) -> tuple[float, float]:
    """Add one utterance to the scene, moving with its talker; returns (start_s, end_s) like add_utterance."""
    x = _signal(scene, speech)
    parts = pieces(scene, spec, speech, len(x))
    if not parts:                                        # standing still: one source, exactly where they are
        where = person_at(spec, speech.t)
        return scene.add_utterance(speech.t, speech.text, speech.voice, where.azimuth_deg, where.distance_m,
                                   spec.height_m)
    half = max(1, int(CROSSFADE_S * scene.fs / 2))
    for i, (a, b, az, dist) in enumerate(parts):
        lo = max(0, a - half) if i > 0 else 0
        hi = min(len(x), b + half) if i < len(parts) - 1 else len(x)
        w = np.ones(hi - lo, np.float32)
        if i > 0:                                        # fade in over [a - half, a + half)
            n = min(2 * half, hi - lo)
            w[:n] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / (2 * half))
        if i < len(parts) - 1:                           # fade out over [b - half, b + half)
            n = min(2 * half, hi - lo)
            w[-n:] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(2 * half - n, 2 * half) + 0.5) / (2 * half))
        piece = x[lo:hi] * w
        rms = float(np.sqrt(np.mean(piece ** 2)))
        if rms < 1e-9:
            continue                                     # silence: nothing to render
        # add_utterance scales to level_db; give it the piece's own level so the gain stays one
        scene.add_utterance(speech.t + lo / scene.fs, speech.text, speech.voice, az, dist, spec.height_m,
                            signal=piece, level_db=20 * math.log10(rms))
    return speech.t, speech.t + len(x) / scene.fs


def prepare(scene: AudioScene, scenario: Scenario, duration_s: float) -> int:
    """Compute (or load from the disk cache) the impulse responses of every moving talker's positions now,
    so that scheduling speech after the clock starts only reads files. Returns how many positions."""
    done = set()
    for s in scenario.speech:
        if s.t >= duration_s:
            continue
        spec = scenario.person_by_id(s.person)
        n = len(synthesize(s.text, s.voice, scene.fs))
        for _, _, az, dist in pieces(scene, spec, s, n):
            key = (az, dist, spec.height_m)
            if key not in done:
                done.add(key)
                scene._rirs_for(scene.world_to_room(az, dist, spec.height_m))
    return len(done)
