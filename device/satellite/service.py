"""The satellite service: a Home Assistant voice satellite speaking the ESPHome native API on TCP (port 6053).

One asyncio loop holds the TCP server, the bus (zmq.asyncio), the heartbeat and the watchdog. A wake event
asks the subscribed Home Assistant to run its pipeline and streams ssl's beam (16 kHz mono, steered at the
talker) from the end of the wake word until the utterance ends (ssl's final estimate), Home Assistant says
stop, or `stream_max_s`. Answers, announcements and timer sounds play through the speaker backend; while
they play the wake service is deaf (gating, `satellite.state`), so the device's own voice never turns it.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import signal
import time
from pathlib import Path
from typing import Optional

import numpy as np
import zmq
import zmq.asyncio
from aioesphomeapi import api_pb2 as pb
from aioesphomeapi.model import VoiceAssistantEventType as Ev
from aioesphomeapi.model import VoiceAssistantFeature as Feat
from aioesphomeapi.model import VoiceAssistantTimerEventType as Tev

from ..bus.endpoints import ensure_runtime_dir, resolve_runtime_dir
from ..bus.pubsub import Publisher, Subscriber
from ..bus.rpc import RpcClient
from ..bus.schemas import SatelliteState, SimAudioBlock
from ..errors import UserError
from ..runtime.logs import log_event, setup_logging
from ..runtime.sdnotify import SystemdNotifier
from ..wake.config import SHIPPED_MODELS
from ..wake.engine import keyword_text
from . import entities
from .audio_out import RATE, MediaError, chime, decode_media, open_output, pcm16
from .connection import Connection

FEATURES = Feat.VOICE_ASSISTANT | Feat.SPEAKER | Feat.API_AUDIO | Feat.TIMERS | Feat.ANNOUNCE
RING_S = 12.0                    # beam audio kept: a stream may start from the wake word's end, in the past
CHUNK_BYTES = 1024               # audio message size (512 samples, 32 ms), as ESPHome's own satellites send
RESPONSE_TIMEOUT_S = 5.0         # Home Assistant must accept a pipeline this soon
STOP_EVENTS = {Ev.VOICE_ASSISTANT_STT_VAD_END, Ev.VOICE_ASSISTANT_STT_END, Ev.VOICE_ASSISTANT_RUN_END,
               Ev.VOICE_ASSISTANT_ERROR}


class Stream:
    """One pipeline's audio: the beam from `from_ns` until `to_ns` (None = not known yet)."""

    def __init__(self, conn: Connection, from_ns: int, to_ns: Optional[int], wake_end_ns: int):
        self.conn = conn
        self.from_ns = from_ns
        self.to_ns = to_ns
        self.sent_ns = from_ns               # capture time up to which audio went out
        self.wake_end_ns = wake_end_ns
        self.accepted = False                # Home Assistant answered VoiceAssistantResponse
        self.asked_at = time.monotonic()
        self.frames_sent = 0
        self.first_sent_ns = 0
        self.done = False


