"""The simulated world's control inbox: scenario events sent now (tests and tools use it to unplug things)."""
from __future__ import annotations

import logging
from pathlib import Path

import msgspec
import zmq

from ..runtime.logs import log_event
from .scenario import Event

INBOX = "sim-control.sock"
_decoder = msgspec.msgpack.Decoder(Event)
log = logging.getLogger("swivel.world")


def inbox_endpoint(runtime_dir: Path) -> str:
    return f"ipc://{Path(runtime_dir) / INBOX}"


class ControlInbox:
    """A PULL socket the world drains every turn; each message is one scenario `Event` (its `t` is ignored:
    it happens on arrival). A message that is not a valid event is counted, logged and dropped."""

    def __init__(self, runtime_dir: Path, ctx: zmq.Context | None = None):
        self.sock = (ctx or zmq.Context.instance()).socket(zmq.PULL)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(inbox_endpoint(runtime_dir))
        self.malformed = 0

    def poll(self) -> list[Event]:
        out = []
        while True:
            try:
                data = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return out
            try:
                out.append(_decoder.decode(data))
            except msgspec.DecodeError as exc:
                self.malformed += 1
                log_event(log, "control message dropped", logging.WARNING, error=str(exc)[:200],
                          malformed=self.malformed)

    def close(self) -> None:
        self.sock.close()


def send_event(runtime_dir: Path, kind: str, ctx: zmq.Context | None = None, **fields) -> None:
    """Have the running world apply one event now, e.g. send_event(dir, "mcu_reset")."""
    # Validated here (a struct's constructor does not check types), so a typo fails in the sender.
    ev = msgspec.convert({"t": 0.0, "kind": kind, **fields}, Event)
    sock = (ctx or zmq.Context.instance()).socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 2000)
    sock.connect(inbox_endpoint(runtime_dir))
    try:
        sock.send(msgspec.msgpack.encode(ev))
    finally:
        sock.close()
