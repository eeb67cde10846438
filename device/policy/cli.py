"""`swivel motion ...`: the command-line client of the motion API (turn, follow, pan, stop, rom, state, away)."""
from __future__ import annotations

import argparse
import json
import sys

import msgspec

from ..errors import UserError

HELP = """examples:
  swivel motion turn 30          face world azimuth 30 deg (0 = home, counter-clockwise positive)
  swivel motion follow on|off    follow people (sound and sight) or not
  swivel motion pan              sweep once across the range of motion
  swivel motion stop             stop now (autonomous motion waits a while)
  swivel motion rom -60:60       set the range of motion by angles
  swivel motion rom start        set it by hand: the motor lets go; turn to each end, then
  swivel motion rom done         (optionally 'rom min' / 'rom max' at each end; 'rom cancel')
  swivel motion state            what the policy is doing and why
  swivel motion away on|off      away mode: periodic pans, alerts when someone is seen

exit status: 0 done; 1 refused or denied (the reason is printed); 2 usage error or no policy service
"""


def add_parser(sub) -> None:
    p = sub.add_parser("motion", help="the motion API: turn, follow, pan, stop, rom, state, away",
                       description=__doc__, epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runtime-dir", metavar="DIR", help="bus directory (default: as the services resolve it)")
    p.add_argument("--json", action="store_true", help="print the reply as JSON")
    p.add_argument("--timeout", type=float, default=2.0, metavar="S", help="reply timeout (default 2 s)")
    a = p.add_subparsers(dest="motion_op", required=True, metavar="OP")
    t = a.add_parser("turn", help="turn to a world azimuth (degrees)")
    t.add_argument("angle", type=_angle)
    for name, what in (("follow", "follow people"), ("away", "away mode")):
        f = a.add_parser(name, help=f"{what} on or off")
        f.add_argument("switch", choices=["on", "off"])
    a.add_parser("pan", help="sweep once across the range of motion")
    a.add_parser("stop", help="stop moving now")
    a.add_parser("state", help="print the policy state")
    # '+' prefix: "-60:60" must reach this parser as a value, not be taken for an option.
    r = a.add_parser("rom", prefix_chars="+", add_help=False,
                     help="range of motion: MIN:MAX in degrees, or start|min|max|done|cancel to set it by hand")
    r.add_argument("what")
    p.set_defaults(func=_cmd_motion)


def _angle(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an angle in degrees: {text!r}") from None
    if value != value or abs(value) == float("inf"):
        raise argparse.ArgumentTypeError(f"not an angle in degrees: {text!r}")
    return value


def build_request(args):
    from ..bus.schemas import MotionRequest
    op = args.motion_op
    if op == "turn":
        return MotionRequest(op="turn", angle_deg=args.angle)
    if op in ("follow", "away"):
        return MotionRequest(op=op, enabled=args.switch == "on")
    if op in ("pan", "stop"):
        return MotionRequest(op=op)
    if op == "state":
        return MotionRequest(op="get_state")
    what = args.what.strip()
    if what in ("start", "min", "max", "done", "cancel"):
        return MotionRequest(op="set_rom", rom_step=what)
    lo, sep, hi = what.partition(":")
    try:
        lo_f, hi_f = _angle(lo), _angle(hi)
    except argparse.ArgumentTypeError:
        sep = ""
    if not sep:
        raise UserError(f"rom: expected MIN:MAX in degrees (e.g. -60:60) or start|min|max|done|cancel, not {what!r}")
    return MotionRequest(op="set_rom", min_deg=lo_f, max_deg=hi_f)


def describe(state) -> str:
    lines = [f"mode {state.mode}, heading {_deg(state.heading_deg)}, range {state.rom_min_deg:g}..{state.rom_max_deg:g} deg"
             f" ({state.rom_source or '?'}), follow {'on' if state.follow else 'off'}, away {'on' if state.away else 'off'}"
             f"{', muted' if state.muted else ''}{', shutter closed' if state.shutter_closed else ''}"]
    if state.target_deg is not None:
        lines.append(f"target {_deg(state.target_deg)} from {state.target_source or '?'}"
                     f"{', ' + state.zone + ' zone' if state.zone else ''}")
    lines.append(f"decision: {state.decision}")
    for name, reason in zip(state.holds, state.hold_reasons or [""] * len(state.holds)):
        lines.append(f"hold {name}: {reason}")
    for note in state.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _deg(v) -> str:
    return "?" if v is None else f"{v:.1f} deg"


def _cmd_motion(args) -> int:
    from ..bus.endpoints import resolve_runtime_dir
    from ..bus.rpc import RpcClient
    req = build_request(args)
    client = RpcClient(resolve_runtime_dir(args.runtime_dir or ""), timeout_s=args.timeout)
    try:
        reply = client.call(req)
    except (ConnectionError, TimeoutError) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(msgspec.to_builtins(reply)))
    else:
        if not reply.ok:
            print(f"swivel motion: {reply.error}", file=sys.stderr)
        if reply.state is not None and (reply.ok or args.motion_op == "state"):
            print(describe(reply.state))
    return 0 if reply.ok else 1
