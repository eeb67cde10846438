"""Pairing and sessions: a code shown on the device's own screen, then a random session cookie stored only as a hash."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

COOKIE = "swivel_session"
CODE_DIGITS = 6
SESSIONS_FILE = "sessions.json"
CODE_FILE = "web-pairing-code"       # in the runtime dir, mode 0600: what the live terminal view shows


def default_state_dir() -> Path:
    """$STATE_DIRECTORY (systemd StateDirectory=), else $XDG_STATE_HOME/swivel-web, else /var/lib/swivel-web."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    if os.environ.get("XDG_STATE_HOME"):
        return Path(os.environ["XDG_STATE_HOME"]) / "swivel-web"
    return Path("/var/lib/swivel-web")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Session:
    id: str                          # short public id (first hex digits of the hash), for logs and the principal
    token_hash: str
    created: float                   # wall clock, seconds
    expires: float
    client: str = ""                 # address it was paired from


class RateLimiter:
    """Sliding one-minute window per key and for everyone together."""

    def __init__(self, per_key: int, total: int, clock: Callable[[], float] = time.monotonic, window_s: float = 60.0):
        self.per_key, self.total, self.clock, self.window_s = per_key, total, clock, window_s
        self._by_key: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _trim(self, q: deque[float], now: float) -> None:
        while q and now - q[0] >= self.window_s:
            q.popleft()

    def allow(self, key: str) -> Optional[float]:
        """None when this attempt may go ahead (and counts it), else seconds to wait."""
        now = self.clock()
        q = self._by_key.setdefault(key, deque())
        self._trim(q, now)
        self._trim(self._all, now)
        for queue, limit in ((q, self.per_key), (self._all, self.total)):
            if len(queue) >= limit:
                return max(1.0, self.window_s - (now - queue[0]))
        q.append(now)
        self._all.append(now)
        if len(self._by_key) > 1024:                   # forget idle clients
            for k in [k for k, v in self._by_key.items() if not v]:
                del self._by_key[k]
        return None


class Pairing:
    """The current pairing code and the paired sessions (a JSON file of hashes, written atomically)."""

    def __init__(self, state_dir: Path, code_ttl_s: float, session_ttl_s: float, max_sessions: int,
                 code_file: Optional[Path] = None, wall: Callable[[], float] = time.time):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / SESSIONS_FILE
        self.code_ttl_s, self.session_ttl_s, self.max_sessions = code_ttl_s, session_ttl_s, max_sessions
        self.code_file = code_file
        self.wall = wall
        self.code = ""
        self.code_expires = 0.0
        self.sessions: dict[str, Session] = {}         # token hash -> session
        self.problem = ""                               # why sessions cannot be stored, if so
        self._load()
        self.new_code()

    # -- the code on the screen -----------------------------------------------------------------------
    def new_code(self) -> str:
        self.code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        self.code_expires = self.wall() + self.code_ttl_s
        if self.code_file is not None:
            try:
                fd = os.open(self.code_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(self.code + "\n")
            except OSError:
                pass                                    # the kiosk page shows it anyway
        return self.code

    def current_code(self) -> tuple[str, float]:
        if self.wall() >= self.code_expires:
            self.new_code()
        return self.code, self.code_expires

    def pair(self, code: str, client: str) -> Optional[tuple[str, Session]]:
        """A new session token for the right code (then the code changes), None for a wrong one."""
        current, _ = self.current_code()
        if not isinstance(code, str) or not hmac.compare_digest(code.strip().encode(), current.encode()):
            return None
        token = secrets.token_urlsafe(32)
        h = _hash(token)
        now = self.wall()
        s = Session(id=h[:12], token_hash=h, created=now, expires=now + self.session_ttl_s, client=client[:64])
        self.sessions[h] = s
        while len(self.sessions) > self.max_sessions:
            oldest = min(self.sessions.values(), key=lambda x: x.created)
            del self.sessions[oldest.token_hash]
        self._save()
        self.new_code()                                 # a code pairs one phone only
        return token, s

    # -- cookies -------------------------------------------------------------------------------------
    def session(self, token: Optional[str]) -> Optional[Session]:
        """The live session of a cookie value, None for a missing, forged or expired one."""
        if not token or len(token) > 128:
            return None
        s = self.sessions.get(_hash(token))
        if s is None:
            return None
        if self.wall() >= s.expires:
            del self.sessions[s.token_hash]
            self._save()
            return None
        return s

    def revoke(self, session_id: str) -> bool:
        hit = [h for h, s in self.sessions.items() if s.id == session_id]
        for h in hit:
            del self.sessions[h]
        if hit:
            self._save()
        return bool(hit)

    # -- the file --------------------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            now = self.wall()
            for item in data.get("sessions", []):
                s = Session(**item)
                if s.expires > now:
                    self.sessions[s.token_hash] = s
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            self.problem = f"paired sessions in {self.path} not read ({exc}); pair again"[:200]

    def _save(self) -> None:
        data = {"sessions": [s.__dict__ for s in self.sessions.values()]}
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".sessions-")
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            self.problem = ""
        except OSError as exc:
            self.problem = f"paired sessions not stored in {self.state_dir}: {exc.strerror or exc}"[:200]
