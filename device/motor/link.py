"""Serial link to the MCU: sequence numbers, acknowledgements, retransmission, reconnection and counters."""
from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import serial

from .protocol import (AckResult, Frame, FrameDecoder, Health, Msg, Status, Telemetry, encode_frame, limits_payload,
                       move_payload, parse_ack, parse_health, parse_status, parse_telemetry, reports_payload)

log = logging.getLogger("swivel.motor.link")


class LinkError(RuntimeError):
    """The MCU did not answer a command after every retransmission (or the port is closed)."""


@dataclass
class LinkCounters:
    tx_frames: int = 0
    rx_frames: int = 0
    rx_telemetry: int = 0
    rx_health: int = 0
    rx_crc_errors: int = 0
    rx_format_errors: int = 0
    rx_bad_payload: int = 0
    retransmits: int = 0
    timeouts: int = 0
    reconnects: int = 0
    stale_replies: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class _Pending:
    seq: int
    reply_types: tuple[int, ...]
    event: threading.Event = field(default_factory=threading.Event)
    reply: Optional[Frame] = None


class MotorLink:
    """Owns one serial port. A reader thread decodes frames; commands wait for their ACK or reply.

    The port may be a symlink (the simulator's `mcu.pty`): when its target changes or the device
    disappears, the link closes and reopens it, counting a reconnect.
    """

    def __init__(self, port: str, baud: int = 250000, *, ack_timeout_s: float = 0.05, retries: int = 4,
                 reopen_interval_s: float = 0.2, on_telemetry: Callable[[Telemetry], None] | None = None,
                 on_health: Callable[[Health, Telemetry | None, int], None] | None = None):
        self.port = port
        self.baud = baud
        self.ack_timeout_s = ack_timeout_s
        self.retries = retries
        self.reopen_interval_s = reopen_interval_s
        self.on_telemetry = on_telemetry
        # HEALTH frames (after SET_REPORTS): each with the TELEMETRY of the same seq it follows and that
        # frame's capture time; a HEALTH whose TELEMETRY was lost is paired with None.
        self.on_health = on_health
        self.health: Optional[Health] = None
        self._telemetry_seq = -1
        self.counters = LinkCounters()
        self.telemetry: Optional[Telemetry] = None
        self.telemetry_at: float = 0.0          # time.monotonic() of the last telemetry frame
        self.telemetry_t_ns: int = 0            # its capture time on the host's monotonic clock (see below)
        self._clock_offset: Optional[int] = None
        self._last_mcu_ms = -1
        self._ser: Optional[serial.Serial] = None
        self._target: Optional[str] = None
        self._decoder = FrameDecoder()
        self._seq = 0
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()           # pending table and seq
        self._tx_lock = threading.Lock()        # one command in flight at a time
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._connected = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "MotorLink":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="motor-link", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2.0)
        self._close_port()

    def __enter__(self) -> "MotorLink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def telemetry_age_s(self) -> float:
        return time.monotonic() - self.telemetry_at if self.telemetry_at else float("inf")

    def wait_telemetry(self, timeout_s: float, after: float | None = None) -> Optional[Telemetry]:
        """Wait for a telemetry frame received after `after` (monotonic; default now)."""
        after = time.monotonic() if after is None else after
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.telemetry_at > after:
                return self.telemetry
            time.sleep(0.005)
        return None

    # -- port handling ------------------------------------------------------------------------------
    def _resolve(self) -> Optional[str]:
        try:
            return os.path.realpath(self.port) if os.path.exists(self.port) else None
        except OSError:
            return None

    def _open_port(self) -> bool:
        target = self._resolve()
        if target is None:
            return False
        try:
            ser = serial.Serial(self.port, self.baud, timeout=0.02, write_timeout=0.2)
        except (serial.SerialException, OSError) as exc:
            log.debug("cannot open %s: %s", self.port, exc)
            return False
        if self._target is not None:
            self.counters.reconnects += 1
        self._ser, self._target = ser, target
        self._decoder = FrameDecoder()
        with self._lock:
            # A fresh start for the seq counter each time the port opens: a restarted host must not
            # replay the numbers the MCU last saw (see PROTOCOL.md, "Sequence numbers").
            self._seq = random.randrange(256)
        self._connected.set()
        log.info("serial link open on %s (%s)", self.port, target)
        return True

    def _close_port(self) -> None:
        self._connected.clear()
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except (serial.SerialException, OSError):
                pass

    def _run(self) -> None:
        last_check = 0.0
        while not self._stop.is_set():
            if self._ser is None:
                if not self._open_port():
                    self._stop.wait(self.reopen_interval_s)
                continue
            now = time.monotonic()
            if now - last_check > self.reopen_interval_s:
                last_check = now
                if self._resolve() != self._target:        # the simulator restarted on a new pty
                    log.warning("serial port %s moved; reconnecting", self.port)
                    self._close_port()
                    continue
            try:
                data = self._ser.read(1)                  # returns at the first byte (or the timeout)
                if data and self._ser.in_waiting:
                    data += self._ser.read(self._ser.in_waiting)
            except (serial.SerialException, OSError, TypeError) as exc:
                log.warning("serial read failed (%s); reconnecting", exc)
                self._close_port()
                self._stop.wait(self.reopen_interval_s)
                continue
            if data:
                self._receive(data)

    def _receive(self, data: bytes) -> None:
        d = self._decoder
        crc0, fmt0 = d.crc_errors, d.format_errors
        frames = d.feed(data)
        self.counters.rx_crc_errors += d.crc_errors - crc0
        self.counters.rx_format_errors += d.format_errors - fmt0
        for f in frames:
            self.counters.rx_frames += 1
            if f.type == Msg.TELEMETRY:
                try:
                    t = parse_telemetry(f.payload)
                except ValueError:
                    self.counters.rx_bad_payload += 1
                    continue
                self.counters.rx_telemetry += 1
                self.telemetry_t_ns = self._capture_time_ns(t.mcu_ms, time.monotonic_ns())
                self.telemetry, self.telemetry_at = t, time.monotonic()
                self._telemetry_seq = f.seq
                if self.on_telemetry:
                    self.on_telemetry(t)
                continue
            if f.type == Msg.HEALTH:
                try:
                    h = parse_health(f.payload, f.seq)
                except ValueError:
                    self.counters.rx_bad_payload += 1
                    continue
                self.counters.rx_health += 1
                self.health = h
                if self.on_health:
                    paired = self.telemetry if f.seq == self._telemetry_seq else None
                    self.on_health(h, paired, self.telemetry_t_ns)
                continue
            with self._lock:
                p = self._pending.get(f.seq)
                if p is None or f.type not in p.reply_types:
                    self.counters.stale_replies += 1    # a late ACK of a retransmitted command
                    continue
                p.reply = f
                p.event.set()

    def _capture_time_ns(self, mcu_ms: int, recv_ns: int) -> int:
        """Map the MCU's millisecond clock onto time.monotonic_ns().

        Arrival times carry serial and scheduling delays. The offset (arrival - MCU time) of the least
        delayed frame is the best estimate, so the filter drops to any lower offset at once and rises
        only slowly (clock drift, or a simulator that fell behind). The result is kept within 10 ms
        before arrival, so a stale offset can never move a sample far from when it was seen.
        """
        x = recv_ns - mcu_ms * 1_000_000
        if mcu_ms < self._last_mcu_ms or self._clock_offset is None:
            self._clock_offset = x              # first frame, or the MCU restarted: its clock began again
        elif x < self._clock_offset:
            self._clock_offset = x
        else:
            self._clock_offset += (x - self._clock_offset) // 20
        self._last_mcu_ms = mcu_ms
        t = mcu_ms * 1_000_000 + self._clock_offset
        return min(recv_ns, max(t, recv_ns - 10_000_000))

    # -- commands -----------------------------------------------------------------------------------
    def request(self, msg_type: int, payload: bytes = b"", reply_types: tuple[int, ...] = (Msg.ACK,)) -> Frame:
        """Send a command and wait for its reply, retransmitting the same frame (same seq) on silence."""
        with self._tx_lock:
            with self._lock:
                self._seq = (self._seq + 1) & 0xFF
                p = _Pending(self._seq, tuple(int(t) for t in reply_types))
                self._pending[p.seq] = p
            frame = encode_frame(msg_type, p.seq, payload)
            try:
                for attempt in range(self.retries + 1):
                    ser = self._ser
                    if ser is not None:
                        try:
                            ser.write(frame)
                            self.counters.tx_frames += 1
                            if attempt:
                                self.counters.retransmits += 1
                        except (serial.SerialException, OSError) as exc:
                            log.warning("serial write failed: %s", exc)
                    if p.event.wait(self.ack_timeout_s):
                        assert p.reply is not None
                        return p.reply
                self.counters.timeouts += 1
                raise LinkError(f"no reply from the MCU to {Msg(msg_type).name if msg_type in Msg._value2member_map_ else msg_type} "
                                f"after {self.retries + 1} tries")
            finally:
                with self._lock:
                    self._pending.pop(p.seq, None)

    def command(self, msg_type: int, payload: bytes = b"") -> AckResult:
        reply = self.request(msg_type, payload)
        _, result = parse_ack(reply.payload)
        return result

    def ping(self, token: bytes = b"") -> float:
        """Round trip of a PING, in seconds."""
        t0 = time.perf_counter()
        reply = self.request(Msg.PING, token, (Msg.PONG,))
        rtt = time.perf_counter() - t0
        if reply.payload != token:
            raise LinkError("PONG did not echo the PING payload")
        return rtt

    def move(self, target_deg: float, vmax_deg_s: float = 0.0, amax_deg_s2: float = 0.0) -> AckResult:
        return self.command(Msg.MOVE, move_payload(target_deg, vmax_deg_s, amax_deg_s2))

    def stop(self) -> AckResult:
        return self.command(Msg.STOP)

    def hold(self) -> AckResult:
        return self.command(Msg.HOLD)

    def release(self) -> AckResult:
        return self.command(Msg.RELEASE)

    def set_limits(self, min_deg: float, max_deg: float, vmax_deg_s: float, amax_deg_s2: float) -> AckResult:
        return self.command(Msg.SET_LIMITS, limits_payload(min_deg, max_deg, vmax_deg_s, amax_deg_s2))

    def set_zero(self) -> AckResult:
        return self.command(Msg.SET_ZERO)

    def home(self) -> AckResult:
        return self.command(Msg.HOME)

    def clear_fault(self) -> AckResult:
        return self.command(Msg.CLEAR_FAULT)

    def set_reports(self, mask: int) -> AckResult:
        """SET_REPORTS: bit 0 (protocol.REPORT_HEALTH) = a HEALTH frame after each TELEMETRY; 0 = none."""
        return self.command(Msg.SET_REPORTS, reports_payload(mask))

    def status(self) -> Status:
        return parse_status(self.request(Msg.GET_STATUS, b"", (Msg.STATUS,)).payload)

    def write_raw(self, data: bytes) -> None:
        """Send bytes as they are (fuzzing and diagnostics)."""
        ser = self._ser
        if ser is None:
            raise LinkError("serial port is not open")
        ser.write(data)
