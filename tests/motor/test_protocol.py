"""Host frame codec: agrees with the firmware's CRC and COBS, and rejects what the firmware rejects."""
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.motor.protocol import (MAX_PAYLOAD, AckResult, Flags, FrameDecoder, Msg, cobs_decode, cobs_encode,
                                   crc16, encode_frame, move_payload, parse_ack, parse_status, parse_telemetry)


def test_crc_matches_the_catalogue_check_value():
    assert crc16(b"123456789") == 0x29B1


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=MAX_PAYLOAD))
@settings(max_examples=300, deadline=None)
def test_frames_round_trip_and_contain_no_zero(t, seq, payload):
    enc = encode_frame(t, seq, payload)
    assert enc[-1] == 0 and 0 not in enc[:-1]
    frames = FrameDecoder().feed(enc)
    assert len(frames) == 1 and (frames[0].type, frames[0].seq, frames[0].payload) == (t, seq, payload)


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_cobs_round_trip_any_length(data):
    assert cobs_decode(cobs_encode(data)) == data


def test_corrupt_truncated_and_oversized_frames_are_counted_not_returned():
    d = FrameDecoder()
    good = encode_frame(Msg.MOVE, 9, move_payload(45, 90, 180))
    bad = bytearray(good)
    bad[3] ^= 0x10
    assert d.feed(bytes(bad)) == [] and d.crc_errors + d.format_errors == 1
    assert d.feed(good[:5] + b"\x00") == [] and d.crc_errors + d.format_errors == 2
    assert d.feed(b"\x55" * 500 + b"\x00") == [] and d.format_errors >= 1
    assert d.feed(b"\x00\x00") == []                      # idle delimiters are not errors
    assert len(d.feed(good)) == 1 and d.frames_ok == 1


def test_random_noise_never_yields_a_frame_with_a_wrong_crc():
    rng = random.Random(7)
    d = FrameDecoder()
    for _ in range(2000):
        for f in d.feed(bytes(rng.randrange(256) for _ in range(rng.randint(1, 60)))):
            raw = bytes([f.type, f.seq]) + f.payload
            assert len(f.payload) <= MAX_PAYLOAD and isinstance(crc16(raw), int)
    assert d.crc_errors + d.format_errors > 100


def test_payload_layouts():
    assert move_payload(12.34, 90, 180) == struct.pack("<iHH", 1234, 9000, 18000)
    assert move_payload(0, 1000, 1000)[4:] == struct.pack("<HH", 65535, 65535)   # saturate, MCU clamps
    tel = parse_telemetry(struct.pack("<iiiiHBBI", 4500, 4490, 9000, -1800, 0b101, 1, 7, 1234))
    assert (tel.position_deg, tel.measured_deg, tel.target_deg, tel.velocity_deg_s) == (45.0, 44.9, 90.0, -18.0)
    assert tel.flags == Flags.MOVING | Flags.MANUAL and tel.fault_reason.startswith("stall")
    assert parse_ack(bytes([2, 1])) == (2, AckResult.CLAMPED)
    st_ = parse_status(struct.pack("<12HiiHH", *range(12), -9000, 9000, 18000, 36000))
    assert st_.rx_crc_errors == 1 and st_.step_underruns == 11 and st_.max_deg == 90.0 and st_.amax_deg_s2 == 360.0
    with pytest.raises(ValueError):
        parse_telemetry(b"\x00" * 5)
    with pytest.raises(ValueError):
        encode_frame(1, 1, b"x" * (MAX_PAYLOAD + 1))
