"""The connection test again with the newest aioesphomeapi (what Home Assistant itself runs), installed from
PyPI into a venv of its own (conftest.py builds it): it needs protobuf 6, which cannot sit beside mediapipe
in the project's venv."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from .test_protocol import Satellite

CLIENT = r'''
import asyncio, json, sys
import aioesphomeapi
from aioesphomeapi import APIClient

async def main(port):
    c = APIClient("127.0.0.1", port, None, client_info="newest")
    await c.connect(login=True)
    info = await c.device_info()
    ents, _ = await c.list_entities_services()
    states = {}
    c.subscribe_states(lambda s: states.__setitem__(s.key, type(s).__name__))
    cfg = await c.get_voice_assistant_configuration(5)
    await asyncio.sleep(0.5)
    await c.disconnect()
    print(json.dumps({"version": aioesphomeapi.__version__ if hasattr(aioesphomeapi, "__version__") else "",
                      "name": info.name, "flags": info.voice_assistant_feature_flags,
                      "entities": sorted(e.object_id for e in ents), "states": len(states),
                      "wake_words": [w.id for w in cfg.available_wake_words]}))

asyncio.run(main(int(sys.argv[1])))
'''


@pytest.fixture(scope="module")
def satellite():
    with tempfile.TemporaryDirectory(prefix="swvsatn-", dir="/tmp") as d:
        s = Satellite(Path(d))
        try:
            yield s
        finally:
            s.stop()


def test_newest_aioesphomeapi_connects_and_lists_the_entities(newest_venv, satellite):
    python = newest_venv.wait()                                       # built while the simulated run started
    version = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('aioesphomeapi'))"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
    assert int(version.split(".")[0]) >= 30, version                   # really a newer client than ours
    out = subprocess.run([str(python), "-c", CLIENT, str(satellite.port)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:] + satellite.log()[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["name"] == "swivel" and got["flags"] & 0b11111 == 0b11111
    assert got["entities"] == sorted(["follow_me", "away_mode", "rom_min", "rom_max", "heading", "people_in_view",
                                      "face_me", "go_home", "turntable_health",
                                      "acknowledge_turntable"])
    assert got["states"] >= 5 and got["wake_words"][0] == "alexa"
