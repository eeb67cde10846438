"""sd_notify without libsystemd: READY, WATCHDOG, STATUS and STOPPING datagrams to $NOTIFY_SOCKET."""
from __future__ import annotations

import os
import socket
from typing import Optional


class SystemdNotifier:
    """Does nothing when not run by systemd (no NOTIFY_SOCKET), so services run the same by hand."""

    def __init__(self) -> None:
        addr = os.environ.get("NOTIFY_SOCKET", "")
        self.addr: Optional[str] = ("\0" + addr[1:]) if addr.startswith("@") else (addr or None)
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        mine = pid is None or pid == str(os.getpid())
        # Ping at half the watchdog period, as systemd recommends.
        self.watchdog_period_s: Optional[float] = int(usec) / 2e6 if (usec and mine) else None

    @property
    def enabled(self) -> bool:
        return self.addr is not None

    def notify(self, state: str) -> bool:
        if not self.addr:
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(state.encode(), self.addr)
            except OSError:
                return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")
