"""The `swivel` command: run the device, run one service, and the offline tools of each subsystem."""
from __future__ import annotations

import argparse
import importlib
import re
import sys

from .errors import UserError

# Subsystems that add their own subcommands: module with add_parser(subparsers) setting `func`.
SUBCOMMAND_MODULES = ("device.ssl.cli", "device.vision.cli", "device.policy.cli", "device.bus.cli", "device.sim.cli",
                      "device.speaker.cli", "device.wake.cli", "device.policy.access_analyze",
                      "device.diagnose.cli", "device.health.cli")


# "-90:90" is a range of angles, not an option: argparse would otherwise refuse `--rom -90:90`.
_ANGLE_RANGE = re.compile(r"^-\d+(\.\d*)?:-?\d+(\.\d*)?$")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (like every other user mistake) and negative angle ranges as values."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")

    def _parse_optional(self, arg_string):
        if _ANGLE_RANGE.match(arg_string):
            return None
        return super()._parse_optional(arg_string)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="swivel", description=__doc__)
    parser.add_argument("--config", metavar="FILE", help="swivel.toml (built-in defaults when omitted)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from .services import ALL_SERVICES
    p = sub.add_parser("service", help="run one service (what each systemd unit starts)")
    p.add_argument("name", choices=sorted(ALL_SERVICES))
    p.set_defaults(func=_cmd_service)

    from .run import cli as run_cli
    run_cli.add_parser(sub)

    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:            # the module exists but is broken: say so loudly
                raise
            continue
        module.add_parser(sub)
    return parser


def _cmd_service(args) -> int:
    from .config import load_config
    from .services import run_service
    return run_service(args.name, load_config(args.config))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except UserError as exc:
        print(f"swivel: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
