"""Bad input to the web app (oversized, malformed and out-of-range messages, a hundred reconnects): a clear error, nothing lost."""
from __future__ import annotations

import asyncio
import json

import aiohttp

from .conftest import run_async
from device.bus.rpc import RpcClient
from device.bus.schemas import MotionRequest


async def _paired_session(run) -> aiohttp.ClientSession:
    jar = aiohttp.CookieJar(unsafe=True)                   # cookies for 127.0.0.1 (an IP address)
    s = aiohttp.ClientSession(cookie_jar=jar)
    async with s.post(run.url + "/pair", json={"code": run.code()}, headers={"Origin": run.url}) as r:
        assert r.status == 200, await r.text()
    return s


async def _until(ws, kind: str, timeout: float = 5.0) -> dict:
    async def get():
        while True:
            m = await ws.receive_json()
            if m["type"] == kind:
                return m
    return await asyncio.wait_for(get(), timeout)


async def _bad_input(run) -> None:
    s = await _paired_session(run)
    try:
        ws = await s.ws_connect(run.url.replace("http", "ws") + "/ws", origin=run.url)
        hello = await _until(ws, "hello")
        assert "set_rom" in hello["ops"] and hello["principal"] == "paired"
        limit = hello["max_message"]
        before = RpcClient(run.runtime_dir).call(MotionRequest(op="get_state")).state

        await ws.send_str(json.dumps({"type": "cmd", "op": "follow", "pad": "x" * (2 * limit)}))
        assert "message too large" in (await _until(ws, "error"))["error"]
        await ws.send_str("{not json")
        assert (await _until(ws, "error"))["error"].startswith("not JSON")
        await ws.send_str("[1, 2, 3]")
        assert "JSON object" in (await _until(ws, "error"))["error"]
        await ws.send_bytes(b"\x00\x01")
        assert "binary" in (await _until(ws, "error"))["error"]
        await ws.send_json({"type": "launch"})
        assert "unknown message type" in (await _until(ws, "error"))["error"]
        cases = [
            ({"op": "self_destruct"}, "unknown op"),
            ({"op": "set_rom", "min_deg": "-90", "max_deg": 90}, "min_deg must be a number"),
            ({"op": "set_rom", "min_deg": -200.0, "max_deg": 90.0}, "not a world azimuth"),
            ({"op": "set_rom", "min_deg": -175.0, "max_deg": 90.0}, "outer range"),
            ({"op": "set_rom", "min_deg": 10.0, "max_deg": 15.0}, "narrower than"),
            ({"op": "follow", "enabled": "yes"}, "enabled must be true or false"),
            ({"op": "speed", "preset": "warp"}, "speed_preset must be one of calm, normal, fast"),
            ({"op": "away_hours", "hours": "25:00-26:00"}, "hours must look like"),
            ({"op": "rom_step", "step": "done"}, "no range-of-motion setup in progress"),
        ]
        for i, (cmd, expect) in enumerate(cases):
            await ws.send_json({"type": "cmd", "id": i, **cmd})
            rep = await _until(ws, "reply")
            assert rep["id"] == i and not rep["ok"] and expect in rep["error"], (cmd, rep)
        # Nothing changed, and the same socket still works for a good command.
        after = RpcClient(run.runtime_dir).call(MotionRequest(op="get_state")).state
        assert (after.rom_min_deg, after.rom_max_deg, after.follow) == (before.rom_min_deg, before.rom_max_deg,
                                                                          before.follow)
        await ws.send_json({"type": "cmd", "id": "ok", "op": "speed", "preset": "calm"})
        rep = await _until(ws, "reply")
        assert rep["ok"], rep
        st = await _until(ws, "policy")
        while st["speed_preset"] != "calm":
            st = await _until(ws, "policy")
        await ws.send_json({"type": "cmd", "id": "back", "op": "speed", "preset": "normal"})
        assert (await _until(ws, "reply"))["ok"]
        # An absurd frame (beyond what is even read) closes that socket with 1009, and only that socket.
        await ws.send_str("y" * (1 << 20))
        closed = await ws.receive(timeout=10)
        while closed.type == aiohttp.WSMsgType.TEXT:      # updates already on their way come first
            closed = await ws.receive(timeout=10)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        assert ws.close_code == 1009

        # A hundred reconnects: each gets the whole picture at once, and none is left behind.
        for _ in range(100):
            w = await s.ws_connect(run.url.replace("http", "ws") + "/ws", origin=run.url)
            await _until(w, "hello")
            await w.close()
        w = await s.ws_connect(run.url.replace("http", "ws") + "/ws", origin=run.url)
        await _until(w, "motor")
        for _ in range(3):                                 # the count of open pages settles back to this one
            health = await _until(w, "health")
            if health["web"]["pages"] == 1:
                break
        assert health["web"]["pages"] == 1, health["web"]
        web = next(x for x in health["services"] if x["name"] == "web")
        assert web["alive"] and web["restarts"] == 0
        await w.close()
    finally:
        await s.close()


def test_bad_messages_get_clear_errors_and_lose_nothing(sim_run):
    run_async(_bad_input(sim_run))


def test_cross_origin_and_unpaired_websockets_are_refused(sim_run):
    async def go():
        async with aiohttp.ClientSession() as anon:
            for origin in (sim_run.url, "http://evil.example"):
                try:
                    await anon.ws_connect(sim_run.url.replace("http", "ws") + "/ws", origin=origin)
                    raise AssertionError("an unpaired WebSocket opened")
                except aiohttp.WSServerHandshakeError as exc:
                    assert exc.status == 403
        s = await _paired_session(sim_run)
        try:
            try:
                await s.ws_connect(sim_run.url.replace("http", "ws") + "/ws", origin="http://evil.example")
                raise AssertionError("a cross-origin WebSocket opened")
            except aiohttp.WSServerHandshakeError as exc:
                assert exc.status == 403
        finally:
            await s.close()
    run_async(go())
