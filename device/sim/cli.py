"""`swivel sim event KIND`: make something happen now in a running simulated room (unplug the camera, push the screen)."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .scenario import EVENT_KINDS


def add_parser(sub) -> None:
    p = sub.add_parser("sim", help="act on a running simulated room (swivel run)")
    ssub = p.add_subparsers(dest="sim_command", required=True, metavar="ACTION")
    e = ssub.add_parser("event", help="apply one scenario event now")
    e.add_argument("kind", choices=EVENT_KINDS)
    e.add_argument("--runtime-dir", required=True, metavar="DIR",
                   help="the run's bus directory (the live view shows it)")
    e.add_argument("--azimuth-deg", type=float, help="obstacle: where it stands (world azimuth)")
    e.add_argument("--delta-deg", type=float, help="hand_push: how far the hand turns the screen")
    e.add_argument("--duration-s", type=float, help="hand_push: over how long")
    e.add_argument("--level", type=float, help="lights: 1.0 is normal")
    e.set_defaults(func=_cmd_event)


def _cmd_event(args) -> int:
    import msgspec

    from .control import INBOX, send_event
    rdir = Path(args.runtime_dir)
    if not (rdir / INBOX).exists():
        raise UserError(f"no simulated world is running in {rdir} (no {INBOX} there)")
    fields = {k: v for k, v in (("azimuth_deg", args.azimuth_deg), ("delta_deg", args.delta_deg),
                                ("duration_s", args.duration_s), ("level", args.level)) if v is not None}
    if args.kind == "obstacle" and "azimuth_deg" not in fields:
        raise UserError("obstacle needs --azimuth-deg")
    if args.kind == "hand_push" and "delta_deg" not in fields:
        raise UserError("hand_push needs --delta-deg")
    try:
        send_event(rdir, args.kind, **fields)
    except msgspec.ValidationError as exc:
        raise UserError(f"event {args.kind}: {exc}") from None
    print(f"sent {args.kind} to the world in {rdir}")
    return 0
