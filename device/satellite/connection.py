"""One client of the ESPHome native API: hello, connect, device info, entities, states, commands, ping.

Bad input (a frame that is not one, an unknown message type, an oversized message, a payload that does not
decode, a request before hello) is counted and answered with a clean close of this connection alone.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import socket

from aioesphomeapi import api_pb2 as pb

from . import entities, frames

VERSION = (1, 10)                # the API version aioesphomeapi 29 speaks
VOICE_MESSAGES = (pb.SubscribeVoiceAssistantRequest, pb.VoiceAssistantResponse, pb.VoiceAssistantEventResponse,
                  pb.VoiceAssistantAudio, pb.VoiceAssistantTimerEventResponse, pb.VoiceAssistantAnnounceRequest,
                  pb.VoiceAssistantConfigurationRequest, pb.VoiceAssistantSetConfiguration)
COMMANDS = (pb.SwitchCommandRequest, pb.NumberCommandRequest, pb.ButtonCommandRequest)
# Requests Home Assistant makes of every ESPHome device that this one has nothing for: quietly ignored.
IGNORED = (pb.SubscribeHomeassistantServicesRequest, pb.SubscribeHomeAssistantStatesRequest,
           pb.SubscribeLogsRequest, pb.GetTimeResponse, pb.PingResponse, pb.HomeAssistantStateResponse,
           pb.SubscribeBluetoothLEAdvertisementsRequest, pb.UnsubscribeBluetoothLEAdvertisementsRequest,
           pb.SubscribeBluetoothConnectionsFreeRequest)
WRITE_BUFFER_LIMIT = 1 << 20     # a client that stops reading is dropped rather than grow our memory


def mac_address(node: str) -> str:
    """A stable, locally administered MAC for the node (Home Assistant keys the device by it)."""
    try:
        seed = open("/etc/machine-id").read().strip()
    except OSError:
        seed = socket.gethostname()
    h = hashlib.sha256(f"{seed}/{node}".encode()).digest()
    return ":".join(f"{b:02X}" for b in bytes([(h[0] & 0xFC) | 0x02]) + h[1:6])


class Connection:
    def __init__(self, svc, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.svc = svc
        self.reader, self.writer = reader, writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.frames = frames.FrameReader(svc.sc.max_message)
        self.noise = None
        if svc.sc.key:
            from .noise import NoiseCodec
            self.noise = NoiseCodec(svc.sc.key, svc.sc.name, svc.sc.max_message, writer.write)
            self.frames = self.noise
        self.hello = False
        self.authenticated = False
        self.states_subscribed = False
        self.api_audio = False
        self.closed = False

    def send(self, msg) -> None:
        if self.closed:
            return
        transport = self.writer.transport
        if transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            self.svc.count("slow_client")
            self.close("client does not read")
            return
        if self.noise is not None and self.noise.state != "ready":
            return                                   # nothing but the handshake before it is done
        self.writer.write(self.noise.encode(msg) if self.noise is not None else frames.encode(msg))

    def close(self, why: str, disconnect: bool = False) -> None:
        if self.closed:
            return
        if disconnect:
            try:
                self.send(pb.DisconnectRequest())
            except (OSError, RuntimeError):
                pass
        self.closed = True
        self.writer.close()
        self.svc.event("client closed", client=self.peer, why=why)

    def bad(self, what: str, why: str) -> None:
        """Count it, say so in the log, close this connection (no other client notices)."""
        self.svc.count(what)
        self.svc.event("bad input from a client", logging.WARNING, client=self.peer, kind=what, error=why[:200])
        self.close(why, disconnect=True)

    async def run(self) -> None:
        self.svc.event("client connected", client=self.peer)
        try:
            first = True
            while not self.closed:
                try:
                    timeout = self.svc.sc.handshake_timeout_s if not self.hello else None
                    data = await asyncio.wait_for(self.reader.read(65536), timeout)
                except asyncio.TimeoutError:
                    self.bad("handshake_timeout", "no hello in time")
                    break
                if not data:
                    if not self.closed:
                        self.closed = True
                        self.svc.event("client gone", client=self.peer)
                    break
                if first and data[:1] == b"\x01" and self.noise is None:
                    self.bad("encrypted_client", "client wants encryption, none is configured")
                    break
                first = False
                try:
                    got = self.frames.feed(data)
                    for mtype, payload in got:
                        msg = frames.decode(mtype, payload)
                        if msg is None:
                            self.bad("unknown_type", f"unknown message type {mtype}")
                            break
                        self.handle(msg)
                        if self.closed:
                            break
                except frames.FrameError as exc:
                    kind = "oversized" if "at most" in str(exc) else "malformed"
                    self.bad(kind, str(exc))
                    break
                if not self.closed:
                    await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            if not self.closed:
                self.svc.count("dropped_mid_stream")
                self.svc.event("client dropped", client=self.peer, error=str(exc)[:120])
        finally:
            self.closed = True
            try:
                self.writer.close()
            except RuntimeError:
                pass

    def handle(self, msg) -> None:
        svc, sc = self.svc, self.svc.sc
        if isinstance(msg, pb.HelloRequest):
            self.hello = True
            self.send(pb.HelloResponse(api_version_major=VERSION[0], api_version_minor=VERSION[1],
                                       server_info="swivel satellite", name=sc.name))
            return
        if not self.hello:
            self.bad("before_hello", f"{type(msg).__name__} before HelloRequest")
            return
        if isinstance(msg, pb.ConnectRequest):
            self.authenticated = True                # no password: the noise key (when set) is the secret
            self.send(pb.ConnectResponse(invalid_password=False))
        elif isinstance(msg, pb.DeviceInfoRequest):
            self.send(pb.DeviceInfoResponse(
                uses_password=False, name=sc.name, friendly_name=sc.friendly_name, mac_address=mac_address(sc.name),
                esphome_version="2025.2.0", model="Swivel", manufacturer="Swivel", project_name="swivel.satellite",
                project_version="1.0", voice_assistant_feature_flags=int(svc_features())))
        elif isinstance(msg, pb.PingRequest):
            self.send(pb.PingResponse())
        elif isinstance(msg, pb.DisconnectRequest):
            self.send(pb.DisconnectResponse())
            self.close("client said goodbye")
        elif isinstance(msg, pb.DisconnectResponse):
            self.close("disconnect acknowledged")
        elif not self.authenticated:
            self.bad("before_connect", f"{type(msg).__name__} before ConnectRequest")
        elif isinstance(msg, pb.ListEntitiesRequest):
            for m in entities.list_messages(sc.name):
                self.send(m)
            self.send(pb.ListEntitiesDoneResponse())
        elif isinstance(msg, pb.SubscribeStatesRequest):
            self.states_subscribed = True
            for m in svc.states.all_states():
                self.send(m)
        elif isinstance(msg, COMMANDS):
            svc._spawn(svc.command(self, msg))
        elif isinstance(msg, VOICE_MESSAGES):
            svc.on_voice_message(self, msg)
        elif isinstance(msg, IGNORED):
            pass
        else:
            svc.count("unsupported")
            svc.event("request this device does not serve: ignored", client=self.peer, message=type(msg).__name__)


def svc_features() -> int:
    from .service import FEATURES
    return int(FEATURES)
