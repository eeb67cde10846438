"""Wake-word detection on a 16 kHz mono stream: microWakeWord or openWakeWord models, and the keyword's span.

Both engines ship their models and a TFLite runtime inside their wheels (pymicro-wakeword,
pyopen-wakeword), so nothing is downloaded at run time. Either one decides at (shortly after) the
end of the keyword; where the keyword began is estimated from the energy onset before the detection
(`KeywordSpan`), so ssl can localize the keyword itself while the talker is still speaking.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from .config import SHIPPED_MODELS

RATE = 16000
FRAME = 160                     # 10 ms: both engines' feature step, and the onset finder's frame
OPEN_CHUNK = 1280               # openWakeWord takes audio 80 ms at a time
OPEN_DEFAULT_THRESHOLD = 0.5


@dataclass
class Detection:
    model: str                  # model id (e.g. "alexa")
    keyword: str                # the phrase (e.g. "alexa", "hey jarvis")
    score: float
    start: int                  # sample index (since the stream began) where the keyword began (estimate)
    end: int                    # sample index of the decision: the keyword ended at or before it


def keyword_text(model: str) -> str:
    """What a person says for a model id: "hey_jarvis" -> "hey jarvis"."""
    return model.replace("_", " ")


class KeywordSpan:
    """Finds where a keyword began from 10 ms frame energies: walk back from the detection through the
    speech (bridging the short gaps inside a word, and any gap in the last `min_s`, since a detector
    decides a little after the word, often in the pause that follows it) to the first frame of the run,
    at most `max_s` back.

    The noise floor is a low percentile of the recent frames, so a steady TV or fan raises it; with
    babble as loud as the talker no onset stands out and the span is the model's typical keyword length.
    """

    def __init__(self, max_s: float = 1.5, history_s: float = 4.0, margin_db: float = 8.0,
                 bridge_s: float = 0.12, typical_s: float = 0.8, min_s: float = 0.45):
        self.max_frames = int(max_s * RATE / FRAME)
        self.energy: deque[float] = deque(maxlen=int(history_s * RATE / FRAME))
        self.margin_db = margin_db
        self.bridge = int(bridge_s * RATE / FRAME)
        self.typical = int(typical_s * RATE / FRAME)
        self.min_frames = int(min_s * RATE / FRAME)
        self._rest = np.zeros(0, np.float32)
        self.frames = 0                                   # frames ever measured

    def push(self, x: np.ndarray) -> None:
        x = np.concatenate([self._rest, x])
        n = len(x) // FRAME
        if n:
            e = np.mean(x[: n * FRAME].reshape(n, FRAME) ** 2, axis=1)
            self.energy.extend((10 * np.log10(e + 1e-12)).tolist())
            self.frames += n
        self._rest = x[n * FRAME:]

    def start_of(self, end_sample: int, min_s: float | None = None) -> int:
        """Sample index where the keyword that was detected at `end_sample` began (`min_s`: how much of the
        time before the decision surely belongs to the keyword; longer for a two-word keyword)."""
        min_frames = self.min_frames if min_s is None else int(min_s * RATE / FRAME)
        e = np.asarray(self.energy, float)
        if e.size == 0:
            return max(0, end_sample - self.typical * FRAME)
        end_f = min(self.frames, end_sample // FRAME)     # frame index (absolute) of the decision
        first_abs = self.frames - e.size
        hi = end_f - first_abs
        lo = max(0, hi - self.max_frames)
        if hi - lo < 5:
            return max(0, end_sample - self.typical * FRAME)
        floor = np.percentile(e, 15)
        voiced = e[lo:hi] > floor + self.margin_db
        idx = np.flatnonzero(voiced)
        if idx.size == 0:
            return max(0, end_sample - self.typical * FRAME)
        k = idx[-1]
        gap = 0
        start = k
        inside = len(voiced) - min_frames             # the last min_s before a decision is the keyword itself:
        while k > 0:                                  # the pause after it (a comma) must not stop the walk
            k -= 1
            if voiced[k]:
                start, gap = k, 0
            else:
                gap += 1
                if gap > self.bridge and k < inside:
                    break
        return (first_abs + lo + start) * FRAME


def _check_tflite(path: Path) -> None:
    """TFLite's C API crashes on a file that is not a model, so look at the flatbuffer's identifier first."""
    try:
        head = Path(path).read_bytes()[:8]
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise ValueError(f"{Path(path).name} is not a TFLite model")


def _micro_from_config(path: str):
    from pymicro_wakeword import MicroWakeWord
    cfg = json.loads(Path(path).read_text())
    _check_tflite(Path(path).parent / cfg["model"])
    return MicroWakeWord.from_config(path)


class _MicroEngine:
    """microWakeWord: one feature front end (10 ms steps) shared by every model."""

    name = "micro"

    def __init__(self, models: list[str], model_file: str, threshold: float):
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
        self.features = MicroWakeWordFeatures()
        self.models = []
        for m in models:
            self.models.append(MicroWakeWord.from_builtin(Model(m)))
        if model_file:
            try:
                self.models.append(_micro_from_config(model_file))
            except Exception as exc:
                raise UserError(f"wake.model_file: {model_file} does not load as a microWakeWord model config "
                                f"(a .json naming its .tflite): {str(exc)[:120]}") from None
        self.thresholds = [threshold or mw.probability_cutoff for mw in self.models]
        self.frames = 0

    def ids(self) -> list[tuple[str, str]]:
        return [(mw.id, mw.wake_word.lower()) for mw in self.models]

    def feed(self, pcm: bytes):
        """Yield (model index, score, sample index) for every score over its threshold."""
        for feat in self.features.process_streaming(pcm):
            self.frames += 1
            for i, mw in enumerate(self.models):
                p = mw.process_streaming_prob(feat)
                if p is not None and p > self.thresholds[i]:
                    yield i, float(p), self.frames * FRAME


class _OpenEngine:
    """openWakeWord: mel spectrogram and speech embedding shared by every model, 80 ms chunks."""

    name = "open"

    def __init__(self, models: list[str], model_file: str, threshold: float):
        from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures
        self.features = OpenWakeWordFeatures.from_builtin()
        self.models = [OpenWakeWord.from_builtin(Model(m)) for m in models]
        if model_file:
            try:
                _check_tflite(Path(model_file))
                self.models.append(OpenWakeWord.from_model(model_file))
            except Exception as exc:
                raise UserError(f"wake.model_file: {model_file} does not load as an openWakeWord model "
                                f"(.tflite): {str(exc)[:120]}") from None
        self.thresholds = [threshold or OPEN_DEFAULT_THRESHOLD for _ in self.models]
        self._buf = b""
        self.samples = 0

    def ids(self) -> list[tuple[str, str]]:
        return [(ow.id, keyword_text(ow.id)) for ow in self.models]

    def feed(self, pcm: bytes):
        self._buf += pcm
        step = OPEN_CHUNK * 2
        while len(self._buf) >= step:
            chunk, self._buf = self._buf[:step], self._buf[step:]
            self.samples += OPEN_CHUNK
            for emb in self.features.process_streaming(chunk):
                for i, ow in enumerate(self.models):
                    for p in ow.process_streaming(emb):
                        if p > self.thresholds[i]:
                            yield i, float(p), self.samples


ENGINES = {"micro": _MicroEngine, "open": _OpenEngine}


class Detector:
    """Feed 16 kHz mono audio (float in -1..1 or int16) as it comes; get Detections with the keyword's span.

    After a detection each model stays quiet for `refractory_s`, so one spoken keyword gives one event.
    """

    def __init__(self, engine: str = "micro", models: list[str] | None = None, model_file: str = "",
                 threshold: float = 0.0, refractory_s: float = 2.0, max_keyword_s: float = 1.5):
        models = list(models if models is not None else ["alexa"])
        if engine not in ENGINES:
            raise UserError(f"unknown wake engine {engine!r}; expected one of {', '.join(ENGINES)}")
        for m in models:
            if m not in SHIPPED_MODELS[engine]:
                raise UserError(f"unknown wake word model {m!r} for engine {engine!r}; "
                                f"shipped: {', '.join(SHIPPED_MODELS[engine])}")
        if model_file and not Path(model_file).is_file():
            raise UserError(f"wake.model_file: {model_file} does not exist")
        self.engine_name = engine
        self.engine = ENGINES[engine](models, model_file, threshold)
        self.names = self.engine.ids()
        self.refractory = int(refractory_s * RATE)
        self.span = KeywordSpan(max_s=max_keyword_s)
        self.samples = 0                                   # samples fed so far
        self._quiet_until = [-1] * len(self.names)

    def push(self, x: np.ndarray) -> list[Detection]:
        x = np.asarray(x)
        if x.dtype == np.int16:
            pcm, f = x.astype("<i2").tobytes(), x.astype(np.float32) / 32768.0
        else:
            f = x.astype(np.float32)
            pcm = (np.clip(f, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.span.push(f)
        self.samples += len(f)
        out = []
        for i, score, at in self.engine.feed(pcm):
            if at < self._quiet_until[i]:
                continue
            self._quiet_until[i] = at + self.refractory
            model, keyword = self.names[i]
            # "hey jarvis": the pause between the words lies further back than in "alexa"
            min_s = 0.45 + 0.3 * keyword.count(" ")
            out.append(Detection(model, keyword, score, self.span.start_of(at, min_s), at))
        return out


def detect_file(samples: np.ndarray, **kw) -> list[Detection]:
    """Every detection in a whole recording (mono float32), with a second of silence after it to flush."""
    det = Detector(**kw)
    found = []
    tail = np.zeros(RATE, np.float32)
    for k in range(0, len(samples), 1024):
        found += det.push(samples[k:k + 1024])
    found += det.push(tail)
    return found
