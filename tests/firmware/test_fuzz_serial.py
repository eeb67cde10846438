"""Serial fuzzing of the real firmware: random and mutated frames never crash it, never move it, and are counted."""
from __future__ import annotations

import random
import struct
import time

from device.motor.protocol import (Flags, Fault, FrameDecoder, Msg, crc16, cobs_encode, encode_frame,
                                   limits_payload, move_payload)


def _valid_frames_in(blob: bytes) -> int:
    d = FrameDecoder()
    return len(d.feed(blob))


def _mutate(rng: random.Random, frame: bytes) -> bytes:
    b = bytearray(frame[:-1])              # keep the delimiter out of the mutation
    kind = rng.randrange(5)
    if kind == 0 and b:                    # flip bits
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == 1 and len(b) > 1:         # truncate
        del b[rng.randrange(1, len(b)):]
    elif kind == 2:                        # insert junk
        i = rng.randrange(len(b) + 1)
        b[i:i] = bytes(rng.randrange(1, 256) for _ in range(rng.randint(1, 4)))
    elif kind == 3 and len(b) > 2:         # drop a byte
        del b[rng.randrange(len(b))]
    else:                                  # overwrite a byte
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b) + b"\x00"


def _reframe(msg_type: int, payload: bytes, seq: int) -> bytes:
    """A frame with a correct CRC but a protocol error (unknown type or wrong payload length)."""
    raw = bytes([msg_type, seq]) + payload
    return cobs_encode(raw + struct.pack("<H", crc16(raw))) + b"\x00"


def test_fuzzed_frames_never_crash_or_move_and_are_counted(sim, link):
    rng = random.Random(20261122)
    before = link.status()
    t_start = link.wait_telemetry(1.0).mcu_ms
    seeds = [encode_frame(Msg.MOVE, s, move_payload(rng.uniform(-170, 170), 180, 360)) for s in range(20)]
    seeds += [encode_frame(Msg.SET_LIMITS, s, limits_payload(-90, 90, 180, 360)) for s in range(5)]
    seeds += [encode_frame(Msg.HOLD, 3), encode_frame(Msg.SET_ZERO, 4), encode_frame(Msg.HOME, 5)]
    sent = {"random": 0, "mutated": 0, "unknown": 0, "bad_length": 0}
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        burst = bytearray()
        for _ in range(8):
            kind = rng.randrange(4)
            if kind == 0:
                blob = b"\x00" + bytes(rng.choice((0, rng.randrange(1, 256))) if rng.random() < 0.05
                                       else rng.randrange(1, 256) for _ in range(rng.randint(1, 80))) + b"\x00"
                key = "random"
            elif kind == 1:
                blob = b"\x00" + _mutate(rng, rng.choice(seeds))
                key = "mutated"
            elif kind == 2:
                blob = _reframe(rng.choice([0x00, 0x0C, 0x10, 0x7F, 0x80, 0x84, 0xFF]),
                                bytes(rng.randrange(256) for _ in range(rng.randint(0, 12))), rng.randrange(256))
                key = "unknown"
            else:
                blob = _reframe(Msg.MOVE, bytes(rng.randrange(256) for _ in range(rng.choice((0, 4, 7, 9, 12)))),
                                rng.randrange(256))
                key = "bad_length"
            if kind < 2 and _valid_frames_in(blob):
                continue                   # a mutation that happens to be a valid frame is not invalid input
            burst += blob
            sent[key] += 1
        link.write_raw(bytes(burst))
        link.ping(b"alive")                # valid traffic in between keeps the host timeout quiet
        time.sleep(0.02)

    # Still alive, never rebooted, never moved, never energised the driver.
    assert sim.running and sim.crashed is None
    assert link.ping(b"alive?") > 0
    tel = link.wait_telemetry(1.0)
    assert tel.mcu_ms > t_start and tel.fault != Fault.WATCHDOG
    assert not tel.flags & (Flags.MOVING | Flags.ENABLED)
    assert sim.step_edges() == [] and sim.state().motor_steps == 0
    assert sim.state().mcu_resets == 0
    # Every kind of rejection was counted.
    after = link.status()
    assert after.rx_crc_errors > before.rx_crc_errors
    assert after.rx_format_errors > before.rx_format_errors
    assert after.rx_unknown - before.rx_unknown >= sent["unknown"] * 0.9
    assert after.rx_bad_length - before.rx_bad_length >= sent["bad_length"] * 0.9
    assert sum(sent.values()) > 500
