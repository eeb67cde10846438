"""The motor service: `motor.goal` in, MCU commands over the serial link, `motor.state` out, GPIO reset and LED."""
from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Optional

from gpiozero import LED, OutputDevice

from ..bus.schemas import MotorGoal, MotorHealth, MotorState
from ..hw.gpio import use_pin_factory
from ..runtime.service import Service
from .config import MotorConfig
from .goals import Command, GoalFilter
from .link import LinkError, MotorLink
from .protocol import REPORT_HEALTH, AckResult, Fault, Flags, Health, Telemetry

STATUS_PERIOD_S = 1.0            # how often the idle keepalive reads the MCU's counters instead of pinging
# An MCU that restarts mid-move boots with the driver off while the table still coasts (at 80 deg/s and the
# bearing's drag, about 9 degrees in 0.2 s); the firmware, at rest with its position just taken from the
# sensor, reads that as a hand turning the table. The host knows the MCU just restarted: MANUAL that soon
# after is the coast, not a person, and must not make the policy yield for 30 s.
COAST_AFTER_RESTART_S = 1.5

def resolve_port(mc: MotorConfig, runtime_dir: Path) -> str:
    """The simulator's pty symlink in the runtime directory, or the configured device."""
    return str(Path(runtime_dir) / "mcu.pty") if mc.serial_backend == "sim" else mc.port


class CommandWorker:
    """Sends commands to the MCU on its own thread so retransmissions never stall the service loop."""

    def __init__(self, link: MotorLink, log: logging.Logger):
        self.link = link
        self.log = log
        self.q: queue.Queue[Optional[Command]] = queue.Queue()
        self.last_sent_s = 0.0
        self.failures = 0
        self.results: dict[str, int] = {}
        self.failed = threading.Event()      # set when a command got no answer: the service resyncs
        self.status = None                   # the MCU's last STATUS (its counters), read by "status"
        self._thread = threading.Thread(target=self._run, name="motor-commands", daemon=True)
        self._thread.start()

    def submit(self, cmd: Command) -> None:
        self.q.put(cmd)

    def idle(self) -> bool:
        return self.q.empty()

    def close(self, timeout_s: float = 2.0) -> None:
        self.q.put(None)
        self._thread.join(timeout_s)

    def _send(self, cmd: Command) -> AckResult | None:
        ln = self.link
        k, a = cmd.kind, cmd.args
        if k == "move":
            return ln.move(*a)
        if k == "limits":
            return ln.set_limits(*a)
        if k == "reports":
            return ln.set_reports(*a)
        if k == "ping":
            ln.ping()
            return None
        if k == "status":
            self.status = ln.status()
            return None
        return {"stop": ln.stop, "hold": ln.hold, "release": ln.release, "home": ln.home,
                "clear_fault": ln.clear_fault}[k]()

    def _run(self) -> None:
        while True:
            cmd = self.q.get()
            if cmd is None:
                return
            try:
                result = self._send(cmd)
                self.last_sent_s = time.monotonic()
                if result is not None:
                    self.results[result.name] = self.results.get(result.name, 0) + 1
                    if result not in (AckResult.OK, AckResult.CLAMPED):
                        self.log.warning("MCU answered %s to %s", result.name, cmd)
            except LinkError as exc:
                self.failures += 1
                self.failed.set()
                if cmd.kind not in ("ping", "status"):
                    self.log.warning("command %s failed: %s", cmd.kind, exc)
            except Exception as exc:             # a bad reply must not end the only thread that talks to the MCU
                self.failures += 1
                self.failed.set()
                self.log.error("command %s failed: %s: %s", cmd.kind, type(exc).__name__, exc)


