"""The policy service: feeds the pure Policy from the bus, the mute button and the motion API, and publishes its goals."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Optional

import msgspec

from ..bus.rpc import RpcServer
from ..bus.schemas import PolicyState
from ..errors import UserError
from ..runtime.service import Service
from . import rom_store
from .access import AccessControl
from .api import MotionApi
from .core import Output, Policy, Rom


GOAL_REFRESH_NS = 100_000_000       # motor.goal's period in the topic registry


class PolicyService(Service):
    name = "policy"

    def setup(self) -> None:
        pc = self.cfg.policy
        root = logging.getLogger()                              # the more verbose of [bus] and [policy]
        root.setLevel(min(root.level, logging.getLevelName(pc.log_level.upper())))
        now = time.monotonic_ns()
        self.state_path = rom_store.resolve_state_path(pc.state_file)
        rom, notes = self._load_rom()
        outer = (self.cfg.motor.rom_min_deg, self.cfg.motor.rom_max_deg)
        if rom.min_deg < outer[0] or rom.max_deg > outer[1]:
            clipped = Rom(max(rom.min_deg, outer[0]), min(rom.max_deg, outer[1]), rom.source)
            note = (f"range of motion {rom.text()} ({rom.source}) reaches beyond the turntable's outer range "
                    f"{outer[0]:g}..{outer[1]:g}: using {clipped.text()}")
            notes.append(note[:200])
            self.event("range of motion clipped", logging.WARNING, detail=note)
            rom = clipped
        self.policy = Policy(pc, now, rom)
        self.policy.outer = outer
        self.policy.notes = notes
        self.access = AccessControl(Path(pc.access_file).expanduser() if pc.access_file else None, os.getuid())
        self._setup_mute()
        self.on("ssl", "ssl.doa", self._on_doa)
        self.watch("ssl")                     # its heartbeat: see _check_peers
        self._ssl_seen = False
        self.on("vision", "vision.people", lambda m: self.policy.on_people(m, time.monotonic_ns()))
        self.on("motor", "motor.state", lambda m: self.policy.on_motor(m, time.monotonic_ns()))
        self.on("health", "health.state", self.policy.on_health)     # gentle motion (turntable health)
        self.api = MotionApi(self.policy, self.access, time.monotonic_ns, self.step, self.event,
                             speed_limits=(self.cfg.motor.max_speed_dps, self.cfg.motor.max_accel_dps2),
                             tokens=self._load_tokens(), settings_changed=self._store_settings)
        self._load_settings()
        self.rpc = RpcServer(self.runtime_dir, self.api.handle, self.ctx)
        try:
            # The service's umask would keep everyone else out; the access policy is what should decide.
            os.chmod(self.runtime_dir / "motion.sock", pc.api_socket_mode)
        except OSError as exc:
            self.event("motion.sock mode not set", logging.WARNING, error=str(exc))
        self.loop.add_reader(self.rpc.sock, self._serve)
        self.loop.every(pc.tick_s, self.step)
        # The event journal (`swivel diagnose`): the policy hears every stage already, so it hosts the writer.
        from ..diagnose.journal import JournalWriter, journal_dir
        self.journal = JournalWriter.attach(self, journal_dir(self.state_path))
        self._last_state: Optional[PolicyState] = None
        self._goal_sent_ns = 0
        self._last_holds: list[str] = []
        self._last_decision = ""
        self.event("policy started", rom=rom.text(), rom_source=rom.source, state_file=str(self.state_path),
                   access=self.access.policy.origin, follow=self.policy.follow)

    # -- speed preset and away hours, stored beside the range of motion -----------------------------
    def _settings_path(self) -> Path:
        return self.state_path.parent / "settings.json"

    def _load_settings(self) -> None:
        """What the page or an app set last (a bad file keeps the configured values and says why)."""
        import json
        from .config import parse_hours
        try:
            data = json.loads(self._settings_path().read_text())
            preset, hours = data.get("speed_preset", "normal"), data.get("away_hours", self.cfg.policy.away.hours)
            if preset not in ("calm", "normal", "fast") or not isinstance(hours, str):
                raise ValueError(f"speed_preset {preset!r} or away_hours {hours!r} not valid")
            if hours:
                parse_hours(hours)
        except FileNotFoundError:
            return
        except (OSError, ValueError, AttributeError) as exc:
            self.event("settings not read", logging.ERROR, path=str(self._settings_path()), error=str(exc))
            return
        self.api.apply_speed(preset)
        self.policy.cmd_away_hours(hours)
        self.event("settings restored", speed_preset=preset, away_hours=hours)

    def _store_settings(self) -> None:
        import json
        import tempfile
        path = self._settings_path()
        data = {"speed_preset": self.policy.speed_preset, "away_hours": self.policy.away.cfg.hours}
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-")
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
            os.replace(tmp, path)
        except OSError as exc:
            self.event("settings not stored", logging.ERROR, path=str(path), error=exc.strerror or str(exc))

    def _load_tokens(self):
        """The apps' tokens, next to the stored range of motion (a bad file: no token is valid, said once)."""
        from .tokens import FILE_NAME, TokenStore
        store = TokenStore(self.state_path.parent / FILE_NAME)
        if store.problem:
            self.event("app tokens problem", logging.ERROR, detail=store.problem)
        return store

    def _serve(self) -> None:
        before = self.rpc.malformed
        self.rpc.handle_ready()
        if self.rpc.malformed != before:
            self.event("motion API request malformed", logging.WARNING, count=self.rpc.malformed)

    def log_stats(self) -> None:
        super().log_stats()
        api, rpc = getattr(self, "api", None), getattr(self, "rpc", None)
        if api is not None and rpc is not None and (api.counts or rpc.malformed):
            self.event("motion API stats", requests=dict(api.counts), malformed=rpc.malformed)

    # -- range of motion on disk ------------------------------------------------------------------
    def _load_rom(self) -> tuple[Rom, list[str]]:
        """The stored range if there is a good one; a bad or unwritable state file degrades, never crashes."""
        pc = self.cfg.policy
        rom, notes = Rom(pc.rom.min_deg, pc.rom.max_deg, "config"), []
        try:
            stored = rom_store.load(self.state_path)
        except rom_store.RomStateError as exc:
            notes.append(f"{exc} (using the configured range)"[:200])
        else:
            if stored is not None:
                rom = Rom(stored.min_deg, stored.max_deg, "state_file")
        problem = rom_store.check_writable(self.state_path)
        if problem:
            notes.append(problem[:200])
        for note in notes:
            self.event("range-of-motion state problem", logging.ERROR, detail=note)
        self._degraded = notes[0] if notes else ""
        return rom, notes

    def _store_rom(self) -> None:
        rom = self.policy.rom
        try:
            rom_store.save(self.state_path, rom_store.StoredRom(min_deg=rom.min_deg, max_deg=rom.max_deg,
                                                                 source=rom.source))
        except OSError as exc:
            note = f"range of motion {rom.text()} applied but not stored in {self.state_path}: {exc.strerror or exc}"
            self.policy.notes = self.policy.notes[-7:] + [note[:200]]
            self._degraded = note
            self.event("range of motion not stored", logging.ERROR, detail=note)
        else:
            self.event("range of motion stored", rom=rom.text(), source=rom.source, path=str(self.state_path))

    # -- mute button --------------------------------------------------------------------------------
    def _setup_mute(self) -> None:
        pc = self.cfg.policy
        self.mute_button = None
        self._mute_was_pressed = False
        if pc.mute_pin is None:
            return
        from gpiozero import Button
        from gpiozero.exc import GPIOZeroError

        from ..hw.gpio import SimSwitches, use_pin_factory
        use_pin_factory(self.cfg.gpio.backend)
        try:
            self.mute_button = Button(pc.mute_pin, pull_up=pc.mute_active_low, bounce_time=None)
        except (GPIOZeroError, OSError) as exc:
            raise UserError(f"mute button on GPIO{pc.mute_pin} cannot be opened: {exc}") from None
        if self.cfg.gpio.backend == "mock":
            # In simulation the world's `mute` truth drives this process's mock pin.
            switches = SimSwitches({"mute": (pc.mute_pin, pc.mute_active_low)})
            self.on("world", "sim.world", switches.apply)

    def _read_mute(self) -> None:
        if self.mute_button is None:
            return
        pressed = bool(self.mute_button.is_pressed)
        if self.cfg.policy.mute_mode == "switch":
            self.policy.set_muted(pressed)
        elif pressed and not self._mute_was_pressed:
            self.policy.set_muted(not self.policy.muted)
        self._mute_was_pressed = pressed

    def _on_doa(self, msg) -> None:
        self.policy.on_doa(msg, time.monotonic_ns())
        if msg.trigger == "wake":
            # Decide now rather than at the next tick: a wake word is when latency is felt (up to tick_s saved).
            self.step()

    # -- peers ------------------------------------------------------------------------------------------
    def _check_peers(self) -> None:
        """ssl publishes only when it hears something, so its heartbeat is what says it is there (vision and
        the motor say so with their periodic state)."""
        if self.peer_alive("ssl"):
            self._ssl_seen = True
            self.policy.ssl_missing = ""
        elif self._ssl_seen:
            self.policy.ssl_missing = f"no heartbeat from ssl for {self.cfg.bus.heartbeat_timeout_s:g} s"
        else:
            self.policy.ssl_missing = "waiting for ssl's first heartbeat"

    # -- the tick -----------------------------------------------------------------------------------
    def step(self) -> PolicyState:
        if self._degraded and self.pub.hb_state == "running":
            # Running, but something the user should fix (the heartbeat tells `swivel run` and the logs).
            self.pub.hb_state, self.pub.hb_detail = "degraded", self._degraded
        self._read_mute()
        self._check_peers()
        out = self.policy.tick(time.monotonic_ns())
        if out.rom_changed:
            self._store_rom()
            out.state = msgspec.structs.replace(out.state, notes=self.policy.notes[-8:])
        self._publish(out)
        return out.state

    def _publish(self, out: Output) -> None:
        now = time.monotonic_ns()
        if out.goal is not None:
            self.pub.publish("motor.goal", out.goal)
            self._goal_sent_ns = now
            self.event("goal", seq=out.goal.seq, mode=out.goal.mode, target=out.goal.target_deg,
                       source=out.goal.source, decision=out.state.decision, level=logging.DEBUG)
        elif self.policy.goal is not None and now - self._goal_sent_ns >= GOAL_REFRESH_NS:
            # The same goal (same seq), re-stamped: the motor treats a goal older than its dead man's
            # timeout as no goal, so a plain republication of the old message would not keep it armed.
            self.pub.publish("motor.goal", msgspec.structs.replace(self.policy.goal, t_ns=now))
            self._goal_sent_ns = now
        for alert in out.alerts:
            self.pub.publish("policy.alert", alert)
            self.event("away alert: person seen", logging.WARNING, bearing=alert.bearing_deg, track=alert.track_id)
        state = out.state
        if state.decision != self._last_decision:
            self.event("decision", logging.DEBUG, mode=state.mode, decision=state.decision, zone=state.zone,
                       target=state.target_deg, heading=state.heading_deg)
            self._last_decision = state.decision
        if state.holds != self._last_holds:
            self.event("holds", holds=state.holds, reasons=state.hold_reasons)
            self._last_holds = list(state.holds)
        comparable = msgspec.structs.replace(state, t_ns=0)
        if comparable != self._last_state:
            self._last_state = comparable
            self.pub.publish("policy.state", state)

    def teardown(self) -> None:
        rpc = getattr(self, "rpc", None)
        if rpc is not None:
            rpc.close()
        if getattr(self, "mute_button", None) is not None:
            self.mute_button.close()


def main(cfg) -> int:
    return PolicyService(cfg).run()
