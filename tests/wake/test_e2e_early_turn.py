"""The whole stack with the real engine: the device starts to turn while the talker is still speaking."""
from __future__ import annotations

import json

from device.run.launcher import run_stack

SCENE = """
name = "a long command from the side"
duration_s = 11
seed = 4
wake_word = "alexa"
wake_engine = "micro"

[room]
size_m = [6.0, 5.0, 2.7]
rt60_s = 0.4
device_m = [3.2, 2.0, 0.9]

[[person]]
id = 1
path = [{ t = 0, azimuth_deg = 100, distance_m = 1.6 }]

[[speech]]
person = 1
t = 2.0
text = "alexa, show me the recipe for pancakes with blueberries and maple syrup please"
voice = "en-gb"

[[noise]]
kind = "white"
level_db = -40

[expect]
faces_person = 1
"""


def test_motion_starts_before_the_utterance_ends(tmp_path):
    path = tmp_path / "long command.toml"
    path.write_text(SCENE)
    rep = run_stack(str(path), None, None, str(tmp_path / "report.json"), view=False, runtime_dir=str(tmp_path / "run"))
    rep = json.loads((tmp_path / "report.json").read_text())
    wakes = [e for e in rep["events"] if e["wake"]]
    assert len(wakes) == 1
    stages = wakes[0]["pipeline_after_end_s"]
    # the engine decided, ssl localized the keyword and the motor moved, all before the sentence ended
    assert stages["wake_event_s"] is not None and stages["wake_event_s"] < -1.0, stages
    assert stages["motion_s"] is not None and stages["motion_s"] < 0.0, stages
    assert wakes[0]["motion_start_after_end_s"] < 0.0
    assert abs((rep["final_heading_deg"] - 100 + 180) % 360 - 180) < 10
    logs = (tmp_path / "run" / "logs" / "wake.log").read_text()
    assert '"msg": "wake word"' in logs and '"engine": "micro"' in logs
