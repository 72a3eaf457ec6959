"""What a release signature covers, and the check every update offer passes before any download.

The release signer signs, with Ed25519, the bytes of signed_message(kind, version, size,
sha256): b"printfarm-update\\x00" kind \\x00 version \\x00 size-in-decimal \\x00 raw SHA-256.
Binding kind, version and size (not just the hash) stops an old or wrong-kind image with a
valid signature from being replayed as something else.
"""

import binascii

from device import ed25519

DOMAIN = b"printfarm-update\x00"
KINDS = ("firmware", "app")


class UpdateRefused(Exception):
    """An update that must not be applied; code is a command_ack error code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def signed_message(kind, version, size, sha256_hex):
    """The exact bytes the release key signs for one update."""
    digest = binascii.unhexlify(sha256_hex)
    return (
        DOMAIN
        + kind.encode()
        + b"\x00"
        + version.encode()
        + b"\x00"
        + str(size).encode()
        + b"\x00"
        + digest
    )


def release_key():
    """The baked-in release public key (b"" if this build has none)."""
    try:
        from release_key import PUBLIC_KEY
    except ImportError:
        return b""
    return PUBLIC_KEY


def check_offer(offer, kind, max_size, public_key=None):
    """Validate an ota_update offer's fields and signature; raise UpdateRefused if it fails."""
    for name, types in (("version", str), ("url", str), ("size", int), ("sha256", str)):
        if not isinstance(offer.get(name), types):
            raise UpdateRefused("bad_command", "ota_update: %s missing or wrong type" % name)
    if offer.get("kind") != kind:
        raise UpdateRefused("bad_command", "ota_update: kind must be %s" % kind)
    size = offer["size"]
    if size <= 0 or size > max_size:
        raise UpdateRefused("bad_command", "ota_update: size %d not in 1..%d" % (size, max_size))
    sha = offer["sha256"].lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise UpdateRefused("bad_command", "ota_update: sha256 must be 64 hex digits")
    signature = offer.get("signature")
    if not isinstance(signature, (bytes, bytearray)) or len(signature) != 64:
        raise UpdateRefused("bad_command", "ota_update: signature must be 64 bytes")
    key = release_key() if public_key is None else public_key
    if len(key) != 32:
        raise UpdateRefused("bad_command", "this build has no release key; updates are refused")
    if not ed25519.verify(key, signed_message(kind, offer["version"], size, sha), signature):
        raise UpdateRefused("bad_command", "ota_update: release signature does not verify")
    return sha
