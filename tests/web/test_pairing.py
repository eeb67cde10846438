"""Pairing and sessions on a web service of its own (real HTTP on a real socket, aiohttp's own client)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from device.config import parse_config
from device.web.server import WebService

from .conftest import run_async


@pytest.fixture
def dirs():
    with tempfile.TemporaryDirectory(prefix="swvpair-", dir="/tmp") as d:
        yield Path(d) / "bus", Path(d) / "state"


def _service(dirs, extra: str = "") -> WebService:
    runtime, state = dirs
    cfg = parse_config(f'[bus]\nruntime_dir = "{runtime}"\n[web]\nstate_dir = "{state}"\n{extra}')
    return WebService(cfg)


async def _with_client(svc: WebService, fn):
    async with TestClient(TestServer(svc.app, host="127.0.0.1"), cookie_jar=aiohttp.CookieJar(unsafe=True)) as c:
        try:
            return await fn(c)
        finally:
            pass


def _run(svc, fn):
    try:
        return run_async(_with_client(svc, fn))
    finally:
        svc.close()


def test_the_right_code_pairs_once_and_a_wrong_one_never(dirs):
    svc = _service(dirs)

    async def go(c):
        r = await c.get("/", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/pair"
        code = svc.pairing.code
        assert (svc.runtime_dir / "web-pairing-code").read_text().strip() == code      # what the terminal shows
        assert (svc.runtime_dir / "web-pairing-code").stat().st_mode & 0o077 == 0
        wrong = "000000" if code != "000000" else "111111"
        r = await c.post("/pair", json={"code": wrong})
        assert r.status == 403 and "wrong pairing code" in (await r.json())["error"]
        assert "swivel_session" not in {m.key for m in c.session.cookie_jar}
        r = await c.post("/pair", json={"code": code})
        assert r.status == 200 and (await r.json())["ok"]
        set_cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Max-Age=" in set_cookie
        token = set_cookie.split("swivel_session=")[1].split(";")[0]
        assert len(token) >= 40
        stored = (dirs[1] / "sessions.json").read_text()
        assert token not in stored and len(json.loads(stored)["sessions"]) == 1   # only its hash is kept
        assert svc.pairing.code != code                       # a code pairs one browser only
        r = await c.get("/", allow_redirects=False)
        assert r.status == 200 and "polar" in await r.text()
        # Someone else replaying the used code gets nothing.
        async with aiohttp.ClientSession() as other:
            r = await other.post(c.make_url("/pair"), json={"code": code})
            assert r.status == 403
        return token

    token = _run(svc, go)
    # The session survives a restart of the service (the hash is on disk), and a forged one never works.
    svc2 = _service(dirs)

    async def again(c):
        c.session.cookie_jar.update_cookies({"swivel_session": token})
        assert (await c.get("/setup", allow_redirects=False)).status == 200
        c.session.cookie_jar.update_cookies({"swivel_session": token[:-2] + "xx"})
        assert (await c.get("/setup", allow_redirects=False)).status == 303
        r = await c.get("/ws", headers={"Origin": str(c.make_url("")).rstrip("/")})
        assert r.status == 403 and "not paired" in await r.text()
    _run(svc2, again)


def test_sessions_expire(dirs):
    svc = _service(dirs, "session_ttl_s = 60.0\n")

    async def go(c):
        r = await c.post("/pair", json={"code": svc.pairing.code})
        assert r.status == 200
        assert (await c.get("/", allow_redirects=False)).status == 200
        now = svc.pairing.wall()
        svc.pairing.wall = lambda: now + 61.0
        assert (await c.get("/", allow_redirects=False)).status == 303
    _run(svc, go)


def test_pairing_attempts_are_rate_limited(dirs):
    svc = _service(dirs, "pair_attempts_per_min = 5\n")

    async def go(c):
        code = svc.pairing.code
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            assert (await c.post("/pair", json={"code": wrong})).status == 403
        r = await c.post("/pair", json={"code": code})     # even the right code waits now
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        assert "too many pairing attempts" in (await r.json())["error"]
        assert svc.pairing.sessions == {}
    _run(svc, go)


def test_bad_pairing_requests_and_doors_for_the_device_only(dirs):
    svc = _service(dirs)

    async def go(c):
        assert (await c.post("/pair", data=b"{{{", headers={"Content-Type": "application/json"})).status == 400
        assert (await c.post("/pair", json=["123456"])).status == 400
        assert (await c.post("/pair", data=b"x" * 100_000)).status == 413      # bodies are small
        r = await c.post("/pair", json={"code": svc.pairing.code}, headers={"Origin": "http://evil.example"})
        assert r.status == 403 and svc.pairing.sessions == {}
        # The kiosk page is for the device's own screen: loopback, addressed as loopback (no rebound name).
        assert (await c.get("/kiosk")).status == 200
        assert (await c.get("/kiosk", headers={"Host": "evil.example"})).status == 403
        r = await c.get("/ws?kiosk=1", headers={"Host": "evil.example", "Origin": "http://evil.example"})
        assert r.status == 403
    _run(svc, go)
