"""Publisher and Subscriber: typed topics over ZeroMQ PUB/SUB with heartbeats, state republication
and counters of everything dropped."""
from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Iterator, Optional

import msgspec
import zmq

from . import schemas
from .endpoints import pub_endpoint
from .topics import TOPICS, topic


class Publisher:
    """Binds `<runtime_dir>/<name>.pub` and sends [topic, msgpack] frames.

    Call `tick()` often (the service loop does): it sends the heartbeat and republishes state topics.
    """

    def __init__(self, name: str, runtime_dir: Path, ctx: Optional[zmq.Context] = None,
                 heartbeat_s: float = 0.5, sndhwm: int = 1000):
        self.name = name
        self.ctx = ctx or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, sndhwm)
        path = Path(runtime_dir) / f"{name}.pub"
        if path.exists():                       # a stale socket file left by a crashed run
            path.unlink()
        self.endpoint = pub_endpoint(Path(runtime_dir), name)
        self.sock.bind(self.endpoint)
        self._enc = msgspec.msgpack.Encoder()
        self._state: dict[str, tuple[object, float]] = {}   # topic -> (last msg, last sent monotonic)
        self.heartbeat_s = heartbeat_s
        self._hb_seq = 0
        self._hb_next = 0.0
        self.hb_state = "running"
        self.hb_detail = ""
        self.hb_dropped = 0                     # the owner's subscriber's drop count, carried by the heartbeat
        self.sent: Counter[str] = Counter()

    def publish(self, name: str, msg: msgspec.Struct) -> None:
        t = topic(name)
        if not isinstance(msg, t.schema):
            raise TypeError(f"topic {name} carries {t.schema.__name__}, not {type(msg).__name__}")
        self.sock.send_multipart([name.encode(), self._enc.encode(msg)])
        self.sent[name] += 1
        if t.state:
            self._state[name] = (msg, time.monotonic())

    def tick(self, now: Optional[float] = None) -> None:
        now = time.monotonic() if now is None else now
        if now >= self._hb_next:
            self._hb_next = now + self.heartbeat_s
            self._hb_seq += 1
            self.publish("hb", schemas.Heartbeat(t_ns=time.monotonic_ns(), service=self.name,
                                                 pid=os.getpid(), seq=self._hb_seq,
                                                 state=self.hb_state, detail=self.hb_detail[:200],
                                                 dropped=self.hb_dropped))
        for name, (msg, sent_at) in list(self._state.items()):
            period = TOPICS[name].period_s
            if period and now - sent_at >= period:
                self.sock.send_multipart([name.encode(), self._enc.encode(msg)])
                self.sent[name + "(re)"] += 1
                self._state[name] = (msg, now)

    def close(self) -> None:
        self.sock.close(0)


class Subscriber:
    """One SUB socket connected to the publishers it needs; decodes, validates and counts.

    `dropped` counts every message thrown away, by reason: `undecodable:<topic>`, `version:<topic>`,
    `unknown_topic`, `malformed_frames`. Heartbeats update `last_heartbeat` and are not returned.
    """

    def __init__(self, runtime_dir: Path, ctx: Optional[zmq.Context] = None, rcvhwm: int = 1000):
        self.runtime_dir = Path(runtime_dir)
        self.ctx = ctx or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"hb")
        self._decoders = {name: msgspec.msgpack.Decoder(t.schema) for name, t in TOPICS.items()}
        self._topics: set[str] = {"hb"}
        self._connected: set[str] = set()
        self.last_heartbeat: dict[str, float] = {}   # service -> monotonic time of its last heartbeat
        self.heartbeat_pid: dict[str, int] = {}
        self.heartbeat_state: dict[str, str] = {}      # last state each heartbeat announced (running, degraded, ...)
        self.received: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()

    def subscribe(self, publisher: str, *topic_names: str) -> "Subscriber":
        if publisher not in self._connected:
            self.sock.connect(pub_endpoint(self.runtime_dir, publisher))
            self._connected.add(publisher)
        for name in topic_names:
            topic(name)                                   # unknown names fail loudly at start
            if name not in self._topics:
                self.sock.setsockopt(zmq.SUBSCRIBE, name.encode())
                self._topics.add(name)
        return self

    def decode(self, frames: list[bytes]) -> Optional[tuple[str, msgspec.Struct]]:
        """Turn one multipart message into (topic, message), or count it as dropped and return None."""
        if len(frames) != 2:
            self.dropped["malformed_frames"] += 1
            return None
        try:
            name = frames[0].decode()
        except UnicodeDecodeError:
            self.dropped["unknown_topic"] += 1
            return None
        if name not in self._topics:                      # prefix match of SUB, or a stranger
            if name not in self._decoders:
                self.dropped["unknown_topic"] += 1
            return None
        try:
            msg = self._decoders[name].decode(frames[1])
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.dropped[f"undecodable:{name}"] += 1
            return None
        if msg.v != schemas.VERSION:
            self.dropped[f"version:{name}"] += 1
            return None
        self.received[name] += 1
        if name == "hb":
            self.last_heartbeat[msg.service] = time.monotonic()
            self.heartbeat_pid[msg.service] = msg.pid
            self.heartbeat_state[msg.service] = msg.state
        return name, msg

    def poll(self, timeout_ms: int = 0) -> Iterator[tuple[str, msgspec.Struct]]:
        """Yield every message waiting now (after up to timeout_ms for the first), heartbeats included."""
        if not self.sock.poll(timeout_ms):
            return
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            item = self.decode(frames)
            if item is not None:
                yield item

    def alive(self, service: str, timeout_s: float) -> bool:
        seen = self.last_heartbeat.get(service)
        return seen is not None and time.monotonic() - seen <= timeout_s

    def close(self) -> None:
        self.sock.close(0)
