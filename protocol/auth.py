"""HMAC-SHA256 on both runtimes and the hub authentication MAC of docs/protocol.md."""

import hashlib

try:
    import hmac as _hmac
except ImportError:  # MicroPython has no hmac module: HMAC (RFC 2104) is built below.
    _hmac = None

_BLOCK_SIZE = 64  # SHA-256 block size in bytes (RFC 2104 "B")
MAC_SIZE = 32  # SHA-256 digest size in bytes
# XOR tables for the inner/outer pads: 256 bytes each, built once (cheaper than per-call loops).
_IPAD = bytes((x ^ 0x36) for x in range(256))
_OPAD = bytes((x ^ 0x5C) for x in range(256))


def _as_bytes(value, what):
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(what + " must be bytes or str")


def _pure_hmac_sha256(key, msg):
    if len(key) > _BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    key = key + bytes(_BLOCK_SIZE - len(key))
    inner = hashlib.sha256(bytes(_IPAD[k] for k in key))
    inner.update(msg)
    outer = hashlib.sha256(bytes(_OPAD[k] for k in key))
    outer.update(inner.digest())
    return outer.digest()


def hmac_sha256(key, msg):
    """HMAC-SHA256 of `msg` under `key` (bytes or str, str taken as UTF-8): 32 bytes."""
    key = _as_bytes(key, "key")
    msg = _as_bytes(msg, "msg")
    if _hmac is not None:
        return _hmac.digest(key, msg, "sha256")
    return _pure_hmac_sha256(key, msg)


def hub_mac_input(nonce, hub_id, ts):
    """The bytes the hub MACs: nonce + 0x00 + hub_id (UTF-8) + 0x00 + decimal ts (ASCII)."""
    if type(ts) is not int:
        raise TypeError("ts must be int epoch milliseconds")
    return _as_bytes(nonce, "nonce") + b"\x00" + hub_id.encode("utf-8") + b"\x00" + str(ts).encode()


def hub_mac(secret, nonce, hub_id, ts):
    """`hub_hello.mac`: HMAC-SHA256(factory secret, nonce, hub_id, ts) per docs/protocol.md."""
    return hmac_sha256(secret, hub_mac_input(nonce, hub_id, ts))


def compare_digest(a, b):
    """Constant-time equality of two byte strings (time depends only on the lengths)."""
    a = _as_bytes(a, "a")
    b = _as_bytes(b, "b")
    if _hmac is not None:
        return _hmac.compare_digest(a, b)
    return _pure_compare_digest(a, b)


def _pure_compare_digest(a, b):
    diff = len(a) ^ len(b)
    # Always walk the expected length so a wrong-length MAC takes as long as a wrong MAC.
    for i in range(len(b)):
        diff |= (a[i] if i < len(a) else 0) ^ b[i]
    return diff == 0


def verify_hub_mac(secret, nonce, hub_id, ts, mac):
    """True if `mac` is the hub's correct MAC for this nonce, id and timestamp."""
    return compare_digest(mac, hub_mac(secret, nonce, hub_id, ts))
