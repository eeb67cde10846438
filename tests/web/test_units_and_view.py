"""The kiosk unit as make install fills it in verifies under systemd; the live terminal view shows the web app's URL and code."""
from __future__ import annotations

import io
import shutil
import subprocess
from types import SimpleNamespace

from .conftest import REPO


def test_the_kiosk_unit_as_installed_verifies(tmp_path):
    text = (REPO / "systemd" / "kiosk" / "swivel-kiosk.service").read_text()
    # What tools/install.sh substitutes (here: root, which every system has), then systemd's own check.
    unit = (text.replace("@KIOSK_USER@", "root").replace("@KIOSK_UID@", "0")
            .replace("@KIOSK_URL@", "http://127.0.0.1:8080/kiosk"))
    assert "@" not in unit.replace("@KIOSK", "")
    (tmp_path / "swivel-kiosk.service").write_text(unit)
    for dep in ("swivel-web.service",):                     # what it Wants=, as installed beside it
        (tmp_path / dep).write_text((REPO / "systemd" / dep).read_text().replace(
            "/opt/swivel/bin/swivel", shutil.which("true") or "/bin/true"))
    assert shutil.which("systemd-analyze"), "systemd-analyze not found: install the systemd package (tools/setup.sh)"
    res = subprocess.run(["systemd-analyze", "verify", "--man=no", "./swivel-kiosk.service"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    problems = [l for l in (res.stdout + res.stderr).splitlines() if "swivel-kiosk" in l]
    assert not problems, res.stdout + res.stderr
    assert "--kiosk" in unit and "127.0.0.1:8080/kiosk" in unit and "User=root" in unit
    installer = (REPO / "tools" / "install.sh").read_text()
    assert "systemd/kiosk/swivel-kiosk.service" in installer and "enable swivel-kiosk.service" in installer


def test_the_live_terminal_view_prints_the_web_address_and_code(tmp_path):
    from device.run.liveview import LiveView
    (tmp_path / "web-pairing-code").write_text("123456\n")
    out = io.StringIO()
    view = LiveView(SimpleNamespace(name="scene"), out=out, runtime_dir=tmp_path, web="http://127.0.0.1:8080/")
    line = next(l for l in view.lines(SimpleNamespace(last={}), 0.0) if l.startswith("web"))
    assert "http://127.0.0.1:8080/" in line and "pairing code 123456" in line
    busy = LiveView(SimpleNamespace(name="scene"), out=out, runtime_dir=tmp_path,
                    web="not started: port 8080 is in use (try --web-port)")
    assert any("port 8080 is in use" in l for l in busy.lines(SimpleNamespace(last={}), 0.0))
