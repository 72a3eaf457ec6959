"""PrintFarm wire protocol shared by hub firmware (MicroPython) and cloud (CPython)."""

from protocol.errors import (
    EncodeError,
    FrameTooLarge,
    InvalidMessage,
    MalformedFrame,
    ProtocolError,
)

__all__ = ["EncodeError", "FrameTooLarge", "InvalidMessage", "MalformedFrame", "ProtocolError"]
