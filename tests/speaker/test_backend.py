"""Speaker backends and sources: the simulated speaker's clock and ears, stereo/mono mapping, the FIFO source."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from device.errors import UserError
from device.hw.speaker import SimSpeakerOutput
from device.speaker.acoustics import Listener
from device.speaker.design import design
from device.speaker.drivers import load_drivers, parse_drivers
from device.speaker.render import SpatialRenderer
from device.speaker.sources import FifoSource

RATE = 48000


def _sim(layout="cyl2", **kw):
    d = load_drivers(layout)
    return d, SimSpeakerOutput(d.n_drivers, RATE, d.bypass_matrix(), d.positions, **kw)


def test_played_sample_clock_runs_in_real_time():
    _, out = _sim()
    before = time.monotonic()
    stamp = out.play(np.zeros((RATE // 5, 2), np.float32))           # 200 ms
    after = time.monotonic()
    assert stamp.first_frame == 0
    second = out.play(np.zeros((RATE // 10, 2), np.float32), RATE)
    assert second.first_frame == RATE // 5
    assert second.due_ns - stamp.due_ns == pytest.approx(0.2e9, abs=(time.monotonic() - before) * 1e9 + 1e6)
    time.sleep(0.1)
    t0 = time.monotonic()
    played, _ = out.clock()
    t1 = time.monotonic()
    # The clock counts what real time allows since playback began, never more than was queued.
    total = RATE * 3 // 10
    assert min(total, int((t0 - after) * RATE)) - 1 <= played <= min(total, int((t1 - before) * RATE)) + 1
    time.sleep(0.35)
    assert out.clock()[0] == total and out.queued_frames() == 0
    out.close()


def test_mono_and_stereo_map_to_the_drivers_and_other_rates_are_resampled():
    d, out = _sim("cyl4", realtime=False)
    seen = []
    out.sinks.append(lambda due_ns, frames: seen.append(frames))
    out.play(np.full(100, 0.25, np.float32))
    assert np.allclose(seen[-1], 0.25) and seen[-1].shape == (100, 4)
    out.play(np.tile([0.1, -0.2], (100, 1)))
    assert np.allclose(seen[-1][:, [0, 1]], 0.1) and np.allclose(seen[-1][:, [2, 3]], -0.2)
    out.play(np.zeros(16000), rate=16000)                              # TTS at 16 kHz
    assert len(seen[-1]) == 48000
    out.play(np.full((10, 4), 2.0))
    assert out.clipped == 40 and seen[-1].max() == 1.0
    with pytest.raises(ValueError):
        out.play(np.zeros((10, 3)))


def test_simulated_ears_hear_the_separation(tmp_path):
    """Crosstalk-cancelled left channel through the simulated speaker: the left ear hears it much louder."""
    d, out = _sim(realtime=False, ears_wav=str(tmp_path / "ears.wav"))
    listener = Listener(10.0, 1.5)
    out.set_listener(listener)
    r = SpatialRenderer(design(d, listener, "ctc"))
    rng = np.random.default_rng(4)
    from scipy.signal import butter, sosfilt
    band = butter(4, [300, 6000], "bandpass", fs=RATE, output="sos")
    left = sosfilt(band, rng.standard_normal(RATE)) * 0.1
    x = np.stack([left, np.zeros_like(left)], axis=1)
    out.play(np.concatenate([r.process(x), r.flush()]).astype(np.float32))
    ears = out.ear_signals()[RATE // 10:]
    sep = 10 * np.log10(np.mean(ears[:, 0] ** 2) / np.mean(ears[:, 1] ** 2))
    out.close()
    plain = np.stack([left, np.zeros_like(left)], axis=1) @ d.bypass_matrix().T
    _, out2 = _sim(realtime=False)
    out2.set_listener(listener)
    out2.play(plain.astype(np.float32))
    e2 = out2.ear_signals()[RATE // 10:]
    sep_plain = 10 * np.log10(np.mean(e2[:, 0] ** 2) / np.mean(e2[:, 1] ** 2))
    assert sep > 10 and sep > sep_plain + 8, (sep, sep_plain)
    assert (tmp_path / "ears.wav").stat().st_size > RATE * 4


def test_fifo_source_reads_what_a_writer_sends(runtime_dir):
    path = runtime_dir / "speaker.fifo"
    src = FifoSource(path)
    assert src.read(256) is None                                      # no writer yet: nothing, no EOF
    fd = os.open(path, os.O_WRONLY)
    frames = (np.arange(-300, 300).reshape(-1, 2) * 50).astype("<i2")
    os.write(fd, frames.tobytes()[:-1])                               # a partial frame at the end
    got = src.read(1000)
    assert got.shape == (299, 2) and np.allclose(got * 32768, frames[:299])
    os.write(fd, frames.tobytes()[-1:])
    assert np.allclose(src.read(10) * 32768, frames[299:])
    os.close(fd)                                                      # the writer leaves: still no EOF
    assert src.read(10) is None
    src.close()
    (runtime_dir / "plain").write_text("x")
    with pytest.raises(UserError, match="is not a FIFO"):
        FifoSource(runtime_dir / "plain")


@pytest.mark.parametrize("text, message", [
    ("[[drivers]]\nx = 0\ny = 0\nz = 0\n", "needs at least 2 [[drivers]]"),
    ("[[drivers]]\nx = 0\ny = 0.05\nz = 0\n[[drivers]]\nx = 0\ny = 0.05\nz = 0\n", "at the same place"),
    ("[[drivers]]\nx = 0\ny = 5\nz = 0\n[[drivers]]\nx = 0\ny = -0.05\nz = 0\n", "line 1: driver 1: more than 1 m"),
    ("[[drivers]]\nx = 0\ny = 0.05\nz = 0\nstereo = \"X\"\n[[drivers]]\nx = 0\ny = -0.05\nz = 0\n", "stereo must be one of"),
    ("[[drivers]]\nx = 0\ny = 0.05\nz = 0\n[[drivers]]\nx = 0\ny = -0.05\nz = 0\ncolour = 1\n",
     "line 5: driver 2: unknown key 'colour'"),
])
def test_bad_layout_names_the_driver(text, message):
    import tomllib
    with pytest.raises(UserError) as err:
        parse_drivers(tomllib.loads(text), "layout.toml", text)
    assert message in str(err.value)


def test_a_missing_output_device_is_unavailable_not_a_crash():
    from device.hw.audio import AudioUnavailable
    from device.hw.speaker import PyAudioOutput
    d = load_drivers("cyl2")
    with pytest.raises(AudioUnavailable, match="no audio output device named like 'no-such-speaker'"):
        PyAudioOutput("no-such-speaker", d.n_drivers, RATE, d.bypass_matrix())
    with pytest.raises(AudioUnavailable, match="index 999 does not exist"):
        PyAudioOutput(999, d.n_drivers, RATE, d.bypass_matrix())
