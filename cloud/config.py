"""Service configuration from flags and PRINTFARM_* variables, and the secret keys of a data folder."""

import base64
import json
import logging
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

from cloud.db import default_database_url

KEYS_FILE_NAME = "keys.json"

# Every secret the service needs, each 32 random bytes: HS256 signing key for access tokens,
# AES-256-GCM key for secrets at rest (printer access codes, integration secrets), HMAC key for
# signed storage URLs, the factory key of `printfarm hub provision` (POST /api/v1/admin/hubs), the
# key tenants' webhook signing secrets derive from.
# PRINTFARM_<NAME> (base64) overrides the file, e.g. for several processes.
SECRET_NAMES = ("jwt_secret", "secretbox_key", "url_signing_key", "provisioning_key", "webhook_key")

ACCESS_TOKEN_TTL_MS = 15 * 60 * 1000
REFRESH_TOKEN_TTL_MS = 30 * 24 * 3600 * 1000


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` requests per `window_ms` (a fixed window)."""

    limit: int
    window_ms: int


# The spec's table: auth 10/min per IP, API 100/min per user, uploads 20/hour per tenant.
DEFAULT_RATE_LIMITS = {
    "auth": RateLimit(10, 60_000),
    "api": RateLimit(100, 60_000),
    "upload": RateLimit(20, 3_600_000),
}

# Argon2id parameters (RFC 9106 "second recommended option": 64 MiB, 3 passes). Tests may lower
# memory/time through PRINTFARM_ARGON2 ("time,memory_kib,parallelism"), never the algorithm.
DEFAULT_ARGON2 = (3, 65536, 4)


@dataclass(frozen=True)
class Config:
    """Everything `create_app` needs; build it with `Config.load`."""

    data_dir: Path
    database_url: str
    storage_url: str
    redis_url: str | None = None
    redis_prefix: str = "printfarm:"  # keys of this deployment (tests use a unique one)
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    secrets: dict = field(default_factory=dict, repr=False)
    rate_limits: dict = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    trust_forwarded: bool = False
    access_token_ttl_ms: int = ACCESS_TOKEN_TTL_MS
    refresh_token_ttl_ms: int = REFRESH_TOKEN_TTL_MS
    argon2: tuple = DEFAULT_ARGON2
    db_threads: int = 8
    max_body_bytes: int = 1024 * 1024
    # Tests turn this on: every response is checked against its declared schema (500 if not).
    validate_responses: bool = False
    shutdown_timeout_s: float = 10.0
    smtp_url: str | None = None  # smtp://user:pass@host:port?starttls=1 (email notifications)
    smtp_from: str = "printfarm@localhost"
    dispatch_interval_s: float = 2.0

    @property
    def base_url(self) -> str:
        """Where hubs and browsers reach this service (signed download URLs point here)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def load(cls, env=None, **flags) -> "Config":
        """Flags (None = unset) win over PRINTFARM_* variables, which win over defaults."""
        env = os.environ if env is None else env

        def pick(name, default=None):
            value = flags.get(name)
            if value is not None:
                return value
            return env.get("PRINTFARM_" + name.upper(), default)

        data_dir = Path(pick("data_dir", "data"))
        database_url = flags.get("database_url") or env.get("PRINTFARM_DATABASE_URL")
        if not database_url:
            database_url = default_database_url(data_dir)
        storage_url = pick("storage_url") or "file://" + str((data_dir / "storage").resolve())
        config = cls(
            data_dir=data_dir,
            database_url=database_url,
            storage_url=storage_url,
            redis_url=pick("redis_url") or None,
            public_url=pick("public_url") or None,
            host=pick("host", "127.0.0.1"),
            port=int(pick("port", 8080)),
            rate_limits=parse_rate_limits(pick("rate_limits", "")),
            trust_forwarded=str(pick("trust_forwarded", "0")).lower() in ("1", "true", "yes"),
            access_token_ttl_ms=int(pick("access_token_ttl_ms", ACCESS_TOKEN_TTL_MS)),
            refresh_token_ttl_ms=int(pick("refresh_token_ttl_ms", REFRESH_TOKEN_TTL_MS)),
            argon2=tuple(int(x) for x in str(pick("argon2", "3,65536,4")).split(",")),
            db_threads=int(pick("db_threads", 8)),
            validate_responses=str(pick("validate_responses", "0")).lower() in ("1", "true", "yes"),
            redis_prefix=pick("redis_prefix", "printfarm:"),
            smtp_url=pick("smtp_url") or None,
            smtp_from=pick("smtp_from", "printfarm@localhost"),
            dispatch_interval_s=float(pick("dispatch_interval_s", 2.0)),
        )
        return replace(config, secrets=load_secrets(data_dir, env))

    def secret(self, name: str) -> bytes:
        """One of SECRET_NAMES as raw bytes."""
        return self.secrets[name]


def parse_rate_limits(text: str) -> dict:
    """`off`, or overrides like `auth=10/60000,api=100/60000,upload=20/3600000` (limit/window ms)."""
    limits = dict(DEFAULT_RATE_LIMITS)
    text = (text or "").strip()
    if not text:
        return limits
    if text.lower() == "off":
        return {}
    for part in text.split(","):
        name, _, spec = part.partition("=")
        limit, _, window = spec.partition("/")
        name = name.strip()
        if name not in DEFAULT_RATE_LIMITS:
            raise ValueError(f"unknown rate limit bucket {name!r} (auth, api, upload)")
        limits[name] = RateLimit(int(limit), int(window or DEFAULT_RATE_LIMITS[name].window_ms))
    return limits


def load_secrets(data_dir: Path, env=None) -> dict:
    """Secrets from PRINTFARM_<NAME> or DATA_DIR/keys.json, generating (0600) what is missing."""
    env = os.environ if env is None else env
    path = Path(data_dir) / KEYS_FILE_NAME
    stored = json.loads(path.read_text()) if path.exists() else {}
    if path.exists() and path.stat().st_mode & 0o077:
        # Someone copied or created the file readable by others: tighten it, say so.
        os.chmod(path, 0o600)
        logging.getLogger("cloud.config").warning("%s was readable by others; now 0600", path)
    changed = False
    for name in SECRET_NAMES:
        if name not in stored:
            stored[name] = base64.b64encode(secrets.token_bytes(32)).decode()
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Create with 0600 from the start: never a moment where the keys are world-readable.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    result = {}
    for name in SECRET_NAMES:
        override = env.get("PRINTFARM_" + name.upper())
        raw = base64.b64decode(override or stored[name])
        if len(raw) < 32:
            raise ValueError(f"secret {name} must be at least 32 bytes")
        result[name] = raw
    return result