class MotorService(Service):
    name = "motor"

    def setup(self) -> None:
        mc: MotorConfig = self.cfg.motor
        self.mc = mc
        backend = self.cfg.gpio.backend if mc.gpio_backend == "auto" else mc.gpio_backend
        use_pin_factory(backend)
        # RESET is active low: "on" holds the MCU in reset.
        self.reset_line = OutputDevice(mc.reset_pin, active_high=False, initial_value=False)
        self.led = LED(mc.status_led_pin)
        self.led_mode = ""
        self.port = resolve_port(mc, self.runtime_dir)
        self.goals = GoalFilter(mc)
        # HEALTH frames arrive on the link's reader thread; the loop publishes them (one thread per socket).
        self.health_q: collections.deque[tuple[Health, Telemetry, int]] = collections.deque(maxlen=256)
        self.health_unpaired = 0
        self.health_published = 0
        self.reports_sent = False
        self.link = MotorLink(self.port, mc.baud, ack_timeout_s=mc.ack_timeout_s, retries=mc.retries,
                              on_health=self._on_health).start()
        self.worker = CommandWorker(self.link, self.log)
        self.telemetry: Optional[Telemetry] = None
        self.telemetry_ns = 0
        self.last_mcu_ms = -1
        self.mcu_resets_seen = 0
        self.reset_pulses = 0
        self.last_reset_s = float("-inf")
        self.status_asked_s = float("-inf")
        self.restart_seen_s = float("-inf")
        self.was_connected = False
        self.connected_since = time.monotonic()
        self.port_warned = False
        self.home_sent = False
        self.stall_since_s: Optional[float] = None
        self.on("policy", "motor.goal", self.on_goal)
        self.watch("policy")
        self.loop.every(1.0 / mc.state_rate_hz, self.publish_state)
        self.loop.every(0.02, self.supervise)
        self.event("motor link", port=self.port, baud=mc.baud)

    # -- inputs -------------------------------------------------------------------------------------
    def on_goal(self, goal: MotorGoal) -> None:
        # Freshness is arrival, not t_ns: the policy's loop republishes its last goal unchanged (same
        # t_ns) every 0.1 s, so each arrival proves the policy is alive and still wants it.
        if not self.goals.on_goal(goal, time.monotonic()):
            self.sub.dropped["invalid:motor.goal"] += 1
            return
        if goal.mode == "release":
            self.worker.submit(Command("clear_fault"))  # being put down by hand: forget learned obstacles

    def _take_telemetry(self) -> None:
        t = self.link.telemetry
        if t is None or t is self.telemetry:
            return
        if self.last_mcu_ms >= 0 and t.mcu_ms < self.last_mcu_ms:
            self.mcu_resets_seen += 1                     # the MCU rebooted: tell it everything again
            self.event("MCU restarted", level=logging.WARNING, uptime_ms=t.mcu_ms)
            self.goals.resync()
            self.home_sent = False
            self.reports_sent = False                     # SET_REPORTS is forgotten on reset, like limits
            self.worker.status = None                     # its counters started again from 0
            self.restart_seen_s = time.monotonic()
            self.status_asked_s = float("-inf")
        self.last_mcu_ms = t.mcu_ms
        self.telemetry = t
        self.telemetry_ns = self.link.telemetry_t_ns

    # -- periodic work ------------------------------------------------------------------------------
    def supervise(self) -> None:
        now = time.monotonic()
        self._take_telemetry()
        connected = self.link.connected
        if connected and not self.was_connected:
            self.connected_since = now
            self.goals.resync()
            self.home_sent = False
            self.reports_sent = False
            self.port_warned = False
        elif not connected and not self.port_warned and now - self.started > 10.0:
            self.port_warned = True             # once per outage: the link keeps retrying quietly
            self.event("MCU serial port not available; retrying", level=logging.WARNING, port=self.port)
        self.was_connected = connected
        if self.worker.failed.is_set():
            self.worker.failed.clear()
            self.goals.resync()
            self.reports_sent = False
        if connected and self.mc.health_reports and not self.reports_sent:
            self.worker.submit(Command("reports", (REPORT_HEALTH,)))
            self.reports_sent = True
        self.publish_health()
        t = self.telemetry
        if connected and t is not None and not t.flags & Flags.HOMED and not self.home_sent:
            self.worker.submit(Command("home"))          # the sensor is absolute: homing is just reading it
            self.home_sent = True
        # The policy republishes its goal at 10 Hz from the same loop that sends its heartbeat, so both
        # go quiet together; either one seen within the dead-man timeout keeps the motor enabled.
        policy_alive = self.sub.alive("policy", self.mc.deadman_timeout_s)
        for cmd in self.goals.due(now, policy_alive):
            self.worker.submit(cmd)
        if t is not None and t.flags & Flags.STALLED:
            if self.stall_since_s is None:
                self.stall_since_s = now
            elif now - self.stall_since_s > self.mc.obstacle_memory_s:
                self.worker.submit(Command("clear_fault"))
                self.stall_since_s = None
        else:
            self.stall_since_s = None
        if connected and self.worker.idle() and now - self.worker.last_sent_s > self.mc.keepalive_s:
            # The MCU stops by itself after 250 ms of silence. About once a second the keepalive asks for
            # STATUS instead of a PING: its step-underrun counter goes into motor.state (the event journal).
            if now - self.status_asked_s >= STATUS_PERIOD_S:
                self.status_asked_s = now
                self.worker.submit(Command("status"))
            else:
                self.worker.submit(Command("ping"))
        # A silent MCU (hung, brown-out, or its USB link gone after talking) gets a reset pulse, at most
        # every 5 s. A port that never opened is a missing board (or a simulator not started yet), not a hang.
        silent_s = min(self.link.telemetry_age_s(), now - self.connected_since)
        if ((connected or self.telemetry is not None) and silent_s > self.mc.telemetry_timeout_s
                and now - self.last_reset_s > 5.0):
            self.pulse_reset()
        self._update_led()

    def pulse_reset(self) -> None:
        """Hold the MCU's RESET low for reset_pulse_s (on a timer thread: the loop keeps running)."""
        self.last_reset_s = time.monotonic()
        self.reset_pulses += 1
        self.event("resetting the MCU", level=logging.WARNING, pulses=self.reset_pulses)
        self.reset_line.on()
        threading.Timer(self.mc.reset_pulse_s, self.reset_line.off).start()

    def link_ok(self) -> bool:
        return self.link.connected and self.link.telemetry_age_s() < 0.2

    def fault_reason(self) -> Optional[str]:
        t = self.telemetry
        if not self.link_ok():
            return "serial link to the MCU is down"
        if t is not None and t.fault != Fault.NONE:
            return t.fault_reason
        if self.goals.deadman and self.goals.deadman_trips:
            return "policy silent: stopped by the dead man's switch"
        return None

    def _update_led(self) -> None:
        mode = "off" if not self.link_ok() else ("blink" if self.fault_reason() else "on")
        if mode == self.led_mode:
            return
        self.led_mode = mode
        if mode == "on":
            self.led.on()
        elif mode == "off":
            self.led.off()
        else:
            self.led.blink(on_time=0.1, off_time=0.1)

    def state(self) -> Optional[MotorState]:
        t = self.telemetry
        if t is None:
            return None
        f = t.flags
        return MotorState(
            t_ns=self.telemetry_ns, heading_deg=t.position_deg, velocity_dps=t.velocity_deg_s,
            target_deg=t.target_deg, moving=bool(f & Flags.MOVING), stalled=bool(f & Flags.STALLED),
            manual=bool(f & Flags.MANUAL) and time.monotonic() - self.restart_seen_s > COAST_AFTER_RESTART_S,
            homed=bool(f & Flags.HOMED),
            at_limit=bool(f & Flags.AT_LIMIT) or self.goals.clamped,
            host_timeout=bool(f & Flags.HOST_TIMEOUT), link_ok=self.link_ok(),
            fault=self.fault_reason(), goal_seq=self.goals.goal_seq,
            queue=self.worker.q.qsize(), retransmits=self.link.counters.retransmits,
            timeouts=self.link.counters.timeouts, rx_crc_errors=self.link.counters.rx_crc_errors,
            underruns=None if self.worker.status is None else self.worker.status.step_underruns)

    def _on_health(self, h: Health, t: Optional[Telemetry], t_ns: int) -> None:
        """Link thread: keep a HEALTH with the TELEMETRY it follows (one whose TELEMETRY was lost is dropped)."""
        if t is None:
            self.health_unpaired += 1
            return
        self.health_q.append((h, t, t_ns))

    def publish_health(self) -> None:
        while self.health_q:
            h, t, t_ns = self.health_q.popleft()
            self.pub.publish("motor.health", MotorHealth(
                t_ns=t_ns, commanded_deg=t.position_deg, measured_deg=t.measured_deg,
                velocity_dps=t.velocity_deg_s, moving=bool(t.flags & Flags.MOVING),
                err_mean_deg=h.err_mean_deg, err_min_deg=h.err_min_deg, err_max_deg=h.err_max_deg,
                stall_margin_deg=h.stall_margin_deg, steps=h.steps, diag_ms=h.diag_ms,
                settle_ms=h.settle_ms, backlash_deg=h.backlash_deg, mcu_ms=t.mcu_ms))
            self.health_published += 1

    def publish_state(self) -> None:
        st = self.state()
        if st is not None:
            self.pub.publish("motor.state", st)

    def log_stats(self) -> None:
        super().log_stats()
        self.event("motor stats", link=self.link.counters.as_dict(), acks=dict(self.worker.results),
                   bad_goals=self.goals.bad_goals, deadman_trips=self.goals.deadman_trips,
                   mcu_restarts=self.mcu_resets_seen, reset_pulses=self.reset_pulses,
                   health_published=self.health_published, health_unpaired=self.health_unpaired)

    def teardown(self) -> None:
        """Park: brake to rest and keep holding; the MCU's own timeout covers us from here on."""
        worker = getattr(self, "worker", None)
        if worker is not None:
            if self.link.connected:
                worker.submit(Command("stop"))
            worker.close()
        link = getattr(self, "link", None)
        if link is not None:
            link.close()
        for dev in (getattr(self, "led", None), getattr(self, "reset_line", None)):
            if dev is not None:
                dev.close()


def main(cfg) -> int:
    return MotorService(cfg).run()
