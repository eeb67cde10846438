"""Which code runs for `swivel service NAME`: the long-running services of the device."""
from __future__ import annotations

import importlib

SERVICES = {
    "ssl": "device.ssl.service",
    "vision": "device.vision.service",
    "policy": "device.policy.service",
    "motor": "device.motor.service",
    "web": "device.web.server",
    "wake": "device.wake.service",
}

# Services `swivel run` does not start and does not wait for (the simulated loop needs none of them);
# on a device systemd runs them like the others.
NOT_LAUNCHED = {
    "speaker": "device.speaker.service",
}
# Started by `swivel run` after the policy, but nothing waits for it: it only watches (and asks for gentle moves).
MONITORS = {
    "health": "device.health.service",
}
# Started by `swivel run` when it has a port for it (like the web app), but nothing waits for it.
OPTIONAL = {
    "satellite": "device.satellite.service",
}
ALL_SERVICES = {**SERVICES, **NOT_LAUNCHED, **OPTIONAL, **MONITORS}


def run_service(name: str, cfg) -> int:
    """Import the service's module and run its `main(cfg)` until SIGTERM."""
    module = importlib.import_module(ALL_SERVICES[name])
    return module.main(cfg) or 0
