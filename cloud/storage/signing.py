"""Signed expiring download URLs: HMAC-SHA256 over method, key and expiry, checked in constant time."""

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from cloud.models.base import now_ms
from cloud.storage.base import check_key

# Path under which signed objects are served (cloud/api/files.py mounts the handler here).
SIGNED_PATH_PREFIX = "/storage/"
DEFAULT_TTL_MS = 15 * 60 * 1000  # long enough for a hub to fetch a large file over slow WiFi
MAX_TTL_MS = 7 * 24 * 3600 * 1000


class SignatureInvalid(Exception):
    """The URL's signature is wrong, malformed or expired."""


@dataclass(frozen=True)
class SignedUrl:
    """A signed path (relative to the public URL) and its expiry in epoch milliseconds."""

    path: str
    expires_at: int

    def absolute(self, public_url: str) -> str:
        """The full URL under the cloud's public base URL."""
        return public_url.rstrip("/") + self.path


class UrlSigner:
    """Signs and verifies storage URLs with one secret key (the config's storage signing key)."""

    def __init__(self, secret: bytes):
        if len(secret) < 32:
            raise ValueError("the URL signing key must be at least 32 bytes")
        self._secret = bytes(secret)

    def signature(self, method: str, key: str, expires_at: int) -> str:
        """Hex HMAC-SHA256 of 'METHOD\\nkey\\nexpires_at'."""
        message = f"{method.upper()}\n{key}\n{int(expires_at)}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(
        self, key: str, *, ttl_ms: int = DEFAULT_TTL_MS, method: str = "GET", now: int | None = None
    ) -> SignedUrl:
        """A URL that allows `method` on `key` until now + ttl_ms."""
        check_key(key)
        if not 0 < ttl_ms <= MAX_TTL_MS:
            raise ValueError(f"ttl_ms must be in (0, {MAX_TTL_MS}]")
        expires_at = (now_ms() if now is None else now) + ttl_ms
        sig = self.signature(method, key, expires_at)
        path = f"{SIGNED_PATH_PREFIX}{quote(key)}?expires={expires_at}&signature={sig}"
        return SignedUrl(path=path, expires_at=expires_at)

    def verify(
        self,
        method: str,
        key: str,
        expires: str | None,
        signature: str | None,
        now: int | None = None,
    ) -> None:
        """Raise SignatureInvalid unless the signature matches and has not expired.

        HEAD is verified as GET so a hub can probe the size before a ranged download.
        """
        if not expires or not signature:
            raise SignatureInvalid("missing expires or signature")
        try:
            expires_at = int(expires)
            check_key(key)
        except ValueError:
            raise SignatureInvalid("malformed expires or key") from None
        signed_method = "GET" if method.upper() == "HEAD" else method.upper()
        expected = self.signature(signed_method, key, expires_at)
        # Compare before looking at the expiry so timing reveals nothing about the signature.
        valid = hmac.compare_digest(expected.encode(), signature.lower().encode("ascii", "replace"))
        if not valid:
            raise SignatureInvalid("signature does not match")
        if (now_ms() if now is None else now) >= expires_at:
            raise SignatureInvalid("URL expired")
