"""One simulated run (`swivel run` with its web app on a free port) shared by the browser tests, and a paired browser."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from device.bus.pubsub import Subscriber

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"

# Someone in view, facing the device, silent: the camera has a face to see (the privacy test needs one)
# and nothing asks the device to turn but the tests.
SCENE = """\
name = "web tests: one person in view"
duration_s = 600
seed = 3
array = "respeaker4"

[room]
size_m = [6.0, 5.0, 2.7]
rt60_s = 0.3
device_m = [3.2, 2.0, 0.9]

[[person]]
id = 1
photo = "astronaut"
path = [{ t = 0, azimuth_deg = 5, distance_m = 1.5 }]

[[noise]]
kind = "white"
level_db = -45
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimRun:
    """`swivel run` in its own process group; `url`, `code()` and a bus subscriber for the tests."""

    def __init__(self, base: Path):
        self.runtime_dir = base / "bus"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        scene = base / "scene.toml"
        scene.write_text(SCENE)
        # The tests pair several browsers from 127.0.0.1 within a minute (tests/web/test_pairing.py checks the
        # default limits on a service of its own).
        config = base / "swivel.toml"
        config.write_text("[web]\npair_attempts_per_min = 100\npair_attempts_global_per_min = 1000\n")
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("NOTIFY_SOCKET", None)
        self.log = open(base / "run.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "device", "--config", str(config), "run", "--scenario", str(scene), "--headless",
                                      "--runtime-dir", str(self.runtime_dir), "--web-port", str(self.port)],
                                     cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.base = base

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        sub = Subscriber(self.runtime_dir)
        for name in ("motor", "policy", "vision", "web"):
            sub.subscribe(name)
        sub.subscribe("vision", "vision.people")
        sub.subscribe("policy", "policy.state")
        deadline = time.monotonic() + timeout_s
        seen = clear = False
        try:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, "swivel run exited:\n" + self.tail()
                for topic, msg in sub.poll(100):
                    if topic == "vision.people" and msg.people:
                        seen = True
                    if topic == "policy.state":            # the motor and the camera are both there
                        clear = not {"motor_fault", "vision_unavailable"} & set(msg.holds)
                    if seen and clear and all(sub.alive(s, 3.0) for s in ("motor", "policy", "web")):
                        return
            raise AssertionError("the simulated run did not see the person in time:\n" + self.tail())
        finally:
            sub.close()

    def code(self) -> str:
        return (self.runtime_dir / "web-pairing-code").read_text().strip()

    def get(self, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        """One plain HTTP GET without following redirects."""
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None
        opener = urllib.request.build_opener(NoRedirect)
        req = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with opener.open(req, timeout=5) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def tail(self) -> str:
        self.log.flush()
        text = (self.base / "run.log").read_text(errors="replace")
        web = self.runtime_dir / "logs" / "web.log"
        if web.exists():
            text += "\n--- web.log ---\n" + "\n".join(web.read_text(errors="replace").splitlines()[-20:])
        return text[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)        # Ctrl-C: the launcher stops every service cleanly
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="package")
def sim_run():
    # ipc:// paths must stay short: a directory straight under /tmp.
    with tempfile.TemporaryDirectory(prefix="swvweb-", dir="/tmp") as d:
        run = SimRun(Path(d))
        try:
            run.wait_ready()
            yield run
        finally:
            run.stop()


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def pair(page, run: SimRun) -> None:
    """Pair a browser page the way a person does: open the app, type the code from the device's screen."""
    page.goto(run.url + "/")
    assert page.url.endswith("/pair")
    page.fill("#code", run.code())
    page.click("button[type=submit]")
    page.wait_for_url(run.url + "/")
    page.wait_for_function("() => document.getElementById('needle').dataset.tns !== ''")


@pytest.fixture(scope="package")
def paired_context(browser, sim_run):
    ctx = browser.new_context(viewport={"width": 1280, "height": 820})
    page = ctx.new_page()
    pair(page, sim_run)
    page.close()
    yield ctx
    ctx.close()


@pytest.fixture(scope="package")
def pairer():
    return pair


def run_async(coro):
    """asyncio.run in a thread of its own: Playwright's sync API keeps an event loop on the test's thread."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