class SatelliteService:
    name = "satellite"

    def __init__(self, cfg, runtime_dir: Optional[Path] = None):
        self.cfg = cfg
        self.sc = cfg.satellite
        self.runtime_dir = ensure_runtime_dir(runtime_dir or resolve_runtime_dir(cfg.bus.runtime_dir))
        self.log = setup_logging(self.name, cfg.bus.log_level)
        self.ctx = zmq.Context()
        self.actx = zmq.asyncio.Context()
        self.pub = Publisher(self.name, self.runtime_dir, self.ctx, heartbeat_s=cfg.bus.heartbeat_s)
        self.sub = Subscriber(self.runtime_dir, self.actx)
        self.sub.subscribe("wake", "wake.event")
        self.sub.subscribe("ssl", "ssl.beam", "ssl.doa")
        self.sub.subscribe("policy", "policy.state")
        self.sub.subscribe("motor", "motor.state")
        self.sub.subscribe("vision", "vision.people")
        self.sub.subscribe("health", "health.state")
        self.rpc = RpcClient(self.runtime_dir, self.ctx, timeout_s=self.sc.rpc_timeout_s)
        self.notifier = SystemdNotifier()
        self.states = entities.EntityStates()
        self.clients: set[Connection] = set()
        self.voice: Optional[Connection] = None       # the client subscribed to the voice assistant
        self.stream: Optional[Stream] = None
        self.ring: collections.deque[tuple[int, np.ndarray]] = collections.deque()
        self.counts: collections.Counter[str] = collections.Counter()
        self.state = SatelliteState(t_ns=time.monotonic_ns(), wake_models=[])
        self.timers: dict[str, tuple[str, int]] = {}
        self.bench: list[dict] = []                   # per pipeline and answer: latencies (bench_satellite.py)
        self.output = open_output(self.sc, self._sink if self.sc.speaker == "sim" else None)
        self._tts_first: Optional[int] = None
        self._told_until = 0
        self._tasks: set[asyncio.Task] = set()

    def event(self, msg: str, level: int = logging.INFO, **fields) -> None:
        log_event(self.log, msg, level, **fields)

    def count(self, what: str) -> None:
        self.counts[what] += 1

    # -- the bus ---------------------------------------------------------------------------------------
    def _sink(self, due_ns: int, frames: np.ndarray) -> None:
        """The simulated speaker's hook: the device's voice goes to the world, which renders it in the room."""
        x = np.ascontiguousarray(frames[:, 0], np.float32)
        for i in range(0, len(x), 4096):
            part = x[i:i + 4096]
            self.pub.publish("sim.voice", SimAudioBlock(t_ns=due_ns + int(i * 1e9 / RATE), rate=RATE, channels=1,
                                                        samples=part.tobytes()))

    async def _bus_loop(self) -> None:
        while True:
            frames = await self.sub.sock.recv_multipart()
            item = self.sub.decode(frames)
            if item is None:
                continue
            topic, m = item
            try:
                if topic == "ssl.beam":
                    self._on_beam(m)
                elif topic == "wake.event":
                    self._on_wake(m)
                elif topic == "ssl.doa":
                    self.states.on_doa(m)
                    self._on_doa(m)
                elif topic == "policy.state":
                    self.states.on_policy(m)
                elif topic == "motor.state":
                    self.states.on_motor(m)
                elif topic == "vision.people":
                    self.states.on_people(m)
                elif topic == "health.state":
                    self.states.on_health(m)
            except Exception as exc:                # one bad message must not end the bus loop
                self.count("bus_error")
                self.event("bus message failed", logging.ERROR, topic=topic, error=f"{type(exc).__name__}: {exc}")

    def _on_beam(self, m) -> None:
        if m.rate != RATE:
            self.count("beam_wrong_rate")
            return
        self.ring.append((m.t_ns, np.frombuffer(m.samples, "<i2")))
        while self.ring and self.ring[0][0] < m.t_ns - int(RING_S * 1e9):
            self.ring.popleft()
        self._pump_stream()

    def _gated(self, start_ns: int, end_ns: int) -> bool:
        s = self.state
        return s.speaking or (s.speak_until_ns and end_ns >= s.speak_start_ns and start_ns <= s.speak_until_ns)

    def _on_wake(self, m) -> None:
        kw_start = m.kw_start_ns or m.start_ns
        kw_end = m.kw_end_ns or m.end_ns
        if self._gated(kw_start, kw_end):
            self.count("wake_gated")
            self.event("wake word while the device spoke: ignored", keyword=m.keyword)
            return
        conn = self.voice
        if conn is None or conn.closed:
            self.count("wake_no_assistant")
            self.event("wake word, but no Home Assistant is subscribed", keyword=m.keyword)
            return
        if self.stream is not None and not self.stream.done:
            self.count("wake_busy")
            return
        # An engine that gives the keyword's span decided at its end: stream the command that follows.
        # An old-style event spans the whole utterance, which is over: stream all of it.
        if m.kw_start_ns:
            self.stream = Stream(conn, m.kw_end_ns, None, m.kw_end_ns)
        else:
            self.stream = Stream(conn, m.start_ns, m.end_ns, m.end_ns)
        self.state.pipelines += 1
        conn.send(pb.VoiceAssistantRequest(start=True, conversation_id="", flags=1,   # 1 = Home Assistant's VAD
                                           wake_word_phrase=keyword_text(m.keyword)))
        self.event("pipeline asked", keyword=m.keyword, client=conn.peer)
        self._publish_state()

    def _on_doa(self, m) -> None:
        st = self.stream
        if st is None or st.done or st.to_ns is not None:
            return
        if m.phase == "final" and m.trigger == "wake" and m.end_ns > st.from_ns:
            st.to_ns = m.end_ns                       # ssl's estimate of the whole utterance: it has ended
            self._pump_stream()

    def _pump_stream(self) -> None:
        st = self.stream
        if st is None or st.done or not st.accepted:
            return
        if st.conn.closed:
            self._end_stream("client gone")
            return
        limit = st.to_ns if st.to_ns is not None else st.from_ns + int(self.sc.stream_max_s * 1e9)
        for t0, x in self.ring:
            t1 = t0 + int(len(x) * 1e9 / RATE)
            if t1 <= st.sent_ns or t0 >= limit:
                continue
            a = max(0, int(round((st.sent_ns - t0) * RATE / 1e9)))
            b = min(len(x), int(round((limit - t0) * RATE / 1e9)))
            if b <= a:
                continue
            data = x[a:b].astype("<i2").tobytes()
            for i in range(0, len(data), CHUNK_BYTES):
                st.conn.send(pb.VoiceAssistantAudio(data=data[i:i + CHUNK_BYTES]))
                st.frames_sent += 1
                if not st.first_sent_ns:
                    st.first_sent_ns = time.monotonic_ns()
                    self.bench.append({"what": "first_audio", "wake_end_ns": st.wake_end_ns,
                                       "sent_ns": st.first_sent_ns})
            st.sent_ns = t0 + int(b * 1e9 / RATE)
        if st.sent_ns >= limit - int(1e9 / RATE * 2) and self._beam_reached(limit):
            st.conn.send(pb.VoiceAssistantAudio(end=True))
            self._end_stream("utterance ended" if st.to_ns is not None else "stream_max_s")

    def _beam_reached(self, t_ns: int) -> bool:
        if not self.ring:
            return False
        t0, x = self.ring[-1]
        return t0 + int(len(x) * 1e9 / RATE) >= t_ns

    def _end_stream(self, why: str) -> None:
        st = self.stream
        if st is None or st.done:
            return
        st.done = True
        self.event("stream ended", why=why, frames=st.frames_sent,
                   seconds=round((st.sent_ns - st.from_ns) / 1e9, 2))
        self._publish_state()

    # -- playing ---------------------------------------------------------------------------------------
    def play(self, x: np.ndarray, rate: int = RATE) -> int:
        """Queue samples on the speaker; returns when the first is due out (monotonic ns). Gates the wake word."""
        x = np.asarray(x, np.float32) * self.sc.volume
        stamp = self.output.play(x, rate)
        until = stamp.due_ns + int(len(x) / rate * 1e9) + int(self.sc.gate_tail_s * 1e9)
        s = self.state
        was = s.speaking
        if not s.speaking:
            s.speaking, s.speak_start_ns = True, stamp.due_ns
        s.speak_until_ns = max(s.speak_until_ns, until)
        grew = s.speak_until_ns - self._told_until > 200_000_000     # tell the wake service every 0.2 s of audio
        s.played_frames += len(x)
        if not was or grew:
            self._publish_state()
        return stamp.due_ns

    def _check_speaking(self) -> None:
        s = self.state
        if s.speaking and time.monotonic_ns() > s.speak_until_ns:
            s.speaking = False
            self._publish_state()

    async def _until_quiet(self) -> None:
        while self.state.speaking:
            await asyncio.sleep(0.05)

    def _publish_state(self) -> None:
        s = self.state
        self._told_until = s.speak_until_ns
        s.t_ns = time.monotonic_ns()
        s.clients = len(self.clients)
        s.streaming = self.stream is not None and not self.stream.done
        s.timers = len(self.timers)
        self.pub.publish("satellite.state", SatelliteState(**{f: getattr(s, f) for f in s.__struct_fields__}))

    # -- messages from Home Assistant ----------------------------------------------------------------
    def on_voice_message(self, conn: Connection, msg) -> None:
        """Voice-assistant messages from a connected client (the connection handled the rest)."""
        if isinstance(msg, pb.SubscribeVoiceAssistantRequest):
            if msg.subscribe:
                self.voice = conn
                conn.api_audio = bool(msg.flags & 4)
                self.event("voice assistant subscribed", client=conn.peer, api_audio=conn.api_audio)
            elif self.voice is conn:
                self.voice = None
        elif isinstance(msg, pb.VoiceAssistantResponse):
            st = self.stream
            if st is not None and st.conn is conn and not st.done:
                if msg.error:
                    self._end_stream("Home Assistant refused the pipeline")
                else:
                    st.accepted = True
                    self._pump_stream()
        elif isinstance(msg, pb.VoiceAssistantEventResponse):
            self._on_pipeline_event(conn, msg)
        elif isinstance(msg, pb.VoiceAssistantAudio):
            if msg.data:
                x = pcm16(msg.data)
                now = time.monotonic_ns()
                due = self.play(x)
                if self._tts_first is None:
                    self._tts_first = due
                    self.bench.append({"what": "first_sample", "received_ns": now, "due_ns": due})
        elif isinstance(msg, pb.VoiceAssistantTimerEventResponse):
            self._on_timer(msg)
        elif isinstance(msg, pb.VoiceAssistantAnnounceRequest):
            self._spawn(self._announce(conn, msg))
        elif isinstance(msg, pb.VoiceAssistantConfigurationRequest):
            conn.send(self._configuration())
        elif isinstance(msg, pb.VoiceAssistantSetConfiguration):
            self._set_wake_words(list(msg.active_wake_words))

    def _on_pipeline_event(self, conn: Connection, msg) -> None:
        try:
            kind = Ev(msg.event_type)
        except ValueError:
            self.count("unknown_event")
            return
        data = {d.name: d.value for d in msg.data}
        st = self.stream
        if kind in STOP_EVENTS and st is not None and st.conn is conn and not st.done:
            self._end_stream(f"Home Assistant: {kind.name.lower()}")
        if kind == Ev.VOICE_ASSISTANT_TTS_STREAM_START:
            self._tts_first = None
        elif kind == Ev.VOICE_ASSISTANT_TTS_END and data.get("url") and not conn.api_audio:
            self._spawn(self._play_url(data["url"]))       # a client that streams no audio gives a URL
        if kind == Ev.VOICE_ASSISTANT_ERROR:
            self.event("pipeline error", logging.WARNING, code=data.get("code"), message=data.get("message"))

    def _on_timer(self, msg) -> None:
        try:
            kind = Tev(msg.event_type)
        except ValueError:
            self.count("unknown_timer_event")
            return
        if kind in (Tev.VOICE_ASSISTANT_TIMER_STARTED, Tev.VOICE_ASSISTANT_TIMER_UPDATED):
            self.timers[msg.timer_id] = (msg.name, int(msg.seconds_left))
        else:
            self.timers.pop(msg.timer_id, None)
        if kind == Tev.VOICE_ASSISTANT_TIMER_FINISHED:
            self.play(chime())
        self.event("timer " + kind.name.rsplit("_", 1)[1].lower(), timer=msg.timer_id, name=msg.name,
                   seconds_left=msg.seconds_left)
        self._publish_state()

    async def _fetch(self, url: str) -> tuple[np.ndarray, int]:
        import aiohttp
        if not url.startswith(("http://", "https://")):
            raise MediaError(f"not an http(s) URL: {url[:80]!r}")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
            async with s.get(url) as r:
                if r.status != 200:
                    raise MediaError(f"HTTP {r.status} for {url[:80]}")
                data = await r.content.read(16 << 20)
        return await asyncio.get_running_loop().run_in_executor(None, decode_media, data)

    async def _play_url(self, url: str) -> bool:
        try:
            x, rate = await self._fetch(url)
        except (MediaError, OSError, asyncio.TimeoutError) as exc:
            self.count("media_error")
            self.event("cannot play media", logging.WARNING, url=url[:120], error=str(exc)[:200])
            return False
        if len(x):
            self.play(x, rate)
        return True

    async def _announce(self, conn: Connection, msg) -> None:
        ok = True
        for url in (msg.preannounce_media_id, msg.media_id):
            if url:
                ok = await self._play_url(url) and ok
        await self._until_quiet()
        if not conn.closed:
            conn.send(pb.VoiceAssistantAnnounceFinished(success=ok))

    def _configuration(self):
        engine = self.cfg.wake.engine
        words = [pb.VoiceAssistantWakeWord(id=m, wake_word=keyword_text(m).title(), trained_languages=["en"])
                 for m in SHIPPED_MODELS[engine]]
        active = self.state.wake_models or list(self.cfg.wake.models)
        return pb.VoiceAssistantConfigurationResponse(available_wake_words=words, active_wake_words=active,
                                                      max_active_wake_words=1)

    def _set_wake_words(self, ids: list[str]) -> None:
        shipped = SHIPPED_MODELS[self.cfg.wake.engine]
        good = [i for i in ids if i in shipped][:1]
        if len(good) != len(ids[:1]) or not good:
            self.count("bad_wake_word")
            self.event("unknown wake word model asked for: ignored", logging.WARNING, asked=ids[:4],
                       shipped=list(shipped))
            return
        self.state.wake_models = good
        self.event("wake word model set", models=good)
        self._publish_state()

    # -- entity commands --------------------------------------------------------------------------------
    async def command(self, conn: Connection, msg) -> None:
        try:
            req = entities.command_request(msg, self.states)
        except entities.CommandRefused as exc:
            self.count("command_refused")
            self.event("entity command refused", logging.WARNING, error=str(exc), client=conn.peer)
            return
        loop = asyncio.get_running_loop()
        try:
            rep = await loop.run_in_executor(None, self.rpc.call, req)
        except (ConnectionError, TimeoutError) as exc:
            self.count("command_failed")
            self.event("entity command failed", logging.WARNING, op=req.op, error=str(exc))
            return
        if rep.state is not None:
            self.states.on_policy(rep.state)
        self.event("entity command", op=req.op, ok=rep.ok, error=rep.error, client=conn.peer)
        if not rep.ok:
            self.count("command_denied")
        for c in list(self.clients):                 # the state it really has now (a refused switch flips back)
            if c.states_subscribed:
                for m in self.states.all_states():
                    c.send(m)

    # -- lifecycle ---------------------------------------------------------------------------------------
    def _spawn(self, coro) -> None:
        t = asyncio.create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, reader, writer)
        if len(self.clients) >= self.sc.max_clients:
            self.count("too_many_clients")
            conn.close("too many clients")
            return
        self.clients.add(conn)
        self._publish_state()
        try:
            await conn.run()
        finally:
            self.clients.discard(conn)
            if self.voice is conn:
                self.voice = None
            if self.stream is not None and self.stream.conn is conn:
                self._end_stream("client gone")
            self._publish_state()

    async def _ticker(self) -> None:
        next_watchdog = next_states = 0.0
        while True:
            self.pub.hb_dropped = sum(self.sub.dropped.values())
            self.pub.tick()
            now = time.monotonic()
            self._check_speaking()
            st = self.stream
            if st is not None and not st.done:
                if not st.accepted and now - st.asked_at > RESPONSE_TIMEOUT_S:
                    self._end_stream("Home Assistant did not answer")
                else:
                    self._pump_stream()
            if now >= next_states:
                next_states = now + 0.5
                changed = self.states.changed()
                if changed:
                    for c in list(self.clients):
                        if c.states_subscribed:
                            for m in changed:
                                c.send(m)
            if self.notifier.watchdog_period_s and now >= next_watchdog:
                next_watchdog = now + self.notifier.watchdog_period_s
                self.notifier.watchdog()
            await asyncio.sleep(0.02)

    async def run_async(self) -> int:
        try:
            server = await asyncio.start_server(self._client, self.sc.host, self.sc.port, reuse_address=True,
                                                limit=self.sc.max_message + 64)
        except OSError as exc:
            raise UserError(f"satellite: cannot listen on {self.sc.host}:{self.sc.port}: {exc.strerror or exc} "
                            "(set satellite.port, or swivel run --satellite-port)") from None
        advert = None
        if self.sc.zeroconf:
            from .advertise import Advertisement
            advert = Advertisement(self.sc, self.event)
            await advert.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.create_task(self._bus_loop()), asyncio.create_task(self._ticker())]
        self._publish_state()
        self.notifier.ready("satellite running")
        self.event("ready", host=self.sc.host, port=self.sc.port, node=self.sc.name,
                   encryption=bool(self.sc.key), zeroconf=bool(advert and advert.ok))
        await stop.wait()
        self.event("stopping")
        self.notifier.stopping()
        self.pub.hb_state = "stopping"
        for t in tasks:
            t.cancel()
        server.close()
        for c in list(self.clients):
            c.close("service stopping", disconnect=True)
        if advert is not None:
            await advert.stop()
        self.event("satellite stats", counts=dict(self.counts), bench=self.bench[-50:],
                   pipelines=self.state.pipelines, played_frames=self.state.played_frames)
        return 0

    def close(self) -> None:
        self.output.close()
        self.pub.close()
        self.sub.close()
        self.ctx.term()
        self.actx.term()


def main(cfg) -> int:
    svc = SatelliteService(cfg)
    try:
        return asyncio.run(svc.run_async())
    finally:
        svc.close()
