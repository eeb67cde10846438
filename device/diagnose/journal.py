"""The event journal on the device: rotating JSON-lines files (bounded in size and count), its reader, and
the live writer the policy service hosts (it already hears every stage; no new process for a log)."""
from __future__ import annotations

import json
import os
import time
from collections import defaultdict, deque
from pathlib import Path

from ..errors import UserError
from .cpu import CpuSampler
from .records import SCHEMA_VERSION, WINDOW_NS, build_record, cpu_span

FILE_NAME = "events.jsonl"
MAX_BYTES = 256 * 1024          # per file: ~500 events
KEEP_FILES = 4                  # events.jsonl + .1 .. .3: at most 1 MB on the device


def journal_dir(state_file: Path) -> Path:
    """Beside the policy's state file: $STATE_DIRECTORY/journal on a device, the runtime dir in `swivel run`."""
    return Path(os.environ.get("SWIVEL_JOURNAL_DIR") or state_file.parent / "journal")


class Journal:
    def __init__(self, directory: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP_FILES):
        self.dir = Path(directory)
        self.max_bytes, self.keep = max_bytes, keep
        self.path = self.dir / FILE_NAME

    def append(self, record: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, separators=(",", ":")) + "\n"
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size and size + len(line) > self.max_bytes:
            self._rotate()
        with open(self.path, "a") as f:
            f.write(line)

    def _rotate(self) -> None:
        for i in range(self.keep - 1, 0, -1):
            older = self.dir / f"{FILE_NAME}.{i}"
            newer = self.path if i == 1 else self.dir / f"{FILE_NAME}.{i - 1}"
            if newer.exists():
                os.replace(newer, older)
        (self.dir / f"{FILE_NAME}.{self.keep}").unlink(missing_ok=True)

    def files(self) -> list[Path]:
        """Oldest first."""
        rotated = sorted(self.dir.glob(f"{FILE_NAME}.*"), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
        return rotated + ([self.path] if self.path.exists() else [])


def load_records(source: str | Path) -> list[dict]:
    """Records from a journal directory, one journal file, or a run report (its "journal"), oldest first.
    A truncated last line (power cut mid-write) is dropped; any other bad line is a one-line error."""
    p = Path(source)
    if p.is_dir():
        files = Journal(p).files()
        if not files:
            raise UserError(f"{p}: no journal here ({FILE_NAME} missing)")
    elif p.exists():
        files = [p]
    else:
        raise UserError(f"{p}: no such journal or report")
    if len(files) == 1 and files[0].suffix == ".json":
        try:
            report = json.loads(files[0].read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{p}: not a run report (bad JSON: {exc})") from None
        if not isinstance(report, dict) or "journal" not in report:
            raise UserError(f"{p}: a JSON file without a \"journal\" (made by an older `swivel run --report`?)")
        records = report["journal"]
    else:
        records = []
        for f in files:
            lines = f.read_text(errors="replace").splitlines()
            for n, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    if f == files[-1] and n == len(lines):
                        continue                     # the one line a power cut can leave half-written
                    raise UserError(f"{f}:{n}: not a journal record (truncated or corrupt line)") from None
                records.append(rec)
    bad = [r for r in records if not isinstance(r, dict) or r.get("v") != SCHEMA_VERSION or "stages_s" not in r]
    if bad:
        raise UserError(f"{p}: {len(bad)} record(s) are not journal records of schema version {SCHEMA_VERSION}")
    if not records:
        raise UserError(f"{p}: the journal is empty (no wake events recorded yet)")
    return records


class JournalWriter:
    """Hears wake events and each later stage, and writes one record per event once its window has passed.
    Attach it to a service (`JournalWriter.attach(service, directory)`): its own subscriber on the service's
    loop, so the host service's handlers never see its messages."""

    TOPICS = {"wake": ("wake.event",), "ssl": ("ssl.doa",), "vision": ("vision.people",),
              "policy": ("policy.state",), "motor": ("motor.goal", "motor.state")}
    SERVICES = ("ssl", "vision", "policy", "motor", "wake", "web", "speaker", "world")
    KEEP_NS = 15_000_000_000

    def __init__(self, journal: Journal):
        self.journal = journal
        self.cpu = CpuSampler()
        self.timeline: dict[str, deque] = defaultdict(deque)
        self.pending: list = []
        self.written = 0

    @classmethod
    def attach(cls, service, directory: Path) -> "JournalWriter":
        from ..bus.pubsub import Subscriber
        w = cls(Journal(directory))
        # Its own (global) zmq context: the service terminates its context at exit and would wait on this socket.
        w.sub = Subscriber(service.runtime_dir)
        for pub, topics in cls.TOPICS.items():
            w.sub.subscribe(pub, *topics)
        for name in cls.SERVICES:
            w.sub.subscribe(name)                   # heartbeats carry each process's pid
        service.loop.add_reader(w.sub.sock, lambda: w.feed(w.sub.poll(0)))
        service.loop.every(0.25, w.tick)
        return w

    def feed(self, messages) -> None:
        for topic, msg in messages:
            if topic == "hb":
                self.cpu.saw_heartbeat(msg.service, msg.pid)
                continue
            self.timeline[topic].append(msg)
            if topic == "wake.event":
                self.pending.append(msg)

    def tick(self, now_ns: int | None = None) -> None:
        now_ns = now_ns or time.monotonic_ns()
        self.cpu.sample(now_ns)
        for q in self.timeline.values():
            while q and q[0].t_ns < now_ns - self.KEEP_NS:
                q.popleft()
        due = [w for w in self.pending if now_ns >= w.t_ns + 2 * WINDOW_NS]
        if not due:
            return
        self.pending = [w for w in self.pending if w not in due]
        ordered = {k: sorted(v, key=lambda m: m.t_ns) for k, v in self.timeline.items()}
        for w in due:
            rec = build_record(w, ordered, self.cpu.load_at(*cpu_span(w)))
            try:
                self.journal.append(rec)
                self.written += 1
            except OSError:
                pass                                 # a full disk must not take the policy down
