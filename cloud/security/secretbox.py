"""AES-256-GCM for secrets stored in the database (printer access codes, integration secrets)."""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION_PREFIX = "v1:"
NONCE_BYTES = 12  # GCM's standard 96-bit nonce, random per message


class SecretBoxError(ValueError):
    """Ciphertext that is corrupt, truncated, or bound to other associated data."""


class SecretBox:
    """Encrypt/decrypt short text secrets; `context` (associated data) binds a ciphertext to its
    row so a value copied into another tenant's or another printer's row does not decrypt."""

    def __init__(self, key: bytes):
        if len(key) < 32:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._aead = AESGCM(key[:32])

    def encrypt(self, plaintext: str, context: str) -> str:
        """`v1:` + base64(nonce || ciphertext || tag)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return VERSION_PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, context: str) -> str:
        """The plaintext, or SecretBoxError if the token was tampered with or moved."""
        if not token or not token.startswith(VERSION_PREFIX):
            raise SecretBoxError("not a v1 secretbox value")
        try:
            raw = base64.b64decode(token[len(VERSION_PREFIX) :], validate=True)
            return self._aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()
            ).decode()
        except (InvalidTag, ValueError) as exc:
            raise SecretBoxError("secret does not decrypt (corrupt or bound elsewhere)") from exc
