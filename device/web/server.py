"""The web service: an aiohttp app that pairs phones, serves the live page and pushes the bus to it over WebSocket.

Every change a page asks for goes to the policy's motion API with the page's principal (a paired session,
or the kiosk on the device's own screen), so the one access policy (device/policy/access.py) decides.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import signal
import time
from pathlib import Path
from typing import Optional

import msgspec
import zmq
import zmq.asyncio
from aiohttp import WSMsgType, web

from ..bus.endpoints import ensure_runtime_dir, resolve_runtime_dir
from ..bus.pubsub import Publisher, Subscriber
from ..bus.rpc import RpcClient
from ..bus.schemas import MotionRequest
from ..errors import UserError
from ..runtime.logs import log_event, setup_logging
from ..runtime.sdnotify import SystemdNotifier
from .live import LiveState
from .pairing import CODE_FILE, COOKIE, Pairing, RateLimiter, default_state_dir

STATIC = Path(__file__).parent / "static"
# Bus publishers whose heartbeats the health panel shows (world: the simulated room; wake: the engine).
WATCHED = ("motor", "policy", "ssl", "vision", "web", "wake", "world")
# What a page may ask for, and the motion API request each becomes (the policy checks the rest).
COMMANDS = {
    "set_rom": ("set_rom", {"min_deg": (int, float), "max_deg": (int, float)}),
    "rom_step": ("set_rom", {"step": (str,)}),
    "follow": ("follow", {"enabled": (bool,)}),
    "away": ("away", {"enabled": (bool,)}),
    "speed": ("speed", {"preset": (str,)}),
    "away_hours": ("away_hours", {"hours": (str,)}),
    "stop": ("stop", {}),
    "pan": ("pan", {}),
    "turn": ("turn", {"angle_deg": (int, float)}),
    "tokens": ("tokens", {"action": (str,)}),
    "health_ack": ("health_ack", {}),          # added by health: the owner saw "needs attention"
}
# Optional arguments (only app tokens have them): name, and the list of ops a new token carries.
OPTIONAL = {"tokens": {"name": (str,), "ops": (list,)}}
REQUEST_FIELD = {"step": "rom_step", "preset": "speed_preset", "hours": "away_hours", "action": "token_action",
                 "name": "token_name", "ops": "token_ops"}
SECURITY_HEADERS = {
    # No inline script, nothing from elsewhere, and no data: URLs for images (there are none to show).
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class Page:
    """One open WebSocket: who it is, and its outgoing queue (a slow page loses its oldest updates, counted)."""

    def __init__(self, ws: web.WebSocketResponse, kind: str, session_id: str, token: Optional[str]):
        self.ws, self.kind, self.session_id, self.token = ws, kind, session_id, token
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=256)
        self.dropped = 0

    @property
    def principal(self) -> str:
        return f"web_{self.kind}:{self.session_id}" if self.session_id else f"web_{self.kind}"

    def push(self, text: str) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(text)


def _is_loopback_request(request: web.Request) -> bool:
    """From this machine, addressed to this machine (the Host check keeps a DNS-rebound name out)."""
    try:
        peer = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False
    host = request.host.rsplit(":", 1)[0] if not request.host.startswith("[") else request.host.split("]")[0] + "]"
    return peer.is_loopback and host in ("127.0.0.1", "localhost", "[::1]")


def _same_origin(request: web.Request, required: bool) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return not required
    return origin == f"{request.scheme}://{request.host}"


class WebService:
    name = "web"

    def __init__(self, cfg, runtime_dir: Optional[Path] = None):
        self.cfg = cfg
        self.wc = cfg.web
        self.runtime_dir = ensure_runtime_dir(runtime_dir or resolve_runtime_dir(cfg.bus.runtime_dir))
        self.log = setup_logging(self.name, cfg.bus.log_level)
        state_dir = Path(self.wc.state_dir).expanduser() if self.wc.state_dir else default_state_dir()
        self.pairing = Pairing(state_dir, self.wc.code_ttl_s, self.wc.session_ttl_s, self.wc.max_sessions,
                               code_file=self.runtime_dir / CODE_FILE)
        if self.pairing.problem:
            self.event("sessions problem", logging.ERROR, detail=self.pairing.problem)
        self.limiter = RateLimiter(self.wc.pair_attempts_per_min, self.wc.pair_attempts_global_per_min)
        self.live = LiveState(cfg.policy.zones, cfg.policy.fusion.engaged_threshold, self.wc.timeline_len)
        self.ctx = zmq.Context()
        self.actx = zmq.asyncio.Context()
        self.pub = Publisher(self.name, self.runtime_dir, self.ctx, heartbeat_s=cfg.bus.heartbeat_s)
        self.sub = Subscriber(self.runtime_dir, self.actx)
        for name in WATCHED:
            self.sub.subscribe(name)
        self.sub.subscribe("motor", "motor.state")
        self.sub.subscribe("policy", "policy.state", "policy.alert")
        self.sub.subscribe("vision", "vision.people")
        self.sub.subscribe("ssl", "ssl.doa")
        self.sub.subscribe("health", "health.state")
        self.rpc = RpcClient(self.runtime_dir, self.ctx, timeout_s=self.wc.rpc_timeout_s)
        self.pages: set[Page] = set()
        self.counts: dict[str, int] = {}
        self.notifier = SystemdNotifier()
        self.app = self._build_app()

    def event(self, msg: str, level: int = logging.INFO, **fields) -> None:
        log_event(self.log, msg, level, **fields)

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    # -- the app ---------------------------------------------------------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024, middlewares=[self._headers])
        app.router.add_get("/", self._page)
        app.router.add_get("/setup", self._page)
        app.router.add_get("/kiosk", self._kiosk)
        app.router.add_get("/pair", self._pair_page)
        app.router.add_post("/pair", self._pair)
        app.router.add_post("/logout", self._logout)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/favicon.ico", self._no_icon)
        app.router.add_static("/static", STATIC, show_index=False, follow_symlinks=False)
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler):
        try:
            resp = await handler(request)
        except web.HTTPException as exc:
            resp = exc
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        if isinstance(resp, web.HTTPException) and resp.status >= 300:
            raise resp
        return resp

    def _session_of(self, request: web.Request):
        return self.pairing.session(request.cookies.get(COOKIE))

    async def _page(self, request: web.Request) -> web.StreamResponse:
        if self._session_of(request) is None:
            raise web.HTTPSeeOther("/pair")
        return web.FileResponse(STATIC / "app.html")

    async def _kiosk(self, request: web.Request) -> web.StreamResponse:
        if not _is_loopback_request(request):
            raise web.HTTPForbidden(text="the kiosk page is only for the device's own screen\n")
        return web.FileResponse(STATIC / "app.html")

    async def _no_icon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _pair_page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "pair.html")

    async def _pair(self, request: web.Request) -> web.Response:
        client = request.remote or "?"
        if not _same_origin(request, required=False):
            self._count("pair_cross_origin")
            return web.json_response({"ok": False, "error": "pairing must come from this device's own page"},
                                     status=403)
        wait = self.limiter.allow(client)
        if wait is not None:
            self._count("pair_rate_limited")
            self.event("pairing rate limited", logging.WARNING, client=client)
            return web.json_response({"ok": False, "error": f"too many pairing attempts: try again in {wait:.0f} s"},
                                     status=429, headers={"Retry-After": str(int(math.ceil(wait)))})
        try:
            body = await request.json()
            code = body.get("code") if isinstance(body, dict) else None
        except (ValueError, UnicodeDecodeError):
            code = None
        if not isinstance(code, str):
            return web.json_response({"ok": False, "error": "send {\"code\": \"123456\"} as JSON"}, status=400)
        got = self.pairing.pair(code, client)
        if got is None:
            self._count("pair_wrong_code")
            self.event("pairing refused: wrong code", logging.WARNING, client=client)
            return web.json_response({"ok": False, "error": "wrong pairing code (it is shown on the device's screen)"},
                                     status=403)
        token, session = got
        self.event("paired", session=session.id, client=client)
        resp = web.json_response({"ok": True, "session": session.id})
        resp.set_cookie(COOKIE, token, max_age=int(self.wc.session_ttl_s), httponly=True, samesite="Strict", path="/")
        self._broadcast_kiosk()
        return resp

    async def _logout(self, request: web.Request) -> web.Response:
        s = self._session_of(request)
        if s is None or not _same_origin(request, required=True):
            return web.json_response({"ok": False, "error": "not paired"}, status=403)
        self.pairing.revoke(s.id)
        resp = web.json_response({"ok": True})
        resp.del_cookie(COOKIE, path="/")
        return resp

    # -- WebSocket ------------------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("kiosk") == "1":
            if not _is_loopback_request(request):
                self._count("ws_refused")
                raise web.HTTPForbidden(text="kiosk only from the device itself\n")
            kind, sid, token = "kiosk", "", None
        else:
            token = request.cookies.get(COOKIE)
            s = self.pairing.session(token)
            if s is None:
                self._count("ws_refused")
                raise web.HTTPForbidden(text="not paired: open /pair and enter the code shown on the device\n")
            kind, sid = "paired", s.id
        if not _same_origin(request, required=True):
            self._count("ws_refused")
            raise web.HTTPForbidden(text="cross-origin WebSocket refused\n")
        if len(self.pages) >= self.wc.max_pages:
            raise web.HTTPServiceUnavailable(text=f"too many open pages (at most {self.wc.max_pages})\n")
        # Messages larger than max_ws_message get a clear error; only absurd ones close the socket (1009).
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=max(64 * 1024, 4 * self.wc.max_ws_message))
        await ws.prepare(request)
        page = Page(ws, kind, sid, token)
        allowed = await self._allowed_ops(page)
        if allowed is None:
            await ws.send_json({"type": "error", "error": "the access policy does not let this page see the state"})
            await ws.close(code=4403, message=b"denied")
            return ws
        self.pages.add(page)
        sender = asyncio.create_task(self._send_loop(page))
        try:
            page.push(json.dumps(self._hello(page, allowed)))
            for msg in self.live.last.values():
                page.push(json.dumps(msg))
            page.push(json.dumps({"type": "timeline", "entries": list(self.live.timeline)}))
            page.push(json.dumps(self._health()))
            if kind == "kiosk":
                page.push(json.dumps(self._code_msg()))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_message(page, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._count("ws_bad")
                    page.push(json.dumps({"type": "error", "error": "binary messages are not accepted: send JSON text"}))
                elif msg.type == WSMsgType.ERROR:
                    self._count("ws_error")
                    break
        finally:
            self.pages.discard(page)
            sender.cancel()
        return ws

    def _hello(self, page: Page, allowed: list[str]) -> dict:
        m, p = self.cfg.motor, self.cfg.policy
        return {"type": "hello", "principal": page.kind, "session": page.session_id, "ops": allowed,
                "outer": [m.rom_min_deg, m.rom_max_deg], "hfov": p.zones.hfov_deg,
                "min_width": p.rom.min_width_deg, "presets": ["calm", "normal", "fast"],
                "max_message": self.wc.max_ws_message, "server_ns": time.monotonic_ns()}

    def _code_msg(self) -> dict:
        code, expires = self.pairing.current_code()
        return {"type": "code", "code": code, "expires_in_s": round(expires - time.time())}

    def _broadcast_kiosk(self) -> None:
        text = json.dumps(self._code_msg())
        for page in self.pages:
            if page.kind == "kiosk":
                page.push(text)

    async def _send_loop(self, page: Page) -> None:
        try:
            while True:
                text = await page.queue.get()
                await page.ws.send_str(text)
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            pass

    async def _call(self, req: MotionRequest):
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, self.rpc.call, req), None
        except (ConnectionError, TimeoutError) as exc:
            return None, str(exc)

    async def _allowed_ops(self, page: Page) -> Optional[list[str]]:
        """What the access policy lets this page do (asked of the policy with the page's principal)."""
        rep, err = await self._call(MotionRequest(op="get_state", principal=page.principal))
        if rep is None:
            return ["get_state"]                        # the policy is not up yet: show, allow nothing else
        return sorted(rep.ops) if rep.ok else None

    async def _on_message(self, page: Page, text: str) -> None:
        size = len(text.encode())
        if size > self.wc.max_ws_message:
            self._count("ws_bad")
            page.push(json.dumps({"type": "error", "error": f"message too large ({size} bytes; at most "
                                                            f"{self.wc.max_ws_message}): ignored"}))
            return
        try:
            msg = json.loads(text)
        except ValueError as exc:
            self._count("ws_bad")
            page.push(json.dumps({"type": "error", "error": f"not JSON ({exc}): ignored"}))
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            self._count("ws_bad")
            page.push(json.dumps({"type": "error", "error": "expected a JSON object with a \"type\": ignored"}))
            return
        if msg["type"] == "clock":
            page.push(json.dumps({"type": "clock", "echo": msg.get("t"), "server_ns": time.monotonic_ns()}))
            return
        if msg["type"] != "cmd":
            self._count("ws_bad")
            page.push(json.dumps({"type": "error", "error": f"unknown message type {str(msg['type'])[:40]!r}"}))
            return
        reply = await self._command(page, msg)
        reply["id"] = msg.get("id") if isinstance(msg.get("id"), (int, str)) else None
        page.push(json.dumps(reply))

    async def _command(self, page: Page, msg: dict) -> dict:
        op = msg.get("op")
        if op not in COMMANDS:
            self._count("ws_bad")
            return {"type": "reply", "ok": False, "error": f"unknown op {str(op)[:40]!r}; known: {', '.join(COMMANDS)}"}
        if page.kind == "paired" and self.pairing.session(page.token) is None:
            return {"type": "reply", "ok": False, "error": "session expired or revoked: pair again"}
        api_op, args = COMMANDS[op]
        fields = {}
        for name, types in args.items():
            v = msg.get(name)
            if type(v) not in types or (isinstance(v, float) and not math.isfinite(v)):
                self._count("ws_bad")
                want = "a number" if float in types else ("true or false" if bool in types else "a string")
                return {"type": "reply", "ok": False, "error": f"{op}: {name} must be {want}"}
            fields[REQUEST_FIELD.get(name, name)] = float(v) if float in types else v
        for name, types in OPTIONAL.get(op, {}).items():
            v = msg.get(name)
            if v is None:
                continue
            if type(v) not in types or (isinstance(v, list) and not all(isinstance(x, str) for x in v)):
                self._count("ws_bad")
                return {"type": "reply", "ok": False, "error": f"{op}: {name} must be "
                                                               f"{'a list of op names' if list in types else 'a string'}"}
            fields[REQUEST_FIELD.get(name, name)] = v
        try:
            req = msgspec.convert({"op": api_op, "principal": page.principal, **fields}, MotionRequest)
        except msgspec.ValidationError as exc:
            self._count("ws_bad")
            return {"type": "reply", "ok": False, "error": f"{op}: {exc}"[:200]}
        rep, err = await self._call(req)
        if rep is None:
            return {"type": "reply", "ok": False, "error": err}
        self.event("page command", op=op, ok=rep.ok, principal=page.principal, error=rep.error)
        out = {"type": "reply", "ok": rep.ok, "error": rep.error}
        if op == "tokens":
            # Names, ops and dates only; a new token's secret goes to the page that made it, once.
            out.update(tokens=[msgspec.to_builtins(t) for t in rep.tokens], secret=rep.secret, op="tokens")
        return out

    # -- the bus ---------------------------------------------------------------------------------------
    def _broadcast(self, msg: dict) -> None:
        if not self.pages:
            return
        text = json.dumps(msg)
        for page in self.pages:
            page.push(text)

    async def _bus_loop(self) -> None:
        while True:
            frames = await self.sub.sock.recv_multipart()
            item = self.sub.decode(frames)
            if item is None:
                continue
            topic, m = item
            if topic == "hb":
                self.live.on_heartbeat(m)
            elif topic == "motor.state":
                self._broadcast(self.live.on_motor(m))
            elif topic == "policy.state":
                view, entry = self.live.on_policy(m)
                self._broadcast(view)
                if entry is not None:
                    self._broadcast({"type": "timeline_add", "entry": entry})
            elif topic == "vision.people":
                self._broadcast(self.live.on_people(m))
            elif topic == "ssl.doa":
                self._broadcast(self.live.on_doa(m))
            elif topic == "health.state":
                self._broadcast(self.live.on_turntable(m))
            elif topic == "policy.alert":
                entry = {"at": round(time.time(), 2), "mode": "away", "decision": f"away alert: person at "
                         f"{m.bearing_deg:.0f} deg", "holds": [], "reason": "away mode saw someone"}
                self.live.timeline.append(entry)
                self._broadcast({"type": "timeline_add", "entry": entry})

    def _health(self) -> dict:
        own = dict(self.counts)
        own["page_queue_dropped"] = sum(p.dropped for p in self.pages)
        own["pages"] = len(self.pages)
        return self.live.health(self.sub, self.cfg.bus.heartbeat_timeout_s, own)

    async def _ticker(self) -> None:
        next_health = next_watchdog = 0.0
        while True:
            self.pub.hb_dropped = sum(self.sub.dropped.values())
            self.pub.tick()
            now = time.monotonic()
            if now >= next_health:
                next_health = now + 1.0
                self._broadcast(self._health())
                if self.pairing.wall() >= self.pairing.code_expires:
                    self.pairing.current_code()
                    self._broadcast_kiosk()
                for page in list(self.pages):            # a revoked or expired session loses its page
                    if page.kind == "paired" and self.pairing.session(page.token) is None:
                        await page.ws.close(code=4401, message=b"session expired")
            if self.notifier.watchdog_period_s and now >= next_watchdog:
                next_watchdog = now + self.notifier.watchdog_period_s   # only while this loop turns
                self.notifier.watchdog()
            await asyncio.sleep(0.05)

    # -- lifecycle ----------------------------------------------------------------------------------
    async def run_async(self) -> int:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.wc.host, self.wc.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise UserError(f"web: cannot listen on {self.wc.host}:{self.wc.port}: {exc.strerror or exc} "
                            "(set web.port, or swivel run --web-port)") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.create_task(self._bus_loop()), asyncio.create_task(self._ticker())]
        self.notifier.ready("web running")
        self.event("ready", url=f"http://{self.wc.host}:{self.wc.port}/", state_dir=str(self.pairing.state_dir))
        await stop.wait()
        self.event("stopping")
        self.notifier.stopping()
        for t in tasks:
            t.cancel()
        for page in list(self.pages):
            await page.ws.close(code=1001, message=b"service stopping")
        await runner.cleanup()
        if self.counts:
            self.event("web stats", counts=self.counts, dropped=dict(self.sub.dropped))
        return 0

    def close(self) -> None:
        self.pub.close()
        self.sub.close()
        self.ctx.term()
        self.actx.term()


def main(cfg) -> int:
    svc = WebService(cfg)
    try:
        return asyncio.run(svc.run_async())
    finally:
        svc.close()
