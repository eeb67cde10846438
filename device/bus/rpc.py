"""Request/reply channel of the motion API: a ROUTER server that knows each caller's uid/pid, and a client."""
from __future__ import annotations

import os
import socket
import struct
from pathlib import Path
from typing import Callable, Optional

import msgspec
import zmq

from .endpoints import rpc_endpoint
from .schemas import MotionReply, MotionRequest


class PeerCredentials(msgspec.Struct, frozen=True):
    pid: int
    uid: int
    gid: int


class RpcServer:
    """Serves MotionRequest -> MotionReply on `<runtime_dir>/motion.sock`.

    The handler gets the request and the peer's kernel-verified credentials (SO_PEERCRED of the unix
    socket), so access checks never trust what the client claims. Undecodable requests get an error
    reply and are counted.
    """

    def __init__(self, runtime_dir: Path, handler: Callable[[MotionRequest, Optional[PeerCredentials]], MotionReply],
                 ctx: Optional[zmq.Context] = None, name: str = "motion"):
        self.ctx = ctx or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        path = Path(runtime_dir) / f"{name}.sock"
        if path.exists():
            path.unlink()
        self.sock.bind(rpc_endpoint(Path(runtime_dir), name))
        self.handler = handler
        self._dec = msgspec.msgpack.Decoder(MotionRequest)
        self._enc = msgspec.msgpack.Encoder()
        self.malformed = 0
        self.served = 0

    def handle_ready(self) -> None:
        """Serve every request waiting now (call when the socket polls readable)."""
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            ident, payload = frames[0].bytes, frames[-1]
            creds = _peer_credentials(payload)
            try:
                req = self._dec.decode(payload.bytes)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self.malformed += 1
                reply = MotionReply(ok=False, error=f"malformed request: {exc}"[:200])
            else:
                reply = self.handler(req, creds)
                self.served += 1
            self.sock.send_multipart([ident, b"", self._enc.encode(reply)])

    def close(self) -> None:
        self.sock.close(0)


def _peer_credentials(frame: zmq.Frame) -> Optional[PeerCredentials]:
    """SO_PEERCRED of the ipc connection that carried this frame (None when not available)."""
    try:
        fd = frame.get(zmq.SRCFD)
    except (zmq.ZMQError, AttributeError):
        return None
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    finally:
        sock.close()
    pid, uid, gid = struct.unpack("3i", raw)
    return PeerCredentials(pid=pid, uid=uid, gid=gid)


class RpcClient:
    """Blocking client with a timeout; a fresh DEALER per call so a lost reply never wedges it."""

    def __init__(self, runtime_dir: Path, ctx: Optional[zmq.Context] = None, name: str = "motion",
                 timeout_s: float = 2.0):
        self.ctx = ctx or zmq.Context.instance()
        self.endpoint = rpc_endpoint(Path(runtime_dir), name)
        self.path = Path(runtime_dir) / f"{name}.sock"
        self.timeout_ms = int(timeout_s * 1000)
        self._enc = msgspec.msgpack.Encoder()
        self._dec = msgspec.msgpack.Decoder(MotionReply)

    def call(self, req: MotionRequest) -> MotionReply:
        return self.call_raw(self._enc.encode(req))

    def call_raw(self, payload: bytes) -> MotionReply:
        if not self.path.exists():
            raise ConnectionError(f"motion API is not running (no socket at {self.path})")
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(self.endpoint)
            sock.send_multipart([b"", payload])
            if not sock.poll(self.timeout_ms):
                raise TimeoutError(f"motion API did not answer within {self.timeout_ms} ms")
            return self._dec.decode(sock.recv_multipart()[-1])
        finally:
            sock.close(0)
