"""Outgoing notifications: HMAC-signed webhooks and SMTP email, delivered by the queue."""

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlparse

SIGNATURE_HEADER = "X-PrintFarm-Signature"
EVENT_HEADER = "X-PrintFarm-Event"
WEBHOOK_TIMEOUT_S = 10


class DeliveryError(Exception):
    """A delivery that should be retried (the queue backs off, then dead-letters)."""


def webhook_secret(server_key: bytes, tenant_id: str) -> bytes:
    """The tenant's webhook signing secret, derived from the server key (nothing to store)."""
    return hmac.new(server_key, b"webhook:" + tenant_id.encode(), hashlib.sha256).digest()


def sign_webhook(secret: bytes, body: bytes, timestamp: int) -> str:
    """Header value `t=<unix s>,v1=<hex HMAC-SHA256 of "t.body">`; receivers reject old t."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_webhook(
    secret: bytes, body: bytes, header: str, tolerance_s: int = 300, now: int | None = None
) -> bool:
    """Check a signature header as a receiver would (used by tests and documented for users)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or int(time.time())) - timestamp) > tolerance_s:
        return False
    expected = sign_webhook(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


async def deliver_webhook(session, url: str, payload: dict, secret: bytes, event: str) -> int:
    """POST the payload as JSON with a signature; any non-2xx or network error is retryable."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_webhook(secret, body, int(time.time())),
        EVENT_HEADER: event,
        "User-Agent": "PrintFarm-Webhook/1",
    }
    import aiohttp

    try:
        async with session.post(
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S),
        ) as response:
            if not 200 <= response.status < 300:
                raise DeliveryError(f"{url} answered {response.status}")
            return response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(f"{url}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class SmtpSettings:
    """Where email goes: from PRINTFARM_SMTP_URL (smtp://user:pass@host:port?starttls=1)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    implicit_tls: bool = False

    @classmethod
    def from_url(cls, url: str, sender: str) -> "SmtpSettings":
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP URL must start with smtp:// or smtps://")
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return cls(
            host=parsed.hostname or "localhost",
            port=parsed.port or (465 if parsed.scheme == "smtps" else 25),
            sender=sender,
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            starttls=options.get("starttls") in ("1", "true", "yes"),
            implicit_tls=parsed.scheme == "smtps",
        )


def send_email(settings: SmtpSettings, to: list[str], subject: str, text: str) -> None:
    """Send one plain-text email (blocking: run it on the thread pool)."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.sender, ", ".join(to), subject
    message.set_content(text)
    context = ssl.create_default_context()
    try:
        if settings.implicit_tls:
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=30, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=30)
        with client:
            if settings.starttls:
                client.starttls(context=context)
            if settings.username:
                client.login(settings.username, settings.password or "")
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"email to {', '.join(to)}: {exc}") from exc
