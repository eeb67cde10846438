"""The satellite process on its own bus, with aioesphomeapi's APIClient: the voice path against beam and wake
messages this test publishes as ssl and wake would (exact audio in, exact audio out), the wake-word
configuration, and bad input (malformed frames, unknown types, oversized messages, drops, ten clients) that
is counted and closed without disturbing the connected client."""
from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from aioesphomeapi import APIClient, VoiceAssistantEventType as Ev
from aioesphomeapi import api_pb2 as pb

from device.bus.pubsub import Publisher, Subscriber
from device.bus.schemas import AudioBeam, DoaEstimate, WakeEvent
from device.satellite import frames

from .conftest import REPO, free_port

RATE = 16000


class Satellite:
    def __init__(self, base: Path, extra: str = ""):
        self.rdir = base / "bus"
        self.rdir.mkdir()
        self.port = free_port()
        cfg = base / "swivel.toml"
        cfg.write_text(f'[bus]\nruntime_dir = "{self.rdir}"\n[satellite]\nhost = "127.0.0.1"\nport = {self.port}\n'
                       f'zeroconf = false\nmax_message = 4096\ngate_tail_s = 0.2\n' + extra)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop("NOTIFY_SOCKET", None)
        self.logf = open(base / "satellite.log", "wb")
        self.log_path = base / "satellite.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "device", "--config", str(cfg), "service", "satellite"],
                                     cwd=REPO, env=env, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                break
            except OSError:
                assert self.proc.poll() is None, self.log()
                time.sleep(0.2)
        self.ssl = Publisher("ssl", self.rdir)
        self.wake = Publisher("wake", self.rdir)

    def log(self) -> str:
        self.logf.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.ssl.close()
        self.wake.close()
        self.logf.close()


@pytest.fixture(scope="module")
def sat():
    with tempfile.TemporaryDirectory(prefix="swvsatp-", dir="/tmp") as d:
        s = Satellite(Path(d))
        try:
            yield s
        finally:
            s.stop()


async def _client(port: int) -> APIClient:
    c = APIClient("127.0.0.1", port, None, client_info="protocol test")
    await c.connect(login=True)
    return c


def test_voice_stream_carries_the_beam_from_the_wake_words_end(sat):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(RATE * 3) * 3000).astype("<i2")     # three seconds of "beam", known sample by sample
    t0 = time.monotonic_ns()
    kw_end = t0 + int(0.8e9)
    utt_end = t0 + int(2.5e9)

    async def go():
        c = await _client(sat.port)
        got, started, stopped = [], [], []

        async def start(conv, flags, settings, phrase):
            started.append(phrase)
            return 0

        async def stop(abort):
            stopped.append(abort)

        async def audio(data):
            got.append(data)
        c.subscribe_voice_assistant(handle_start=start, handle_stop=stop, handle_audio=audio)
        await asyncio.sleep(0.5)
        for i in range(0, len(x), 1024):                          # the beam as ssl sends it, block by block
            sat.ssl.publish("ssl.beam", AudioBeam(t_ns=t0 + int(i * 1e9 / RATE), rate=RATE,
                                                  samples=x[i:i + 1024].tobytes()))
            if i == 1024 * 14:
                sat.wake.publish("wake.event", WakeEvent(t_ns=time.monotonic_ns(), start_ns=t0, end_ns=kw_end,
                                                         keyword="alexa", kw_start_ns=t0 + int(0.2e9),
                                                         kw_end_ns=kw_end, engine="test"))
            if i == 1024 * 40:                                    # ssl's final estimate, just after the end
                sat.ssl.publish("ssl.doa", DoaEstimate(t_ns=utt_end, start_ns=t0, end_ns=utt_end, azimuth_deg=30.0,
                                                       confidence=0.9, ambiguous=False, phase="final",
                                                       utterance_id=1))
            await asyncio.sleep(0.004)
        for _ in range(50):
            if stopped:
                break
            await asyncio.sleep(0.1)
        await c.disconnect()
        return got, started, stopped
    got, started, stopped = asyncio.run(go())
    assert started == ["alexa"] and stopped == [False], (started, stopped, sat.log()[-3000:])
    sent = np.frombuffer(b"".join(got), "<i2")
    a, b = int(0.8 * RATE), int(2.5 * RATE)
    # up to the utterance's end: what was sent before ssl's final estimate came (one block) cannot be unsent
    assert b - a - 2 <= len(sent) <= b - a + 2048, len(sent)
    assert np.array_equal(sent[:1000], x[a:a + 1000])              # from the wake word's end, sample for sample
    assert all(len(d) <= 1024 for d in got)


