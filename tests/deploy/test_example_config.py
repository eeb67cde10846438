"""systemd/swivel.toml.example (what /etc/swivel/swivel.toml starts as) loads and selects the real backends."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deploykit import SYSTEMD_DIR  # noqa: E402

from device.config import default_config, load_config  # noqa: E402

EXAMPLE = SYSTEMD_DIR / "swivel.toml.example"


def test_example_loads_with_real_backends():
    cfg = load_config(EXAMPLE)
    assert cfg.gpio.backend == "real"
    assert cfg.ssl.backend == "pyaudio"
    assert cfg.vision.camera_backend == "opencv"
    assert cfg.bus.runtime_dir == ""            # the units' SWIVEL_RUNTIME_DIR=/run/swivel decides
    assert cfg.motor.serial_backend == "serial" and cfg.motor.port == "/dev/serial0"


def _pins(cfg) -> dict[str, int]:
    pins = {"vision.shutter_pin": cfg.vision.shutter_pin, "policy.mute_pin": cfg.policy.mute_pin,
            "motor.reset_pin": cfg.motor.reset_pin, "motor.status_led_pin": cfg.motor.status_led_pin}
    pins.update({f"ssl.light_bar_pins[{i}]": p for i, p in enumerate(cfg.ssl.light_bar_pins)})
    return pins


def test_example_pins_are_distinct_and_wired():
    """One Pi pin, one job: no two services claim the same GPIO, none takes the UART's GPIO14/15, and
    INSTALL.md's wiring table names each one with its config key."""
    pins = _pins(load_config(EXAMPLE))
    seen: dict[int, str] = {}
    for key, pin in pins.items():
        assert pin not in seen, f"{key} and {seen.get(pin)} both use GPIO{pin}"
        seen[pin] = key
    assert not {14, 15} & set(seen)
    wiring = (SYSTEMD_DIR / "INSTALL.md").read_text()
    for key, pin in pins.items():
        assert f"GPIO{pin} " in wiring or f"GPIO{pin}," in wiring, (key, pin)
        assert f"`{key.split('[')[0]}`" in wiring, key




def _collisions(cfg) -> list[str]:
    seen: dict[int, str] = {}
    out = []
    for key, pin in _pins(cfg).items():
        if pin in seen:
            out.append(f"{key} and {seen[pin]} both default to GPIO{pin}")
        seen.setdefault(pin, key)
    return out


def test_default_pins_do_not_collide():
    """Without a config file every service still has its own pins (a bench setup runs on the defaults)."""
    assert not _collisions(default_config())
