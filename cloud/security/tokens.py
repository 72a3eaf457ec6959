"""Access tokens (JWT HS256, short-lived, user + chosen tenant) and opaque refresh-token material."""

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
ISSUER = "printfarm"
REFRESH_TOKEN_BYTES = 32  # 256 bits of entropy; only its SHA-256 is stored


class TokenError(ValueError):
    """An access token that is malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True)
class AccessClaims:
    """What an access token asserts."""

    user_id: str
    tenant_id: str
    expires_at_ms: int
    token_id: str
    issued_at_ms: int
    session_id: str | None = None  # the refresh-token family it was issued with


class AccessTokens:
    """Issue and verify HS256 access tokens bound to one user and one tenant."""

    def __init__(self, secret: bytes, ttl_ms: int):
        self._secret = secret
        self.ttl_ms = ttl_ms

    def issue(
        self, user_id: str, tenant_id: str, now_ms: int | None = None, session_id: str | None = None
    ) -> tuple[str, int]:
        """(token, expires_at_ms). `session_id` (the refresh-token family) lets a logout or a
        detected refresh-token theft end the access token too."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        expires = now_ms + self.ttl_ms
        claims = {
            "iss": ISSUER,
            "typ": "access",
            "sub": user_id,
            "tid": tenant_id,
            "iat": now_ms // 1000,
            "ims": now_ms,  # issue time in ms: compared with password changes (iat is seconds)
            "exp": expires // 1000,
            "jti": uuid.uuid4().hex,
        }
        if session_id is not None:
            claims["sid"] = session_id
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid token, else TokenError (never trusts the header's algorithm)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "tid", "typ", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("access token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("invalid access token") from exc
        if claims.get("typ") != "access" or not all(
            isinstance(claims.get(k), str) and claims.get(k) for k in ("sub", "tid", "jti")
        ):
            raise TokenError("invalid access token")
        issued_ms = claims.get("ims")
        if not isinstance(issued_ms, int):
            issued_ms = int(claims["iat"]) * 1000
        session_id = claims.get("sid") if isinstance(claims.get("sid"), str) else None
        return AccessClaims(
            claims["sub"],
            claims["tid"],
            int(claims["exp"]) * 1000,
            claims["jti"],
            issued_ms,
            session_id,
        )


def new_refresh_token() -> tuple[str, str]:
    """(token for the client, hash to store)."""
    token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    """SHA-256 hex of a refresh token: high-entropy input, so a fast hash is the right one."""
    return hashlib.sha256(token.encode()).hexdigest()
