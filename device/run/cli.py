"""`swivel run`: the whole device against the simulated world, with a live view or a headless report."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run the four services against the simulated world")
    p.add_argument("--scenario", metavar="FILE", help="scenario TOML (default: scenarios/default.toml)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of scenario time")
    p.add_argument("--report", metavar="FILE", help="write the run report (JSON) here")
    p.add_argument("--headless", action="store_true", help="no live view (implied by --report)")
    p.add_argument("--runtime-dir", metavar="DIR", help="where the bus sockets go (default: a fresh temp dir)")
    p.add_argument("--web-port", type=int, metavar="PORT",
                   help="the web app's port on 127.0.0.1 (default: web.port of the config, 8080; 0 = no web app)")
    p.add_argument("--satellite-port", type=int, metavar="PORT",
                   help="the Home Assistant satellite's port on 127.0.0.1 (default: satellite.port of the config, "
                        "6053; 0 = none)")
    p.set_defaults(func=_cmd_run)


def _cmd_run(args) -> int:
    from .launcher import run_from_args
    return run_from_args(args)
