"""`swivel run` stopped from outside (SIGTERM, SIGHUP, SIGINT, or SIGKILL of the launcher) leaves no process and no runtime dir.

Four real launchers start together (one start shared by the four tests, so the file costs one stack start-up,
not four), each with its own marker in the environment that every process of its run inherits, grandchildren
(the simavr harness the world starts) included. Once all four stacks are up, each launcher gets its signal, at
once; afterwards no process carrying its marker may be left, and the runtime directory it made must be gone.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARK = "SWIVEL_TEST_SIGNAL_RUN"
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP, "SIGINT": signal.SIGINT, "SIGKILL": signal.SIGKILL}
# Bound by the world and each service when it is running (the launcher waits for their heartbeats on them).
PUBLISHERS = ("world.pub", "motor.pub", "policy.pub", "ssl.pub", "vision.pub")
UP_TIMEOUT_S = 120.0


def _extra_args() -> list[str]:
    """Four runs at once must not compete for the web app's port: no web app where `swivel run` has one."""
    from device.run import cli
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    run = parser._subparsers._group_actions[0].choices["run"]
    return ["--web-port", "0"] if any("--web-port" in a.option_strings for a in run._actions) else []


def processes(mark: str) -> dict[int, dict[str, str]]:
    """Live (not zombie) processes whose environment carries MARK=mark: {pid: environment, plus 'comm'}."""
    needle = f"{MARK}={mark}".encode()
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_bytes()
            if stat[stat.rindex(b")") + 2:].split()[0] == b"Z":
                continue
            env = Path(entry.path, "environ").read_bytes().split(b"\0")
            if needle not in env:
                continue
            vars_ = dict(v.decode(errors="replace").partition("=")[::2] for v in env if b"=" in v)
            vars_["comm"] = Path(entry.path, "comm").read_text().strip()
            found[int(entry.name)] = vars_
        except (OSError, ValueError, IndexError):
            continue
    return found


class Run:
    def __init__(self, tmp: Path, name: str):
        self.name = name
        self.mark = uuid.uuid4().hex
        self.out = tmp / f"{name}.out"
        env = dict(os.environ, **{MARK: self.mark}, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for var in ("SWIVEL_RUNTIME_DIR", "SWIVEL_RUN_ID", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
            env.pop(var, None)
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "device", "run", "--scenario", str(REPO / "scenarios" / "default.toml"),
                 "--duration", "60", "--headless", *_extra_args()],
                cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        self.runtime_dir: Path | None = None
        self.seen: dict[int, dict[str, str]] = {}

    def up(self) -> bool:
        """The runtime dir is known, every publisher is bound in it and the harness (a grandchild) runs."""
        assert self.proc.poll() is None, f"{self.name}: launcher ended early ({self.proc.returncode}):\n" \
                                         + self.out.read_text(errors="replace")[-3000:]
        procs = processes(self.mark)
        self.seen.update(procs)
        dirs = {p["SWIVEL_RUNTIME_DIR"] for p in procs.values() if "SWIVEL_RUNTIME_DIR" in p}
        if len(dirs) != 1:
            return False
        self.runtime_dir = Path(dirs.pop())
        return all((self.runtime_dir / name).exists() for name in PUBLISHERS) and \
            any(p["comm"] == "swivel-sim" for p in procs.values())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("signals")
    started = {name: Run(tmp, name) for name in SIGNALS}
    try:
        pending, end = set(started), time.monotonic() + UP_TIMEOUT_S
        while pending and time.monotonic() < end:
            pending = {n for n in pending if not started[n].up()}
            time.sleep(0.3)
        assert not pending, f"stacks not up within {UP_TIMEOUT_S:.0f} s: {sorted(pending)}"
        for name, run in started.items():          # all at once: the four stops overlap
            assert run.up()
            run.proc.send_signal(SIGNALS[name])
        yield started
    finally:
        for run in started.values():               # whatever a failed test left: never leak into the suite
            if run.proc.poll() is None:
                run.proc.terminate()
                try:
                    run.proc.wait(30)
                except subprocess.TimeoutExpired:
                    run.proc.kill()
                    run.proc.wait()
            for pid in processes(run.mark):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if run.runtime_dir is not None:
                shutil.rmtree(run.runtime_dir, ignore_errors=True)


@pytest.mark.parametrize("signame", list(SIGNALS))
def test_a_stop_signal_takes_the_whole_run_down(runs, signame):
    run = runs[signame]
    comms = sorted(p["comm"] for p in run.seen.values())
    assert "swivel-sim" in comms and len(comms) >= 7, comms      # launcher, reaper, world, 4 services, harness
    run_ids = {p.get("SWIVEL_RUN_ID") for pid, p in run.seen.items() if pid != run.proc.pid}
    assert len(run_ids) == 1 and None not in run_ids, run_ids     # every child, grandchildren too, carries it

    code = run.proc.wait(timeout=40)
    expected = -signal.SIGKILL if signame == "SIGKILL" else 128 + SIGNALS[signame]
    assert code == expected, (code, run.out.read_text(errors="replace")[-3000:])

    # After SIGKILL the children get SIGTERM from the kernel and the reaper escalates after 10 s.
    left, end = processes(run.mark), time.monotonic() + 25
    while left and time.monotonic() < end:
        time.sleep(0.2)
        left = processes(run.mark)
    assert not left, {pid: p["comm"] for pid, p in left.items()}
    assert run.runtime_dir is not None and not run.runtime_dir.exists(), run.runtime_dir
    if signame != "SIGKILL":                        # stopped in order: the summary of the run, no traceback
        out = run.out.read_text(errors="replace")
        assert "moves:" in out and "Traceback" not in out, out[-3000:]
