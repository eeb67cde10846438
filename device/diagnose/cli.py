"""`swivel diagnose`: which stage made a turn late, from the device's journal or a run report."""
from __future__ import annotations

import json
import sys
from datetime import datetime

from ..errors import UserError

DEFAULT_JOURNAL = "/var/lib/swivel/journal"     # where the policy service writes it on a device


def default_journal() -> str:
    """The policy's journal beside its state file ($STATE_DIRECTORY, $XDG_STATE_HOME/swivel or /var/lib/swivel)."""
    from ..policy.rom_store import resolve_state_path
    from .journal import journal_dir
    return str(journal_dir(resolve_state_path("")))


def add_parser(sub) -> None:
    p = sub.add_parser("diagnose", help="why a turn was late: root causes of outlier wake events (causal model)",
                       description=__doc__)
    p.add_argument("source", nargs="?", metavar="JOURNAL_OR_REPORT",
                   help=f"a journal directory or file, or a `swivel run --report` JSON (default {DEFAULT_JOURNAL})")
    p.add_argument("--event", metavar="ID", help="explain this event (its id, or its index: -1 = the last)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                   help="what changed between two journals or reports (e.g. before and after an upgrade)")
    p.add_argument("--split", metavar="TIME",
                   help="what changed before and after TIME (unix seconds or ISO date-time) in one journal")
    p.set_defaults(func=run)


def _parse_time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise UserError(f"--split {text}: not a time (unix seconds or ISO, e.g. 2026-12-02T06:00)") from None


def run(args) -> int:
    from . import analysis
    from .journal import load_records
    if args.compare:
        out = analysis.compare(load_records(args.compare[0]), load_records(args.compare[1]))
    else:
        records = load_records(args.source or default_journal())
        if args.split:
            t = _parse_time(args.split)
            old = [r for r in records if r.get("wall", 0) < t]
            new = [r for r in records if r.get("wall", 0) >= t]
            out = analysis.compare(old, new)
        else:
            out = analysis.diagnose(records, args.event)
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
    else:
        for line in analysis.lines(out):
            print(line)
    return 0


