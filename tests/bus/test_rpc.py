"""The motion API's request/reply channel: replies, peer credentials from the kernel, malformed requests."""
from __future__ import annotations

import os
import threading

import pytest

from device.bus.rpc import RpcClient, RpcServer
from device.bus.schemas import MotionReply, MotionRequest


@pytest.fixture
def server(runtime_dir):
    seen = []

    def handler(req, creds):
        seen.append((req, creds))
        if req.op == "turn" and req.angle_deg is not None:
            return MotionReply(ok=True)
        return MotionReply(ok=False, error=f"cannot {req.op} without an angle")

    srv = RpcServer(runtime_dir, handler)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            if srv.sock.poll(50):
                srv.handle_ready()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv, seen
    stop.set()
    t.join()
    srv.close()


def test_request_gets_reply_with_kernel_credentials(runtime_dir, server):
    srv, seen = server
    reply = RpcClient(runtime_dir).call(MotionRequest(op="turn", angle_deg=30.0, client="liar"))
    assert reply.ok
    req, creds = seen[-1]
    assert req.angle_deg == 30.0
    assert creds is not None and creds.uid == os.getuid() and creds.pid == os.getpid()


def test_handler_error_is_returned_not_raised(runtime_dir, server):
    reply = RpcClient(runtime_dir).call(MotionRequest(op="turn"))
    assert not reply.ok and "without an angle" in reply.error


def test_malformed_request_is_answered_and_counted(runtime_dir, server):
    srv, seen = server
    reply = RpcClient(runtime_dir).call_raw(b"\x93not a request")
    assert not reply.ok and reply.error.startswith("malformed request")
    assert srv.malformed == 1 and seen == []


def test_client_reports_a_missing_server_clearly(runtime_dir):
    with pytest.raises(ConnectionError, match="motion API is not running"):
        RpcClient(runtime_dir, name="nobody").call(MotionRequest(op="get_state"))
