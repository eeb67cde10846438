"""Host side of the MCU serial protocol: COBS frames of [type, seq, payload, CRC-16] (see firmware_mcu/PROTOCOL.md)."""
from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

MAX_PAYLOAD = 40
CDEG = 100.0  # wire units are centidegrees


class Msg(IntEnum):
    PING = 0x01
    MOVE = 0x02
    STOP = 0x03
    HOLD = 0x04
    RELEASE = 0x05
    SET_LIMITS = 0x06
    SET_ZERO = 0x07
    HOME = 0x08
    GET_STATUS = 0x09
    CLEAR_FAULT = 0x0A
    SET_REPORTS = 0x0B
    ACK = 0x80
    TELEMETRY = 0x81
    STATUS = 0x82
    PONG = 0x83
    HEALTH = 0x84


class AckResult(IntEnum):
    OK = 0
    CLAMPED = 1
    REJECTED = 2
    BAD_LENGTH = 3
    UNKNOWN = 4


class Flags(IntFlag):
    MOVING = 1 << 0
    STALLED = 1 << 1
    MANUAL = 1 << 2
    AT_LIMIT = 1 << 3
    FAULT = 1 << 4
    HOST_TIMEOUT = 1 << 5
    HOMED = 1 << 6
    ENABLED = 1 << 7
    DIAG = 1 << 8
    CLAMPED = 1 << 9


class Fault(IntEnum):
    NONE = 0
    STALL_SENSOR = 1
    STALL_DIAG = 2
    SENSOR = 3
    WATCHDOG = 4


FAULT_REASONS = {
    Fault.NONE: "",
    Fault.STALL_SENSOR: "stall: commanded and measured angle diverged (lost steps)",
    Fault.STALL_DIAG: "stall: driver StallGuard (DIAG) tripped",
    Fault.SENSOR: "angle sensor reading jumped implausibly",
    Fault.WATCHDOG: "MCU restarted after a watchdog reset",
}


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), the same as firmware_mcu/src/crc16.c."""
    return binascii.crc_hqx(data, 0xFFFF)


def cobs_encode(data: bytes) -> bytes:
    out = bytearray([0])
    code_at, code = 0, 1
    for b in data:
        if b == 0:
            out[code_at] = code
            code_at, code = len(out), 1
            out.append(0)
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_at] = code
                code_at, code = len(out), 1
                out.append(0)
    out[code_at] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes | None:
    """Decode one COBS block (without delimiter); None when the code bytes are inconsistent."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        i += 1
        if code == 0 or i + code - 1 > n:
            return None
        out += data[i:i + code - 1]
        i += code - 1
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes = b""


