"""PrintFarm wire protocol shared by hub firmware (MicroPython) and cloud (CPython)."""

# Public API (names other parts import; keep them stable):
#   protocol.codec.packb(obj) / unpackb(data, max_size=MAX_HUB_FRAME, max_depth=MAX_DEPTH)
#   protocol.messages.validate(msg, direction=HUB_LINK), build(type, direction, **fields),
#       catalogue(direction), message_types(direction), the direction constants and value sets
#   protocol.auth.hub_mac(secret, nonce, hub_id, ts), verify_hub_mac(...), hmac_sha256(key, msg),
#       compare_digest(a, b)
#   protocol.limits.MAX_HUB_FRAME, MAX_DASHBOARD_FRAME, MAX_DEPTH
#   the errors below (protocol.errors also has CLOSE_BAD_DATA 1007 and CLOSE_TOO_BIG 1009)
from protocol.errors import (
    EncodeError,
    FrameTooLarge,
    InvalidMessage,
    MalformedFrame,
    ProtocolError,
)

__all__ = ["EncodeError", "FrameTooLarge", "InvalidMessage", "MalformedFrame", "ProtocolError"]
