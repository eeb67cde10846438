"""The native API's noise encryption, server side (ESPHome's Noise_NNpsk0_25519_ChaChaPoly_SHA256, the
`noiseprotocol` package aioesphomeapi itself uses): 0x01, 16-bit length, frame; after the hello and one
handshake round, each frame is ChaCha20-Poly1305 over (16-bit type, 16-bit length, payload)."""
from __future__ import annotations

import base64
from typing import Callable

from noise.connection import NoiseConnection

from . import frames

PROTOCOL = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
PROLOGUE = b"NoiseAPIInit\x00\x00"


class NoiseCodec:
    """feed(bytes) -> [(type, payload)]; encode(msg) -> bytes. Handshake replies go out through `write`.
    Raises frames.FrameError for anything that is not this protocol (the connection closes)."""

    def __init__(self, key_b64: str, node: str, max_message: int, write: Callable[[bytes], None]):
        self.node = node
        self.max_message = max_message
        self.write = write
        self.buf = bytearray()
        self.state = "hello"
        self.proto = NoiseConnection.from_name(PROTOCOL)
        self.proto.set_as_responder()
        self.proto.set_psks(base64.b64decode(key_b64))
        self.proto.set_prologue(PROLOGUE)
        self.proto.start_handshake()

    def _frame(self, payload: bytes) -> bytes:
        return bytes((0x01, len(payload) >> 8 & 0xFF, len(payload) & 0xFF)) + payload

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= 3:
            if self.buf[0] != 0x01:
                raise frames.FrameError(f"bad preamble 0x{self.buf[0]:02x} (a plaintext client; this device "
                                        "requires encryption)")
            n = self.buf[1] << 8 | self.buf[2]
            if n > self.max_message + 64:
                raise frames.FrameError(f"message of {n} bytes (at most {self.max_message})")
            if len(self.buf) < 3 + n:
                break
            frame = bytes(self.buf[3:3 + n])
            del self.buf[:3 + n]
            if self.state == "hello":
                self.write(self._frame(b"\x01" + self.node.encode() + b"\x00"))
                self.state = "handshake"
            elif self.state == "handshake":
                if not frame or frame[0] != 0:
                    raise frames.FrameError("handshake frame without its 0x00 marker")
                try:
                    self.proto.read_message(frame[1:])
                    reply = self.proto.write_message()
                except Exception:                      # a wrong key fails the handshake's MAC check
                    self.write(self._frame(b"\x01Handshake MAC failure"))
                    raise frames.FrameError("noise handshake failed (wrong encryption key)") from None
                self.write(self._frame(b"\x00" + reply))
                self.state = "ready"
            else:
                try:
                    msg = self.proto.decrypt(frame)
                except Exception:
                    raise frames.FrameError("frame does not decrypt") from None
                if len(msg) < 4:
                    raise frames.FrameError("decrypted message too short")
                out.append((msg[0] << 8 | msg[1], bytes(msg[4:])))
        return out

    def encode(self, msg) -> bytes:
        payload = msg.SerializeToString()
        t = frames.TYPE_OF[type(msg)]
        return self._frame(self.proto.encrypt(bytes((t >> 8, t & 0xFF, len(payload) >> 8 & 0xFF,
                                                     len(payload) & 0xFF)) + payload))