def encode_frame(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    raw = bytes([msg_type & 0xFF, seq & 0xFF]) + payload
    raw += struct.pack("<H", crc16(raw))
    return cobs_encode(raw) + b"\x00"


class FrameDecoder:
    """Byte-stream decoder: feed() returns whole valid frames; bad ones are counted and dropped."""

    MAX_ENCODED = MAX_PAYLOAD + 4 + 2

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overflow = False
        self.frames_ok = 0
        self.crc_errors = 0
        self.format_errors = 0

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        for b in data:
            if b != 0:
                if len(self._buf) < self.MAX_ENCODED:
                    self._buf.append(b)
                else:
                    self._overflow = True
                continue
            buf, overflow = bytes(self._buf), self._overflow
            self._buf.clear()
            self._overflow = False
            if not buf and not overflow:
                continue
            raw = None if overflow else cobs_decode(buf)
            if raw is None or len(raw) < 4 or len(raw) > MAX_PAYLOAD + 4:
                self.format_errors += 1
                continue
            if crc16(raw[:-2]) != struct.unpack_from("<H", raw, len(raw) - 2)[0]:
                self.crc_errors += 1
                continue
            self.frames_ok += 1
            frames.append(Frame(raw[0], raw[1], raw[2:-2]))
        return frames


# ---- payload builders (host -> MCU) ----

def _cdeg(deg: float) -> int:
    return int(round(deg * CDEG))


def _u16_cdeg(value: float) -> int:
    return max(0, min(0xFFFF, _cdeg(value)))


def move_payload(target_deg: float, vmax_deg_s: float = 0.0, amax_deg_s2: float = 0.0) -> bytes:
    """vmax/amax of 0 mean 'as fast as the MCU's limits allow'."""
    return struct.pack("<iHH", _cdeg(target_deg), _u16_cdeg(vmax_deg_s), _u16_cdeg(amax_deg_s2))


def limits_payload(min_deg: float, max_deg: float, vmax_deg_s: float, amax_deg_s2: float) -> bytes:
    return struct.pack("<iiHH", _cdeg(min_deg), _cdeg(max_deg), _u16_cdeg(vmax_deg_s), _u16_cdeg(amax_deg_s2))


REPORT_HEALTH = 0x01   # SET_REPORTS bit 0: a HEALTH frame after each TELEMETRY


def reports_payload(mask: int) -> bytes:
    return bytes([mask & 0xFF])


# ---- payload parsers (MCU -> host) ----

@dataclass(frozen=True)
class Telemetry:
    position_deg: float      # commanded (step count)
    measured_deg: float      # AS5600
    target_deg: float
    velocity_deg_s: float
    flags: Flags
    fault: Fault
    last_seq: int
    mcu_ms: int

    @property
    def fault_reason(self) -> str:
        return FAULT_REASONS.get(self.fault, f"fault code {int(self.fault)}")


TELEMETRY_FMT = "<iiiiHBBI"


def parse_telemetry(payload: bytes) -> Telemetry:
    if len(payload) != struct.calcsize(TELEMETRY_FMT):
        raise ValueError(f"telemetry payload of {len(payload)} bytes")
    pos, meas, target, vel, flags, fault, last_seq, ms = struct.unpack(TELEMETRY_FMT, payload)
    try:
        fault_code = Fault(fault)
    except ValueError:
        fault_code = Fault.SENSOR if fault else Fault.NONE
    return Telemetry(pos / CDEG, meas / CDEG, target / CDEG, vel / CDEG, Flags(flags), fault_code, last_seq, ms)


@dataclass(frozen=True)
class Status:
    rx_ok: int
    rx_crc_errors: int
    rx_format_errors: int
    rx_bad_length: int
    rx_unknown: int
    rx_duplicates: int
    tx_frames: int
    tx_dropped: int
    host_timeouts: int
    stalls: int
    manual_turns: int
    step_underruns: int
    min_deg: float
    max_deg: float
    vmax_deg_s: float
    amax_deg_s2: float


STATUS_FMT = "<12HiiHH"


def parse_status(payload: bytes) -> Status:
    if len(payload) != struct.calcsize(STATUS_FMT):
        raise ValueError(f"status payload of {len(payload)} bytes")
    v = struct.unpack(STATUS_FMT, payload)
    return Status(*v[:12], v[12] / CDEG, v[13] / CDEG, v[14] / CDEG, v[15] / CDEG)


def parse_ack(payload: bytes) -> tuple[int, AckResult]:
    if len(payload) != 2:
        raise ValueError(f"ack payload of {len(payload)} bytes")
    try:
        return payload[0], AckResult(payload[1])
    except ValueError:
        return payload[0], AckResult.UNKNOWN


@dataclass(frozen=True)
class Health:
    """One HEALTH frame: the 20 ms window before the TELEMETRY of the same seq (PROTOCOL.md, HEALTH).

    err = measured - commanded angle, sampled every 1 ms in the window."""
    seq: int
    err_mean_deg: float
    err_min_deg: float
    err_max_deg: float
    stall_margin_deg: float   # stall threshold (3 degrees) - max |err|, floored at 0
    steps: int                # signed steps issued in the window
    diag_ms: int              # ms the driver's DIAG line was high
    settle_ms: int | None     # of the last finished move; None = none yet
    backlash_deg: float | None  # at the last reversal; None = none yet


HEALTH_FMT = "<hhhHhHHh"
SETTLE_NONE = 0xFFFF
BACKLASH_NONE = 0x7FFF


def parse_health(payload: bytes, seq: int = 0) -> Health:
    if len(payload) != struct.calcsize(HEALTH_FMT):
        raise ValueError(f"health payload of {len(payload)} bytes")
    mean, lo, hi, margin, steps, diag, settle, backlash = struct.unpack(HEALTH_FMT, payload)
    return Health(seq, mean / CDEG, lo / CDEG, hi / CDEG, margin / CDEG, steps, diag,
                  None if settle == SETTLE_NONE else settle,
                  None if backlash == BACKLASH_NONE else backlash / CDEG)
