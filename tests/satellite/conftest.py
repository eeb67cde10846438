"""One simulated run (`swivel run` with the satellite on a free port) and one real aioesphomeapi client on it,
subscribed to the voice assistant the way Home Assistant is, before the scene's talker says the wake word."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from device.bus.pubsub import Subscriber

REPO = Path(__file__).resolve().parents[2]
SPEECH_T = 12.0                  # scenario time of the wake word: after the client has subscribed
COMMAND = "alexa, what is the weather like in the garden today"
SCENE = f"""\
name = "satellite tests: a talker at 100 degrees asks Home Assistant"
duration_s = 600
seed = 5
array = "respeaker4"
wake_word = "alexa"
wake_engine = "micro"

[room]
size_m = [6.0, 5.0, 2.7]
rt60_s = 0.3
device_m = [3.2, 2.0, 0.9]

[[person]]
id = 1
photo = "astronaut"
path = [{{ t = 0, azimuth_deg = 100, distance_m = 1.5 }}]

[[speech]]
person = 1
t = {SPEECH_T}
text = "{COMMAND}"
voice = "en-us"

[[noise]]
kind = "white"
level_db = -45
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimRun:
    def __init__(self, base: Path):
        self.base = base
        self.runtime_dir = base / "bus"
        self.port = free_port()
        (base / "scene.toml").write_text(SCENE)
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("NOTIFY_SOCKET", None)
        self.log = open(base / "run.log", "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "device", "run", "--scenario", str(base / "scene.toml"),
                                      "--headless", "--runtime-dir", str(self.runtime_dir), "--web-port", "0",
                                      "--satellite-port", str(self.port)],
                                     cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout_s: float = 150.0) -> None:
        sub = Subscriber(self.runtime_dir)
        for name in ("motor", "policy", "ssl", "wake", "satellite"):
            sub.subscribe(name)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, "swivel run exited:\n" + self.tail()
                list(sub.poll(100))
                if all(sub.alive(s, 3.0) for s in ("motor", "policy", "ssl", "wake", "satellite")):
                    return
            raise AssertionError("the simulated run did not start in time:\n" + self.tail())
        finally:
            sub.close()

    def service_log(self, name: str) -> str:
        p = self.runtime_dir / "logs" / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def tail(self) -> str:
        self.log.flush()
        text = (self.base / "run.log").read_text(errors="replace")
        for name in ("satellite", "wake", "world"):
            text += f"\n--- {name}.log ---\n" + "\n".join(self.service_log(name).splitlines()[-15:])
        return text[-6000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class Assistant:
    """A stand-in for Home Assistant's ESPHome integration: the real APIClient on its own event loop thread,
    recording what the satellite asks for and sends (pipeline starts, audio, stops, states)."""

    def __init__(self, port: int):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = port
        self.starts: list[tuple[float, str | None]] = []
        self.audio: list[tuple[float, bytes]] = []
        self.stops: list[tuple[float, bool]] = []
        self.states: dict[int, object] = {}
        self.client = None

    def run(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _connect(self):
        from aioesphomeapi import APIClient
        self.client = APIClient("127.0.0.1", self.port, None, client_info="swivel tests")
        await self.client.connect(login=True)
        self.entities, _ = await self.client.list_entities_services()
        self.client.subscribe_states(lambda s: self.states.__setitem__(s.key, s))

        async def start(conversation_id, flags, audio_settings, wake_word_phrase):
            self.starts.append((time.monotonic(), wake_word_phrase))
            return 0                                   # 0: the audio comes over the API connection

        async def stop(abort: bool):
            self.stops.append((time.monotonic(), abort))

        async def audio(data: bytes):
            self.audio.append((time.monotonic(), data))

        self.client.subscribe_voice_assistant(handle_start=start, handle_stop=stop, handle_audio=audio)

    def connect(self) -> None:
        self.run(self._connect())

    def close(self) -> None:
        if self.client is not None:
            try:
                self.run(self.client.disconnect(), 10)
            except Exception:
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class VenvBuild:
    """The newest aioesphomeapi from PyPI in a venv of its own, built in a thread while the simulated run
    starts (test_newest_client.py waits for it)."""

    def __init__(self, base: Path):
        self.python = base / "venv" / "bin" / "python"
        self.error = ""
        self.thread = threading.Thread(target=self._build, args=(base,), daemon=True)
        self.thread.start()

    def _build(self, base: Path) -> None:
        try:
            subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=120,
                           capture_output=True)
            pip = subprocess.run([str(self.python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                  "aioesphomeapi"], capture_output=True, text=True, timeout=300)
            if pip.returncode != 0:
                self.error = pip.stdout[-2000:] + pip.stderr[-2000:]
        except (OSError, subprocess.SubprocessError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def wait(self) -> Path:
        self.thread.join(400)
        assert not self.thread.is_alive(), "pip install of the newest aioesphomeapi did not finish"
        assert not self.error, self.error
        return self.python


@pytest.fixture(scope="package")
def newest_venv():
    with tempfile.TemporaryDirectory(prefix="swvesp-", dir="/tmp") as d:
        yield VenvBuild(Path(d))


@pytest.fixture(scope="package")
def sim_run(newest_venv):
    with tempfile.TemporaryDirectory(prefix="swvsat-", dir="/tmp") as d:
        run = SimRun(Path(d))
        try:
            run.wait_ready()
            yield run
        finally:
            run.stop()


@pytest.fixture(scope="package")
def assistant(sim_run):
    a = Assistant(sim_run.port)
    a.connect()
    try:
        yield a
    finally:
        a.close()
