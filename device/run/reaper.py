"""Keeps a run's processes from outliving it: children die with their parent, and a reaper cleans up after a killed launcher.

Two mechanisms, because each one alone leaves a hole:
- `die_with_parent()` (PR_SET_PDEATHSIG) makes the kernel signal a child when the thread that started it ends,
  even when its parent was SIGKILLed and ran no code at all. It does not reach a process that changed parents
  or was started by a child that already exited.
- The reaper is a small process that leads the process group every child of the run joins, and whose stdin is a
  pipe from the launcher. The launcher writes "done" after it stopped the stack in order; end of file without
  "done" means the launcher died. Either way the reaper then terminates whatever is left of the run (the process
  group, plus any process carrying the run's SWIVEL_RUN_ID), and after a death also removes the runtime
  directory the launcher made, which a killed launcher cannot do itself.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

RUN_ID_ENV = "SWIVEL_RUN_ID"      # set on every process of a run: how a leftover is recognised
PR_SET_PDEATHSIG = 1
# Loaded in the parent: a forked child only calls into it (no dlopen between fork and exec).
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent(sig: int = signal.SIGTERM):
    """A preexec_fn: the child receives `sig` when the parent thread that starts it ends (SIGKILL included).

    The signal is tied to the starting thread, not the process, so start long-lived children from a thread
    that outlives them (the main thread). SIGTERM lets a service run its teardown; the reaper escalates.
    """
    parent = os.getpid()

    def preexec() -> None:
        _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:     # the parent died before prctl: no signal would ever come
            os._exit(1)
    return preexec


def members(pgid: int, run_id: str) -> list[int]:
    """Live processes of the run other than this one: in process group pgid, or carrying RUN_ID_ENV=run_id."""
    me, marker = os.getpid(), f"{RUN_ID_ENV}={run_id}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            stat = Path(entry.path, "stat").read_bytes()
            fields = stat[stat.rindex(b")") + 2:].split()       # after "pid (comm) ": state, ppid, pgrp, ...
            if fields[0] == b"Z":
                continue                                       # exited, only waiting to be reaped
            if int(fields[2]) == pgid or marker in Path(entry.path, "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue                                           # gone meanwhile, or not ours to read
    return found


def terminate(pgid: int, run_id: str, grace_s: float) -> int:
    """SIGTERM what is left of the run, SIGKILL what is still there after grace_s; returns how many were found."""
    left = members(pgid, run_id)
    found = len(left)
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        for pid in left:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        end = time.monotonic() + wait_s
        while left and time.monotonic() < end:
            time.sleep(0.05)
            left = members(pgid, run_id)
        if not left:
            break
    return found


class Reaper:
    """The launcher's handle on its reaper process: start it before any child, finish() after the ordered stop."""

    def __init__(self, runtime_dir: Path, run_id: str, remove_dir: bool, env: dict[str, str]):
        argv = [sys.executable, "-m", "device.run.reaper", "--run-id", run_id, "--runtime-dir", str(runtime_dir)]
        if remove_dir:
            argv.append("--remove-dir")
        # process_group=0: the reaper leads a new group, so its id stays valid while any child of the run lives.
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     env=env, process_group=0)
        self.pgid = self.proc.pid

    def finish(self, timeout_s: float = 10.0) -> None:
        """Tell it the stack was stopped in order; it terminates stragglers and exits without touching the dir."""
        try:
            self.proc.stdin.write(b"done\n")
            self.proc.stdin.close()
        except OSError:
            pass                       # it is gone: the wait below returns at once
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="swivel-reaper", description=__doc__.splitlines()[0])
    ap.add_argument("--run-id", required=True)
    ap.add_argument("--runtime-dir", required=True)
    ap.add_argument("--remove-dir", action="store_true", help="remove the runtime dir if the launcher dies")
    args = ap.parse_args(argv)
    # The signals that stop a run are the launcher's to act on; the reaper must outlast them to clean up.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    pgid = os.getpgrp()
    words = sys.stdin.buffer.read().split()          # blocks until the launcher closes the pipe or dies
    orderly = b"done" in words
    # After an orderly stop anything left is a straggler; after a death the services get time for teardown.
    terminate(pgid, args.run_id, grace_s=1.0 if orderly else 10.0)
    if not orderly and args.remove_dir:
        shutil.rmtree(args.runtime_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
