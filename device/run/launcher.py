"""Starts the simulated world and the four services as real processes, watches them, stops them cleanly."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import msgspec

from ..config import load_config
from ..errors import UserError
from ..services import SERVICES
from ..sim.scenario import load_scenario
from . import tomlwrite
from .reaper import RUN_ID_ENV, Reaper, die_with_parent
from .recorder import Recorder

START_ORDER = ("motor", "policy", "health", "ssl", "wake", "vision", "web", "satellite")   # the motor first: nothing may drive it before it is up
STARTUP_TIMEOUT_S = 90.0


class Stack:
    """The world process plus one process per service, all on one private bus directory."""

    def __init__(self, scenario_path: str | None, config_path: str | None, runtime_dir: Path,
                 duration_s: float | None, fast_plant: bool = False, extra_config: dict | None = None,
                 web_port: int | None = None, satellite_port: int | None = None):
        self.scenario = load_scenario(scenario_path)
        self.cfg = load_config(config_path)
        # The web app on this machine only (a simulated room is not for the LAN); None or 0 = none (the
        # CLI passes the config's web.port by default; runs started from code, e.g. tests, ask for it).
        port = web_port or 0
        if not 0 <= port <= 65535:
            raise UserError(f"--web-port {port}: expected a port 1..65535, or 0 for no web app")
        self.web_problem = _port_problem(port) if port else "not started (--web-port 0)"
        self.web_url = f"http://127.0.0.1:{port}/" if port and not self.web_problem else None
        # The Home Assistant satellite on 127.0.0.1 the same way (a real Home Assistant on this machine can add it).
        sport = satellite_port or 0
        if not 0 <= sport <= 65535:
            raise UserError(f"--satellite-port {sport}: expected a port 1..65535, or 0 for no satellite")
        self.satellite_problem = _port_problem(sport).replace("--web-port", "--satellite-port") if sport else \
            "not started (--satellite-port 0)"
        self.satellite_addr = f"127.0.0.1:{sport}" if sport and not self.satellite_problem else None
        self.runtime_dir = runtime_dir
        self.duration_s = duration_s or self.scenario.duration_s
        self.fast_plant = fast_plant
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs_dir = runtime_dir / "logs"
        try:
            self.logs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"runtime directory {runtime_dir}: cannot create it ({exc.strerror})") from None
        if not os.access(runtime_dir, os.W_OK | os.X_OK):
            raise UserError(f"runtime directory {runtime_dir}: not writable")
        self.config_file = runtime_dir / "swivel.toml"
        self._write_run_config(extra_config or {})
        self.env = dict(os.environ, SWIVEL_RUNTIME_DIR=str(runtime_dir), PYTHONUNBUFFERED="1")
        self.env.pop("NOTIFY_SOCKET", None)
        self.env.pop("WATCHDOG_USEC", None)
        # Every process of the run carries the id, grandchildren too (the simavr harness): how leftovers are found.
        self.run_id = uuid.uuid4().hex[:12]
        self.env[RUN_ID_ENV] = self.run_id
        self.reaper: Reaper | None = None

    def _write_run_config(self, extra: dict) -> None:
        """The user's config (or the defaults) with every hardware backend pointed at the simulation."""
        data = msgspec.to_builtins(self.cfg)
        data["bus"]["runtime_dir"] = str(self.runtime_dir)
        data["gpio"]["backend"] = "mock"
        data["sim"]["scenario"] = self.scenario.path
        # A simulated room keeps its own range of motion: a run never reads or writes the device's state.
        if not data["policy"].get("state_file"):
            data["policy"]["state_file"] = str(self.runtime_dir / "policy-state.json")
        # Turntable health keeps its reference in the run's directory too, and a scene never sweeps by itself
        # (the sweep would turn the screen in every scenario): `swivel health sweep` records one on demand.
        if not data["health"].get("reference_file"):
            data["health"]["reference_file"] = str(self.runtime_dir / "health-reference.json")
        data["health"]["auto_sweep"] = False
        if self.web_url:
            data["web"].update(host="127.0.0.1", port=int(self.web_url.rsplit(":", 1)[1].strip("/")))
            if not data["web"].get("state_dir"):
                data["web"]["state_dir"] = str(self.runtime_dir / "web")
        if self.satellite_addr:
            # On this machine only, not advertised on the LAN; the device's voice goes into the simulated room.
            data["satellite"].update(host="127.0.0.1", port=int(self.satellite_addr.rsplit(":", 1)[1]),
                                     zeroconf=False, speaker="sim")
            if not data["policy"].get("access_file"):
                # The built-in access policy, plus what a Home Assistant on this machine may do to a simulated room.
                access = self.runtime_dir / "access.toml"
                access.write_text('satellite = ["get_state", "follow", "turn", "stop", "set_rom", "away", "health_ack"]\n')
                data["policy"]["access_file"] = str(access)
        for section, values in {**self.scenario.config, **extra}.items():
            data.setdefault(section, {}).update(values)
        for section in ("ssl", "vision", "motor"):
            sec = data.get(section, {})
            for key in ("backend", "audio_backend", "camera_backend", "serial_backend"):
                if key in sec:
                    sec[key] = "sim"
        if "array" in data.get("ssl", {}):
            data["ssl"]["array"] = self.scenario.array
        # The scene's wake word selects the engine's model; with the stand-in the world plays the engine.
        if self.scenario.wake_engine != "standin":
            data["wake"].update(engine=self.scenario.wake_engine, models=[self.scenario.wake_word], model_file="")
        self.config_file.write_text(tomlwrite.dumps(data))
        load_config(self.config_file)          # the generated file must itself be valid

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.logs_dir / f"{name}.log", "ab")
        # All in the reaper's process group, not the launcher's: Ctrl-C in a terminal reaches the launcher only,
        # which stops them in order; and each dies with the launcher, however it ends (die_with_parent).
        proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, process_group=self.reaper.pgid,
                                preexec_fn=die_with_parent())
        log.close()
        self.procs[name] = proc
        return proc

    def start(self, remove_dir_if_killed: bool = False) -> None:
        """The reaper first (every child joins its process group), then the world, then the services.

        remove_dir_if_killed: the launcher made the runtime directory; if it is killed outright, the reaper
        removes the directory after the processes.
        """
        self.reaper = Reaper(self.runtime_dir, self.run_id, remove_dir_if_killed, self.env)
        py = sys.executable
        self._spawn("world", [py, "-m", "device.sim.world", "--scenario", self.scenario.path,
                              "--runtime-dir", str(self.runtime_dir), "--duration", str(self.duration_s)]
                    + (["--fast-plant"] if self.fast_plant else [])
                    + (["--device-voice"] if self.satellite_addr else [])
                    + ["--wait-for", ",".join(n for n in SERVICES if self._launches(n))])
        for name in START_ORDER:
            if name == "web" and not self.web_url:
                continue
            if name == "satellite" and not self.satellite_addr:
                continue
            if name == "wake" and self.scenario.wake_engine == "standin":
                continue                       # the world binds wake.pub and stands in for the engine
            self._spawn(name, [py, "-m", "device", "--config", str(self.config_file), "service", name])

    def _launches(self, name: str) -> bool:
        if name == "web":
            return bool(self.web_url)
        return not (name == "wake" and self.scenario.wake_engine == "standin")

    def check_alive(self) -> None:
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is not None and name == "satellite":
                # Optional, like the web app: another run may have taken its port between the check and the
                # bind. The run goes on without it; its log says why.
                self.satellite_problem = f"stopped (exit {code}): {self.tail(name, 1)[:160]}"
                self.satellite_addr = None
                del self.procs[name]
                continue
            if code is not None and (name != "world" or code != 0):
                raise UserError(f"service {name} exited with code {code}; its log: "
                                f"{self.logs_dir / (name + '.log')}\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 15) -> str:
        try:
            return "\n".join((self.logs_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def world_done(self) -> bool:
        """The world writes its ground truth when the scenario ends (or it died, which check_alive reports)."""
        proc = self.procs.get("world")
        return (self.runtime_dir / "world-truth.json").exists() or (proc is not None and proc.poll() is not None)

    def stop(self, timeout_s: float = 10.0) -> dict[str, int | None]:
        """SIGTERM the services in reverse start order (the motor last, so it parks the turntable), then
        the world that simulates the turntable; SIGKILL whatever does not stop in time."""
        codes = {}
        for group in ([*reversed(START_ORDER)], ["world"]):
            for name in group:
                proc = self.procs.get(name)
                if proc and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            for name in group:
                proc = self.procs.get(name)
                if not proc:
                    continue
                try:
                    codes[name] = proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    codes[name] = proc.wait()
        if self.reaper:
            self.reaper.finish()               # and whatever a child left behind (its own children) goes too
        return codes


def wait_until_started(stack: Stack, recorder: Recorder, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Wait for every service's heartbeat (not for a sleep) before the scenario's clock matters."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        recorder.pump(100)
        stack.check_alive()
        if all(recorder.sub.alive(s, 5.0) for s in SERVICES if s != "web" or "web" in stack.procs):
            return
    missing = [s for s in SERVICES if not recorder.sub.alive(s, 5.0)]
    raise UserError(f"services did not start within {timeout_s:.0f} s: {', '.join(missing)}")


def _port_problem(port: int) -> str:
    """Why the web app cannot have this port on 127.0.0.1 ("" = free): a run never fails for want of it."""
    import socket
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return f"not started: port {port} is {'in use' if exc.errno == 98 else exc.strerror} (try --web-port)"
    return ""


def _check_writable(path: Path) -> None:
    """Refuse a report path that cannot be written before the run, not after it."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(f"--report {path}: is a directory")
    if not parent.is_dir():
        raise UserError(f"--report {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"--report {path}: not writable")


class Stopped(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM or SIGHUP) ended the run; signum says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """SIGTERM and SIGHUP (a `kill`, `timeout`, a closed terminal) end a run as Ctrl-C does: Stopped is raised,
    and the stack is stopped in order. Only the first signal interrupts: one that comes once the stop has begun
    (disarm) is noted and ignored, so the motor still stops last; that stop is bounded (SIGKILL after 10 s).
    Handlers exist in the main thread only; elsewhere (run_stack in a test's thread) this does nothing.
    """
    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self):
        self.signum: int | None = None
        self.armed = True
        self._old: dict[int, object] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._on_signal) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)

    def disarm(self) -> None:
        self.armed = False

    def _on_signal(self, signum, frame) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if first and self.armed:
            raise Stopped(signum)


def run_stack(scenario: str | None, config: str | None, duration: float | None, report_path: str | None,
              view: bool, runtime_dir: str | None = None, fast_plant: bool = False,
              extra_config: dict | None = None, web_port: int | None = None,
              satellite_port: int | None = None) -> dict:
    """Run the stack until the scenario ends or a stop signal (then report["signal"] names it).

    A runtime directory made here is removed when the run ends, whichever way it ends, unless the report names
    it (--report) or an error message points into it (a service's log); if the launcher itself is killed, its
    reaper removes it. A directory given with runtime_dir is left in place.
    """
    if report_path:
        _check_writable(Path(report_path))
    own_dir = runtime_dir is None
    with StopSignals() as signals:
        rdir = Path(runtime_dir) if runtime_dir else Path(tempfile.mkdtemp(prefix="swivel-", dir="/tmp"))
        keep_dir = not own_dir or bool(report_path)
        try:
            return _run(signals, rdir, own_dir, scenario, config, duration, report_path, view, fast_plant,
                        extra_config, web_port, satellite_port)
        except UserError as exc:
            keep_dir = keep_dir or str(rdir) in str(exc)
            raise
        finally:
            if not keep_dir:
                shutil.rmtree(rdir, ignore_errors=True)


def _run(signals: StopSignals, rdir: Path, own_dir: bool, scenario, config, duration, report_path, view,
         fast_plant, extra_config, web_port, satellite_port=None) -> dict:
    stack = Stack(scenario, config, rdir, duration, fast_plant, extra_config, web_port, satellite_port)
    recorder = Recorder(rdir)
    from .liveview import LiveView
    from .report import build_report
    live = LiveView(stack.scenario, runtime_dir=rdir, web=stack.web_url or stack.web_problem,
                    satellite=stack.satellite_addr or stack.satellite_problem) if view else None
    interrupted = False
    try:
        stack.start(remove_dir_if_killed=own_dir)
        wait_until_started(stack, recorder)
        t_start = time.monotonic()
        while not stack.world_done():
            recorder.pump(50)
            stack.check_alive()
            if live:
                live.draw(recorder, time.monotonic() - t_start)
            if time.monotonic() - t_start > stack.duration_s + 120:
                raise UserError("the simulated world did not finish in time; see " + str(stack.logs_dir))
        stack.check_alive()                    # a world that ended in an error ends the run with it
        recorder.pump(200)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signals.disarm()
        codes = stack.stop()
        recorder.close()
        if live:
            live.close()
    truth_file = rdir / "world-truth.json"
    truth = json.loads(truth_file.read_text()) if truth_file.exists() else {}
    report = build_report(stack.scenario, stack.cfg, truth, recorder.timeline, exit_codes=codes,
                          interrupted=interrupted, dropped=dict(recorder.sub.dropped), cpu=recorder.cpu)
    report["runtime_dir"] = str(rdir)
    report["signal"] = signal.Signals(signals.signum).name if signals.signum else None
    if report_path:
        try:
            Path(report_path).write_text(json.dumps(report, indent=2))
        except OSError as exc:
            raise UserError(f"--report {report_path}: cannot write it ({exc.strerror}); "
                            f"the run's logs are in {rdir}") from None
    return report


def run_from_args(args) -> int:
    """Exit status 0, or 128 + the signal number when a stop signal ended the run (130 for Ctrl-C)."""
    view = not (args.headless or args.report) and sys.stdout.isatty()
    try:
        report = run_stack(args.scenario, args.config, args.duration, args.report, view, args.runtime_dir,
                           web_port=args.web_port if args.web_port is not None else load_config(args.config).web.port,
                           satellite_port=getattr(args, "satellite_port", None) if getattr(args, "satellite_port", None)
                           is not None else load_config(args.config).satellite.port)
    except Stopped as exc:             # before the stack started: nothing to report
        return 128 + exc.signum
    from .report import summary_lines
    try:
        for line in summary_lines(report):
            print(line)
        sys.stdout.flush()
    except OSError:                    # the terminal is gone (SIGHUP): nobody left to tell
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.Signals[report["signal"]] if report["signal"] else 0
