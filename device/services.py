"""Which code runs for `swivel service NAME`: the four long-running services of the device."""
from __future__ import annotations

import importlib

SERVICES = {
    "ssl": "device.ssl.service",
    "vision": "device.vision.service",
    "policy": "device.policy.service",
    "motor": "device.motor.service",
    "web": "device.web.server",
}


def run_service(name: str, cfg) -> int:
    """Import the service's module and run its `main(cfg)` until SIGTERM."""
    module = importlib.import_module(SERVICES[name])
    return module.main(cfg) or 0
