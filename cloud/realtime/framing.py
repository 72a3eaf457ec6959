"""Frame encoding for both sockets: msgpack for hubs, msgpack or JSON (by subprotocol) for dashboards."""

import json

from protocol.codec import packb, unpackb
from protocol.errors import CLOSE_BAD_DATA, CLOSE_TOO_BIG, FrameTooLarge, ProtocolError
from protocol.limits import MAX_DASHBOARD_FRAME, MAX_HUB_FRAME
from protocol.messages import (
    CLOUD_TO_HUB,
    DASHBOARD_TO_SERVER,
    HUB_TO_CLOUD,
    validate,
)

# Application close codes (RFC 6455 reserves 4000-4999 for applications).
CLOSE_UNAUTHORIZED = 4401  # refused authentication (hub hello or dashboard auth)
CLOSE_LAGGING = 4408  # dashboard fell too far behind and was dropped
CLOSE_REPLACED = 4409  # the same hub connected again (here or in another process)
CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL = 1011

SUBPROTOCOL_MSGPACK = "printfarm.msgpack"
SUBPROTOCOL_JSON = "printfarm.json"
DASHBOARD_SUBPROTOCOLS = (SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON)

__all__ = [
    "CLOSE_BAD_DATA",
    "CLOSE_TOO_BIG",
    "MAX_DASHBOARD_FRAME",
    "MAX_HUB_FRAME",
    "ProtocolError",
    "close_reason",
    "decode_dashboard_frame",
    "decode_hub_frame",
    "encode_hub_message",
    "OutboundMessage",
]


def decode_hub_frame(data: bytes) -> dict:
    """One validated hub -> cloud message from a binary frame, else ProtocolError."""
    return validate(unpackb(data, max_size=MAX_HUB_FRAME), HUB_TO_CLOUD)


def encode_hub_message(message: dict, check: bool = True) -> bytes:
    """msgpack bytes of a cloud -> hub message (validated against the catalogue by default)."""
    if check:
        validate(message, CLOUD_TO_HUB)
    return packb(message)


def decode_dashboard_frame(data, use_json: bool) -> dict:
    """One validated dashboard -> server message from a text (JSON) or binary (msgpack) frame."""
    if use_json:
        if not isinstance(data, str):
            raise ProtocolError("JSON subprotocol expects text frames")
        if len(data) > MAX_DASHBOARD_FRAME:
            raise FrameTooLarge(f"frame of {len(data)} bytes exceeds {MAX_DASHBOARD_FRAME}")
        try:
            message = json.loads(data)
        except ValueError as exc:
            raise ProtocolError("invalid JSON: " + str(exc)) from None
    else:
        if not isinstance(data, bytes | bytearray):
            raise ProtocolError("msgpack subprotocol expects binary frames")
        message = unpackb(data, max_size=MAX_DASHBOARD_FRAME)
    return validate(message, DASHBOARD_TO_SERVER)


def close_reason(text: str) -> bytes:
    """A close reason cut to the 123 bytes a close frame can carry."""
    return text.encode("utf-8")[:123]


class OutboundMessage:
    """A server -> dashboard message encoded at most once per encoding, whatever the audience."""

    __slots__ = ("data", "_msgpack", "_json", "_frames")

    def __init__(self, data: dict):
        self.data = data
        self._msgpack = None
        self._json = None
        self._frames = [None, None]  # complete WebSocket frames: [msgpack, json]

    @property
    def type(self) -> str:
        """The message's `type`."""
        return self.data["type"]

    def as_msgpack(self) -> bytes:
        """msgpack bytes (cached)."""
        if self._msgpack is None:
            self._msgpack = packb(self.data)
        return self._msgpack

    def as_json(self) -> str:
        """Compact JSON text (cached); bytes values become hex strings."""
        if self._json is None:
            self._json = json.dumps(self.data, separators=(",", ":"), default=_json_default)
        return self._json

    def frame(self, use_json: bool) -> bytes:
        """The whole server WebSocket frame (RFC 6455: FIN, unmasked), cached per encoding, so
        a writer can hand many frames to the transport in one write."""
        index = 1 if use_json else 0
        frame = self._frames[index]
        if frame is None:
            if use_json:
                frame = websocket_frame(OPCODE_TEXT, self.as_json().encode("utf-8"))
            else:
                frame = websocket_frame(OPCODE_BINARY, self.as_msgpack())
            self._frames[index] = frame
        return frame


OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2


def websocket_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked server frame (RFC 6455 section 5.2) carrying `payload`."""
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big")
    return header + payload


def _json_default(value):
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
