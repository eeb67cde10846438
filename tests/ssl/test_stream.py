"""Streaming pieces: the ring buffer cuts spans by capture time, the VAD finds speech, heading turns are undone."""
import numpy as np
import pytest

from device.ssl.estimator import angular_distance
from device.ssl.geometry import load_array
from device.ssl.stream import HeadingHistory, RingBuffer, SslStream, VoiceActivity, sector_of

FS = 16000
NS = 1_000_000_000


def test_ring_buffer_returns_the_span_by_capture_time():
    ring = RingBuffer(2.0, FS, 2)
    t0 = 5 * NS
    for i in range(50):                              # 3.2 s of a ramp in 64 ms blocks: the first 1.2 s fall out
        block = np.arange(i * 1024, (i + 1) * 1024, dtype=np.float32)[:, None].repeat(2, axis=1)
        ring.push(t0 + int(i * 1024 / FS * NS), block)
    assert ring.oldest_ns() == pytest.approx(t0 + 1.2 * NS, abs=0.07 * NS)
    span, a, b = ring.span(t0 + 2 * NS, t0 + 3 * NS)
    assert span.shape == (FS, 2)
    assert span[0, 0] == 2 * FS and span[-1, 0] == 3 * FS - 1      # sample values are their own indices
    old, a, b = ring.span(t0, t0 + int(1.5 * NS))                  # partly evicted: clamped to what is held
    assert old[0, 0] >= 50 * 1024 - 2 * FS


def test_vad_finds_a_burst_of_speech_band_energy():
    rng = np.random.default_rng(0)
    vad = VoiceActivity(FS)
    x = 0.001 * rng.standard_normal(4 * FS)
    x[FS: 2 * FS] += 0.1 * np.sin(2 * np.pi * 600 * np.arange(FS) / FS) * (1 + rng.standard_normal(FS) * 0.1)
    segments = []
    for i in range(0, len(x) - 1024 + 1, 1024):
        seg = vad.update(i, x[i: i + 1024, None])
        if seg:
            segments.append(seg)
    assert len(segments) == 1
    start, end = segments[0]
    assert abs(start - FS) <= 1024 and abs(end - 2 * FS) <= 1024


def test_heading_history_interpolates_and_unwraps():
    h = HeadingHistory()
    h.add(0, 170.0)
    h.add(NS, -170.0)                                 # 20 degrees on, across the +-180 seam
    assert h.at(NS // 2) == pytest.approx(180.0)
    assert h.at(2 * NS) == pytest.approx(190.0)


def test_a_wake_event_after_the_utterance_gets_its_onset(plane_wave, noise_source):
    g = load_array("respeaker6")
    stream = SslStream(g, vad=False)
    rng = np.random.default_rng(1)
    quiet = 0.001 * rng.standard_normal((3 * FS, g.n_mics))
    talk = plane_wave(g, -60.0, noise_source(1.0, FS, seed=2))
    audio = quiet.copy()
    audio[FS: 2 * FS] += talk
    t0 = 10 * NS
    for i in range(0, len(audio), 1024):
        stream.push(t0 + int(i / FS * NS), audio[i: i + 1024])
    est = stream.localize(t0 + NS, t0 + 2 * NS)
    assert est is not None and est.trigger == "wake"
    assert angular_distance(est.result.azimuth_deg, -60.0) < 1.0
    assert est.start_ns == pytest.approx(t0 + NS, abs=1e5) and est.end_ns == pytest.approx(t0 + 2 * NS, abs=1e5)
    assert stream.localize(t0 - 5 * NS, t0 - 4 * NS) is None      # never buffered


def test_speech_heard_while_turning_is_reported_for_the_mid_utterance_heading(plane_wave, noise_source):
    """The device turns 60 degrees during the utterance; the talker stays put in the world."""
    g = load_array("respeaker6")
    stream = SslStream(g, vad=False)
    world_az, t0 = 100.0, 50 * NS
    src = noise_source(1.5, FS, seed=3)
    n_blocks = len(src) // 1024
    for i in range(n_blocks):
        t_ns = t0 + int(i * 1024 / FS * NS)
        heading = 60.0 * i / (n_blocks - 1)
        stream.heading.add(t_ns, heading)
        block = plane_wave(g, world_az - heading, src)[i * 1024: (i + 1) * 1024]
        stream.push(t_ns, block)
    end_ns = t0 + int(n_blocks * 1024 / FS * NS)
    est = stream.localize(t0, end_ns)
    assert est.heading_deg == pytest.approx(30.0, abs=2.0)      # halfway through the 60 degree turn
    assert angular_distance(est.result.azimuth_deg, world_az - est.heading_deg) < 3.0
    assert not est.result.ambiguous


def test_range_of_motion_is_applied_in_the_world_frame(plane_wave, noise_source):
    g = load_array("respeaker4")
    stream = SslStream(g, vad=False)
    stream.heading.add(0, 90.0)
    stream.rom_world = (0.0, 180.0)
    audio = plane_wave(g, 120.0, noise_source(1.0, FS, seed=4))   # world 210: outside 0..180
    for i in range(0, len(audio), 1024):
        stream.push(int(i / FS * NS), audio[i: i + 1024])
    assert stream.localize(0, NS).result.azimuth_deg is None
    stream.rom_world = (-180.0, 180.0)
    assert angular_distance(stream.localize(0, NS).result.azimuth_deg, 120.0) < 1.0


@pytest.mark.parametrize("az, sectors, expected", [(0, 8, 0), (22, 8, 0), (23, 8, 1), (-23, 8, 7), (180, 8, 4),
                                                   (-90, 12, 9)])
def test_sector_of_direction(az, sectors, expected):
    assert sector_of(az, sectors) == expected
