"""A real `swivel service NAME` process under a fake systemd: READY, WATCHDOG pings, STOPPING on SIGTERM, exit 0;
and an unusable runtime directory is one line on stderr and exit status 2 (which the units do not restart)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deploykit import SERVICES, SYSTEMD_DIR, swivel_executable  # noqa: E402

WATCHDOG_USEC = 1_000_000            # the service must ping at least this often (it aims for half)


@contextmanager
def short_dir():
    # AF_UNIX paths are limited to 107 bytes: keep them short, in /tmp.
    with tempfile.TemporaryDirectory(prefix="swd-", dir="/tmp") as d:
        yield Path(d)


def run_all_at_once(check) -> dict[str, Future]:
    """check(service) for every service in its own thread, all started together as systemd starts the units at
    boot: each run is mostly waiting (on imports, pings, shutdown), so one at a time would only add up the waits.
    The futures are all done; a test's .result() re-raises what went wrong for its own service."""
    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        return {service: pool.submit(check, service) for service in SERVICES}


class FakeSystemd:
    """The notify end of systemd: a datagram socket the service's sd_notify writes to."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.log: list[tuple[float, dict[str, str]]] = []

    def receive(self, timeout: float) -> dict[str, str] | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.log.append((time.monotonic(), fields))
        return fields

    def wait_for(self, key: str, timeout: float, proc: subprocess.Popen) -> dict[str, str]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msg = self.receive(min(0.5, end - time.monotonic()))
            if msg and key in msg:
                return msg
            if proc.poll() is not None and msg is None:
                break
        raise AssertionError(f"no {key} from the service (exit={proc.poll()}); got {[m for _, m in self.log]}")

    def close(self):
        self.sock.close()


def _service_env(runtime_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env.update(SWIVEL_RUNTIME_DIR=str(runtime_dir), PYTHONUNBUFFERED="1", **extra)
    return env


def _notify_protocol(service: str) -> None:
    """One service under its own fake systemd, in its own short dir: raises on the first thing that is wrong."""
    with short_dir() as d:
        runtime = d / "run"
        systemd = FakeSystemd(d / "notify")
        err = open(d / "stderr.log", "w+")
        # What the unit runs, minus --config: the built-in defaults are the simulated backends.
        proc = subprocess.Popen([str(swivel_executable()), "service", service], stdout=subprocess.DEVNULL,
                                stderr=err, env=_service_env(runtime, NOTIFY_SOCKET=str(systemd.path),
                                                             WATCHDOG_USEC=str(WATCHDOG_USEC)), cwd=d)
        try:
            ready = systemd.wait_for("READY", 90, proc)
            assert ready["READY"] == "1"
            assert not any("WATCHDOG" in m for _, m in systemd.log[:-1]), "watchdog pings before READY"
            # Pings keep coming, never further apart than WatchdogSec.
            pings = [time.monotonic()]
            end = pings[0] + 3.0
            while time.monotonic() < end:
                msg = systemd.receive(end - time.monotonic())
                if msg and msg.get("WATCHDOG") == "1":
                    pings.append(time.monotonic())
            gaps = [b - a for a, b in zip(pings, pings[1:])]
            assert len(gaps) >= 4, f"only {len(gaps)} watchdog pings in 3 s"
            assert max(gaps) < WATCHDOG_USEC / 1e6, gaps
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            systemd.wait_for("STOPPING", 15, proc)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            systemd.close()
            err.seek(0)
            log = err.read()
            err.close()
        assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def notify_runs() -> dict[str, Future]:
    return run_all_at_once(_notify_protocol)


@pytest.mark.parametrize("service", SERVICES)
def test_notify_ready_watchdog_stopping(service, notify_runs):
    notify_runs[service].result()


def _run_with_unusable_runtime_dir(service: str) -> subprocess.CompletedProcess:
    with short_dir() as d:
        return subprocess.run([str(swivel_executable()), "--config", str(SYSTEMD_DIR / "swivel.toml.example"),
                               "service", service], capture_output=True, text=True, timeout=120,
                              env=_service_env(Path("/dev/null/swivel"), NOTIFY_SOCKET=str(d / "nobody-listens")),
                              cwd=d)


@pytest.fixture(scope="module")
def unusable_runs() -> dict[str, Future]:
    return run_all_at_once(_run_with_unusable_runtime_dir)


@pytest.mark.parametrize("service", SERVICES)
def test_unusable_runtime_dir_is_one_line_and_exit_2(service, unusable_runs):
    """/dev/null/swivel can never be made, even by root. With the example config of a real Pi: the config
    itself is accepted (the complaint is about the directory), and the service stops before any hardware."""
    bad = Path("/dev/null/swivel")
    res = unusable_runs[service].result()
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines == [f"swivel: runtime directory {bad} is not usable: Not a directory"], res.stderr
    # 2 is what the units list in RestartPreventExitStatus=: systemd will not loop on it.
    unit = (SYSTEMD_DIR / f"swivel-{service}.service").read_text()
    assert "RestartPreventExitStatus=2" in unit
