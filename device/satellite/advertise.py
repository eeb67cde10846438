"""zeroconf advertisement of the satellite as an ESPHome device (`_esphomelib._tcp`), as Home Assistant looks for."""
from __future__ import annotations

import logging
import socket

from .connection import mac_address

SERVICE_TYPE = "_esphomelib._tcp.local."


def service_info(sc, addresses: list[str]):
    from zeroconf import ServiceInfo
    props = {"version": "2025.2.0", "mac": mac_address(sc.name).replace(":", "").lower(), "platform": "linux",
             "board": "swivel", "network": "ethernet", "friendly_name": sc.friendly_name,
             "api_encryption": "Noise_NNpsk0_25519_ChaChaPoly_SHA256" if sc.key else None}
    return ServiceInfo(SERVICE_TYPE, f"{sc.name}.{SERVICE_TYPE}", port=sc.port,
                       properties={k: v for k, v in props.items() if v is not None},
                       server=f"{sc.name}.local.", parsed_addresses=addresses)


def _addresses(host: str) -> list[str]:
    if host not in ("0.0.0.0", "", "::"):
        return [host]
    try:                                         # the address other machines reach us on (no packet is sent)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            return [s.getsockname()[0]]
    except OSError:
        return ["127.0.0.1"]


class Advertisement:
    """Registers the service at start and withdraws it at stop; a network without multicast only logs."""

    def __init__(self, sc, event, interfaces=None):
        self.sc, self.event = sc, event
        self.interfaces = interfaces
        self.zc = None
        self.info = None
        self.ok = False

    async def start(self) -> None:
        from zeroconf import InterfaceChoice
        from zeroconf.asyncio import AsyncZeroconf
        addresses = _addresses(self.sc.host)
        try:
            self.zc = AsyncZeroconf(interfaces=self.interfaces or
                                    (addresses if addresses != ["127.0.0.1"] else InterfaceChoice.All))
            self.info = service_info(self.sc, addresses)
            await self.zc.async_register_service(self.info, allow_name_change=True)
            self.ok = True
            self.event("advertised", service=self.info.name, addresses=addresses, port=self.sc.port)
        except (OSError, Exception) as exc:          # zeroconf raises its own errors too: never fatal
            self.event("zeroconf advertisement failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}"[:200])
            await self.stop()

    async def stop(self) -> None:
        if self.zc is None:
            return
        try:
            if self.ok and self.info is not None:
                await self.zc.async_unregister_service(self.info)
            await self.zc.async_close()
        except Exception:
            pass
        self.zc = None
        self.ok = False
