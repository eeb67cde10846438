"""`swivel vision detect`: JSON for a real photograph, and one clear line for each kind of bad input."""
import json
import subprocess
import sys

import cv2
import pytest

from device.sim.camera_render import render_frame


def swivel(*args, env=None):
    return subprocess.run([sys.executable, "-m", "device", "vision", "detect", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_json_lists_the_person_with_the_documented_fields(tmp_path, subprocess_env):
    image = tmp_path / "room.png"
    cv2.imwrite(str(image), render_frame([dict(azimuth_world_deg=-14.0, distance_m=1.4, height_m=1.6,
                                               photo="hopper")], 0.0, seed=2))
    out = swivel(str(image), "--json", env=subprocess_env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert list(result) == ["people"] and len(result["people"]) == 1
    p = result["people"][0]
    assert set(p) == {"bearing_deg", "elevation_deg", "distance_m", "engagement", "confidence"}
    assert p["bearing_deg"] == pytest.approx(-14.0, abs=1.5)
    assert p["distance_m"] == pytest.approx(1.4, rel=0.2)
    assert out.stderr.strip() == ""


def test_hfov_changes_the_bearing(tmp_path, subprocess_env):
    image = tmp_path / "room.png"
    cv2.imwrite(str(image), render_frame([dict(azimuth_world_deg=20.0, distance_m=1.4, height_m=1.6)], 0.0))
    narrow = json.loads(swivel(str(image), "--json", "--hfov", "50", env=subprocess_env).stdout)["people"][0]
    wide = json.loads(swivel(str(image), "--json", env=subprocess_env).stdout)["people"][0]
    assert 0 < narrow["bearing_deg"] < wide["bearing_deg"]


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.jpg", "does not exist"),
    (lambda d: (d / "notes.png").write_text("not a picture") and d / "notes.png", "is not an image"),
    (lambda d: d, "is a directory"),
])
def test_bad_input_is_one_clear_line(tmp_path, subprocess_env, make, message):
    out = swivel(str(make(tmp_path)), "--json", env=subprocess_env)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("swivel: ")
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_bad_field_of_view_is_one_clear_line(tmp_path, subprocess_env):
    out = swivel(str(tmp_path / "x.png"), "--hfov", "200", env=subprocess_env)
    assert out.returncode == 2 and out.stderr.strip() == "swivel: --hfov must be between 1 and 179 degrees, got 200"
