"""`swivel health ...`: record the reference sweep, acknowledge "needs attention", show the state and the stored reference."""
from __future__ import annotations

import argparse
import json
import sys
import time

import msgspec

from ..errors import UserError

HELP = """examples:
  swivel health sweep        record the turntable's reference: a calm sweep over the range of motion (it moves)
  swivel health ack          the owner saw "needs attention": the device stops moving gently (until it gets worse)
  swivel health status       what the health service says now (health.state)
  swivel health reference    the stored reference signature (--file FILE for another one)

exit status: 0 done; 1 refused or denied (the reason is printed); 2 usage error, no service, or a bad file
"""


def add_parser(sub) -> None:
    p = sub.add_parser("health", help="turntable health: reference sweep, acknowledge, status",
                       description=__doc__, epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runtime-dir", metavar="DIR", help="bus directory (default: as the services resolve it)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--timeout", type=float, default=2.0, metavar="S", help="reply timeout (default 2 s)")
    a = p.add_subparsers(dest="health_op", required=True, metavar="OP")
    a.add_parser("sweep", help="record the reference: a calm sweep over the range of motion (through the policy)")
    a.add_parser("ack", help="acknowledge 'needs attention' (ends gentle motion)")
    a.add_parser("status", help="print health.state")
    r = a.add_parser("reference", help="print the stored reference signature")
    r.add_argument("--file", metavar="FILE", help="this reference file instead of the configured one")
    p.set_defaults(func=_cmd_health)


def _cmd_health(args) -> int:
    from ..bus.endpoints import resolve_runtime_dir
    op = args.health_op
    if op == "reference":
        return _show_reference(args)
    runtime_dir = resolve_runtime_dir(args.runtime_dir or "")
    if op == "status":
        return _show_status(runtime_dir, args)
    from ..bus.rpc import RpcClient
    from ..bus.schemas import MotionRequest
    client = RpcClient(runtime_dir, timeout_s=args.timeout)
    try:
        reply = client.call(MotionRequest(op="health_sweep" if op == "sweep" else "health_ack"))
    except (ConnectionError, TimeoutError) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(msgspec.to_builtins(reply)))
    elif not reply.ok:
        print(f"swivel health: {reply.error}", file=sys.stderr)
    else:
        print("sweeping: the reference is recorded when it ends (swivel health status)" if op == "sweep"
              else "acknowledged: the device moves at its usual acceleration again")
    return 0 if reply.ok else 1


def _show_status(runtime_dir, args) -> int:
    from ..bus.pubsub import Subscriber
    sub = Subscriber(runtime_dir).subscribe("health", "health.state")
    try:
        deadline = time.monotonic() + max(args.timeout, 1.5)       # republished every 0.5 s
        while time.monotonic() < deadline:
            for name, msg in sub.poll(100):
                if name == "health.state":
                    print(json.dumps(msgspec.to_builtins(msg)) if args.json else describe(msg))
                    return 0
    finally:
        sub.close()
    raise UserError(f"no health.state on {runtime_dir} within {max(args.timeout, 1.5):g} s (is the health service running?)")


def describe(st) -> str:
    head = {"no_reference": "no reference yet (swivel health sweep records one)", "sweeping": "recording the reference",
            "learning": "comparing its first moves with the reference", "ok": "like its reference",
            "attention": "NEEDS ATTENTION"}.get(st.status, st.status)
    lines = [f"turntable: {head}"]
    if st.needs_attention:
        where = f" at {st.angle_deg:.0f} deg" if st.angle_deg is not None else ""
        lines.append(f"probable kind: {st.kind}{where}; "
                     + ("acknowledged" if st.acknowledged else "moving gently until acknowledged (swivel health ack)"))
    if st.ratios:
        lines.append("statistic / threshold: " + ", ".join(f"{r.kind} {r.ratio:.2f}" for r in st.ratios))
    low = [s for s in st.sectors if s.score < 0.75]
    if low:
        lines.append("sectors below par: " + ", ".join(f"{s.centre_deg:.0f} deg {s.score:.2f}" for s in low))
    lines.append(f"{st.moves} routine moves compared; reference of {st.reference_moves} sweep moves")
    if st.note:
        lines.append(f"note: {st.note}")
    return "\n".join(lines)


def _show_reference(args) -> int:
    from pathlib import Path

    from . import reference
    if args.file:
        path = Path(args.file).expanduser()
    else:
        from ..config import load_config
        from .service import resolve_reference_path
        path = resolve_reference_path(load_config(getattr(args, "config", None)).health)
    ref = reference.load(path)           # a bad file: ReferenceError, one line
    if ref is None:
        raise UserError(f"no turntable health reference at {path} (swivel health sweep records one)")
    if args.json:
        print(json.dumps(msgspec.to_builtins(ref)))
    else:
        print(f"{path}: {ref.moves} sweep moves over {ref.rom_min_deg:g}..{ref.rom_max_deg:g} deg at "
              f"{ref.sweep_speed_dps:g} deg/s; lag {ref.lag_up_deg:+.2f} / {ref.lag_down_deg:+.2f} deg (ccw / cw), "
              f"rest error {ref.rest_err_deg:+.2f} deg, backlash {ref.backlash_deg:.2f} deg, settling {ref.settle_ms:.0f} ms")
    return 0
