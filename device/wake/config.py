"""Configuration of the wake-word service (the [wake] table of swivel.toml)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

# The models that ship inside the engines' wheels (nothing is downloaded at run time).
SHIPPED_MODELS = {
    "micro": ("alexa", "hey_jarvis", "hey_mycroft", "okay_nabu"),
    "open": ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy", "okay_nabu"),
}


class WakeConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    engine: Literal["micro", "open"] = "micro"     # microWakeWord or openWakeWord
    models: list[str] = msgspec.field(default_factory=lambda: ["alexa"])   # shipped models to listen for
    model_file: str = ""                 # a custom model: microWakeWord .json (next to its .tflite) or openWakeWord .tflite
    threshold: float = 0.0               # detection threshold 0..1; 0 = the model's own (micro: its cutoff, open: 0.5)
    refractory_s: float = 2.0            # after a detection the same model stays quiet this long
    max_keyword_s: float = 1.5           # how far before a detection the keyword's onset is looked for

    def __post_init__(self):
        # msgspec turns these ValueErrors into errors that name the key (and swivel.toml's line).
        shipped = SHIPPED_MODELS[self.engine]
        for name in self.models:
            if name not in shipped:
                raise ValueError(f"models: unknown wake word model {name!r} for engine {self.engine!r}; "
                                 f"shipped: {', '.join(shipped)}")
        if not self.models and not self.model_file:
            raise ValueError("models: no wake word model: list one in `models` or give `model_file`")
        if self.model_file and not Path(self.model_file).is_file():
            raise ValueError(f"model_file: {self.model_file} does not exist")
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f"threshold: must be in 0..1 (0 = the model's own), got {self.threshold}")
        if self.refractory_s < 0:
            raise ValueError(f"refractory_s: must be >= 0, got {self.refractory_s}")
        if not 0.3 <= self.max_keyword_s <= 3.0:
            raise ValueError(f"max_keyword_s: must be within 0.3..3 s, got {self.max_keyword_s}")