def test_answer_plays_gates_the_wake_word_and_reaches_the_room(sat):
    sub = Subscriber(sat.rdir)
    sub.subscribe("satellite", "satellite.state", "sim.voice")
    time.sleep(0.3)
    tone = (np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE) * 8000).astype("<i2").tobytes()

    async def go():
        c = await _client(sat.port)

        async def start(*a):
            return 0

        async def stop(abort):
            pass
        c.subscribe_voice_assistant(handle_start=start, handle_stop=stop, handle_audio=stop)
        await asyncio.sleep(0.3)
        c.send_voice_assistant_event(Ev.VOICE_ASSISTANT_TTS_STREAM_START, {})
        for i in range(0, len(tone), 1024):
            c.send_voice_assistant_audio(tone[i:i + 1024])
        c.send_voice_assistant_event(Ev.VOICE_ASSISTANT_TTS_STREAM_END, {})
        await asyncio.sleep(0.5)
        # A wake word "heard" while the device speaks: the satellite must not start a pipeline for it.
        now = time.monotonic_ns()
        sat.wake.publish("wake.event", WakeEvent(t_ns=now, start_ns=now - int(0.6e9), end_ns=now, keyword="alexa",
                                                 kw_start_ns=now - int(0.6e9), kw_end_ns=now))
        await asyncio.sleep(1.5)
        await c.disconnect()
    asyncio.run(go())
    states, voice = [], []
    for topic, m in sub.poll(500):
        if topic in ("satellite.state", "sim.voice"):
            (states if topic == "satellite.state" else voice).append(m)
    sub.close()
    assert any(s.speaking for s in states) and max(s.played_frames for s in states) >= RATE
    spoken = [s for s in states if s.speaking]
    assert max(m.speak_until_ns for m in spoken) - spoken[0].speak_start_ns >= 0.9e9   # the whole second, gated
    heard = np.concatenate([np.frombuffer(m.samples, np.float32) for m in voice])
    assert len(heard) >= RATE and 0.1 < np.abs(heard).max() <= 1.0   # the block the world renders into the room
    assert "wake word while the device spoke: ignored" in sat.log()


def test_wake_word_configuration_lists_and_switches_models(sat):
    sub = Subscriber(sat.rdir).subscribe("satellite", "satellite.state")

    async def go():
        c = await _client(sat.port)
        cfg = await c.get_voice_assistant_configuration(5)
        await c.set_voice_assistant_configuration(["hey_jarvis"])
        await c.set_voice_assistant_configuration(["no_such_model"])      # refused, counted, kept
        await asyncio.sleep(1.0)
        after = await c.get_voice_assistant_configuration(5)
        await c.disconnect()
        return cfg, after
    cfg, after = asyncio.run(go())
    assert [w.id for w in cfg.available_wake_words] == ["alexa", "hey_jarvis", "hey_mycroft", "okay_nabu"]
    assert cfg.active_wake_words == ["alexa"] and after.active_wake_words == ["hey_jarvis"]
    models = [m.wake_models for t, m in sub.poll(1500) if t == "satellite.state"]
    sub.close()
    assert ["hey_jarvis"] in models                                # what the wake service switches to


def _raw(port: int, payload: bytes, read: bool = True) -> bytes:
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(5)
    try:
        s.sendall(payload)
        if not read:
            return b""
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return out                                      # the satellite closed it: a clean close
            out += chunk
    finally:
        s.close()


HELLO = frames.encode(pb.HelloRequest(client_info="raw", api_version_major=1, api_version_minor=10))


def test_bad_input_is_closed_cleanly_and_disturbs_no_other_client(sat):
    async def go():
        c = await _client(sat.port)
        # a malformed frame (wrong preamble), an unknown type, an oversized message, a bad payload
        for bad in (b"\x05\x00\x00junk", HELLO + b"\x00\x00\xf3\x07", HELLO + b"\x00" + frames.varint(100000) + b"\x01",
                    HELLO + b"\x00\x03\x21\xff\xff\xff"):
            out = await asyncio.get_running_loop().run_in_executor(None, _raw, sat.port, bad)
            assert out == b"" or out.startswith(b"\x00"), out[:20]
            assert (await c.device_info()).name == "swivel"           # the real client carries on
        # a client that drops mid-frame, and ten at once that hello and vanish
        await asyncio.get_running_loop().run_in_executor(None, _raw, sat.port, HELLO + b"\x00\x40\x0b", False)
        socks = []
        for _ in range(10):
            s = socket.create_connection(("127.0.0.1", sat.port), 5)
            s.sendall(HELLO)
            socks.append(s)
        others = [await _client(sat.port) for _ in range(3)]
        infos = [await o.device_info() for o in others]
        for s in socks:
            s.close()
        for o in others:
            await o.disconnect()
        assert all(i.name == "swivel" for i in infos)
        ents, _ = await c.list_entities_services()
        await c.disconnect()
        return ents
    ents = asyncio.run(go())
    assert len(ents) == 10
    log = sat.log()
    for kind in ("malformed", "unknown_type", "oversized"):
        assert f'"kind": "{kind}"' in log, kind
    assert sat.proc.poll() is None


