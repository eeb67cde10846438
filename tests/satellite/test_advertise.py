"""The zeroconf advertisement: a real zeroconf browser on loopback finds `_esphomelib._tcp` with the configured
name and port and the TXT keys Home Assistant's ESPHome discovery reads."""
from __future__ import annotations

import asyncio

from zeroconf.asyncio import AsyncZeroconf

from device.satellite.advertise import SERVICE_TYPE, Advertisement
from device.satellite.config import SatelliteConfig

from .conftest import free_port


def test_a_zeroconf_browser_finds_the_satellite():
    port = free_port()
    sc = SatelliteConfig(host="127.0.0.1", port=port, name="swivel-kitchen", friendly_name="Kitchen swivel")
    events = []

    async def go():
        ad = Advertisement(sc, lambda msg, *a, **k: events.append((msg, k)), interfaces=["127.0.0.1"])
        await ad.start()
        zc = AsyncZeroconf(interfaces=["127.0.0.1"])
        try:
            return await zc.async_get_service_info(SERVICE_TYPE, f"swivel-kitchen.{SERVICE_TYPE}", 5000)
        finally:
            await zc.async_close()
            await ad.stop()
    info = asyncio.run(go())
    assert events and events[0][0] == "advertised", events
    assert info is not None and info.port == port and info.parsed_addresses() == ["127.0.0.1"]
    props = {k.decode(): v.decode() for k, v in info.properties.items()}
    assert props["friendly_name"] == "Kitchen swivel" and len(props["mac"]) == 12 and props["version"]
    assert "api_encryption" not in props                       # plain: no key configured
