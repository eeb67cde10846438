"""ESPHome native API framing (plaintext): 0x00, varint length, varint message type, protobuf payload.

The message classes and their type numbers are aioesphomeapi's own (`aioesphomeapi.core.MESSAGE_TYPE_TO_PROTO`,
generated from ESPHome's api.proto), so the server speaks exactly what Home Assistant's client expects.
"""
from __future__ import annotations

from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from google.protobuf.message import DecodeError, Message

TYPE_OF = {cls: n for n, cls in MESSAGE_TYPE_TO_PROTO.items()}


class FrameError(Exception):
    """The peer sent something that is not a frame of this protocol; the connection must close."""


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode(msg: Message) -> bytes:
    payload = msg.SerializeToString()
    return b"\x00" + varint(len(payload)) + varint(TYPE_OF[type(msg)]) + payload


def _read_varint(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """(value, next position), None when the buffer ends first; FrameError past 5 bytes (32 bits)."""
    value = shift = 0
    for i in range(pos, min(len(buf), pos + 5)):
        value |= (buf[i] & 0x7F) << shift
        if not buf[i] & 0x80:
            return value, i + 1
        shift += 7
    if len(buf) - pos >= 5:
        raise FrameError("varint longer than 5 bytes")
    return None


class FrameReader:
    """Feed bytes, get (type, payload) frames. Raises FrameError on a wrong preamble or an oversized frame."""

    def __init__(self, max_message: int):
        self.max_message = max_message
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out = []
        while self.buf:
            if self.buf[0] != 0x00:
                raise FrameError(f"bad preamble 0x{self.buf[0]:02x} (0x01 would be an encrypted client)")
            got = _read_varint(self.buf, 1)
            if got is None:
                break
            length, pos = got
            if length > self.max_message:
                raise FrameError(f"message of {length} bytes (at most {self.max_message})")
            got = _read_varint(self.buf, pos)
            if got is None:
                break
            mtype, pos = got
            if len(self.buf) < pos + length:
                break
            out.append((mtype, bytes(self.buf[pos:pos + length])))
            del self.buf[:pos + length]
        return out


def decode(mtype: int, payload: bytes) -> Message | None:
    """The message, or None for a type this protocol does not define; FrameError if the payload does not parse."""
    cls = MESSAGE_TYPE_TO_PROTO.get(mtype)
    if cls is None:
        return None
    msg = cls()
    try:
        msg.ParseFromString(payload)
    except DecodeError as exc:
        raise FrameError(f"{cls.__name__} does not decode: {exc}") from None
    return msg