def test_frame_reader_splits_and_refuses():
    r = frames.FrameReader(100)
    ping = frames.encode(pb.PingRequest())
    data = ping + frames.encode(pb.DeviceInfoRequest()) + ping
    got = [f for i in range(len(data)) for f in r.feed(data[i:i + 1])]      # one byte at a time
    assert [t for t, _ in got] == [7, 9, 7]
    with pytest.raises(frames.FrameError, match="at most 100"):
        frames.FrameReader(100).feed(b"\x00" + frames.varint(101) + b"\x01")
    with pytest.raises(frames.FrameError, match="preamble"):
        frames.FrameReader(100).feed(b"\x01\x00\x00")
    assert frames.decode(9999, b"") is None
    assert struct.pack("B", 0) == frames.encode(pb.PingRequest())[:1]


def test_announcement_and_timers_play_and_answer(sat):
    import io
    import wave

    from aiohttp import web
    from aioesphomeapi import VoiceAssistantTimerEventType as Tev
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes((np.sin(2 * np.pi * 500 * np.arange(11025) / 22050) * 9000).astype("<i2").tobytes())
    sub = Subscriber(sat.rdir).subscribe("satellite", "satellite.state")
    time.sleep(0.3)

    async def go():
        async def wav(request):
            return web.Response(body=buf.getvalue(), content_type="audio/wav")
        app = web.Application()
        app.router.add_get("/a.wav", wav)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        c = await _client(sat.port)
        done = await c.send_voice_assistant_announcement_await_response(f"http://127.0.0.1:{port}/a.wav", 20,
                                                                         text="dinner is ready")
        bad = await c.send_voice_assistant_announcement_await_response(f"http://127.0.0.1:{port}/missing.wav", 20)
        c.send_voice_assistant_timer_event(Tev.VOICE_ASSISTANT_TIMER_STARTED, "t1", "tea", 60, 60, True)
        c.send_voice_assistant_timer_event(Tev.VOICE_ASSISTANT_TIMER_STARTED, "t2", "eggs", 300, 300, True)
        c.send_voice_assistant_timer_event(Tev.VOICE_ASSISTANT_TIMER_CANCELLED, "t2", "eggs", 300, 250, False)
        await asyncio.sleep(0.5)
        c.send_voice_assistant_timer_event(Tev.VOICE_ASSISTANT_TIMER_FINISHED, "t1", "tea", 60, 0, False)
        await asyncio.sleep(1.0)
        await c.disconnect()
        await runner.cleanup()
        return done, bad
    done, bad = asyncio.run(go())
    states = [m for t, m in sub.poll(500) if t == "satellite.state"]
    sub.close()
    assert done.success and not bad.success                     # played; a missing file is reported, not fatal
    played = [s.played_frames for s in states]
    assert max(played) - min(played) >= 8000 + 5000             # half a second at 16 kHz, then the chime
    assert 2 in [s.timers for s in states] and states[-1].timers == 0
    log = sat.log()
    assert '"msg": "timer finished"' in log and '"msg": "timer cancelled"' in log


def test_noise_encryption_with_a_key():
    import base64
    key = base64.b64encode(bytes(range(32))).decode()
    d = tempfile.TemporaryDirectory(prefix="swvsatk-", dir="/tmp")
    s = Satellite(Path(d.name), extra=f'key = "{key}"\n')
    try:
        async def go(psk):
            c = APIClient("127.0.0.1", s.port, None, noise_psk=psk, client_info="noise test")
            await c.connect(login=True)
            info = await c.device_info()
            ents, _ = await c.list_entities_services()
            await c.disconnect()
            return info, ents
        info, ents = asyncio.run(go(key))
        assert info.name == "swivel" and len(ents) == 10
        with pytest.raises(Exception, match="(?i)encryption key|handshake"):
            asyncio.run(go(base64.b64encode(bytes(32)).decode()))
        with pytest.raises(Exception):
            asyncio.run(_client(s.port))                            # a plaintext client is refused
        assert s.proc.poll() is None and '"kind": "malformed"' in s.log()
    finally:
        s.stop()
        d.cleanup()
