"""`swivel bus monitor`: print every message on the bus as JSON lines (never images: no topic can hold one)."""
from __future__ import annotations

import json
import sys

import msgspec


def add_parser(sub) -> None:
    p = sub.add_parser("bus", help="look at the bus")
    bsub = p.add_subparsers(dest="bus_command", required=True, metavar="ACTION")
    m = bsub.add_parser("monitor", help="print messages as JSON lines")
    m.add_argument("topics", nargs="*", help="topic names (default: all but sim.audio)")
    m.add_argument("--runtime-dir", help="bus directory (default: as the services resolve it)")
    m.add_argument("--count", type=int, default=0, help="stop after N messages")
    m.set_defaults(func=_cmd_monitor)


def _cmd_monitor(args) -> int:
    from .endpoints import resolve_runtime_dir
    from .pubsub import Subscriber
    from .topics import TOPICS

    names = args.topics or [n for n in TOPICS if n not in ("sim.audio", "hb")]
    runtime_dir = resolve_runtime_dir(args.runtime_dir or "")
    sub = Subscriber(runtime_dir)
    for name in names:
        t = TOPICS.get(name)
        if t is None:
            print(f"swivel: unknown topic {name!r}", file=sys.stderr)
            return 2
        # Heartbeats come from every process on the bus, the four services and the simulation's two.
        publishers = ["ssl", "vision", "policy", "motor", "world", "wake"] if t.publisher == "*" else [t.publisher]
        for pub in publishers:
            sub.subscribe(pub, name)
    seen = 0
    try:
        while not args.count or seen < args.count:
            for topic, msg in sub.poll(200):
                if topic not in names:
                    continue
                print(json.dumps({"topic": topic, **msgspec.to_builtins(msg)}), flush=True)
                seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        if sub.dropped:
            print(json.dumps({"dropped": dict(sub.dropped)}), file=sys.stderr)
        sub.close()
    return 0
