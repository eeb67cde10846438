"""systemd/swivel.toml.example (what /etc/swivel/swivel.toml starts as) loads and selects the real backends."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deploykit import SYSTEMD_DIR  # noqa: E402

from device.config import load_config  # noqa: E402

EXAMPLE = SYSTEMD_DIR / "swivel.toml.example"


def test_example_loads_with_real_backends():
    cfg = load_config(EXAMPLE)
    assert cfg.gpio.backend == "real"
    assert cfg.ssl.backend == "pyaudio"
    assert cfg.vision.camera_backend == "opencv"
    assert cfg.bus.runtime_dir == ""            # the units' SWIVEL_RUNTIME_DIR=/run/swivel decides
    # Pins named in INSTALL.md's wiring table are the ones the example sets.
    wiring = (SYSTEMD_DIR / "INSTALL.md").read_text()
    for pin in [cfg.vision.shutter_pin, cfg.policy.mute_pin, *cfg.ssl.light_bar_pins]:
        assert f"GPIO{pin}" in wiring, pin


