"""Consumer of the notifications queue: webhooks and email, retried by the queue on failure."""

import aiohttp

from cloud.queue.store import Message
from cloud.services.notifications import SmtpSettings, deliver_webhook, send_email, webhook_secret


class NotificationSender:
    """Holds the HTTP session and settings; `handle` is the QueueWorker handler."""

    def __init__(self, server_key: bytes, run_blocking, smtp: SmtpSettings | None = None):
        self.server_key = server_key
        self.run_blocking = run_blocking
        self.smtp = smtp
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def handle(self, message: Message) -> None:
        """Deliver one notification; raising makes the queue retry it later."""
        payload = message.payload
        kind = payload.get("kind")
        if kind == "webhook":
            if self._session is None:
                self._session = aiohttp.ClientSession()
            secret = webhook_secret(self.server_key, message.tenant_id or "")
            body = {
                "id": message.id,
                "tenant_id": message.tenant_id,
                "rule_id": payload.get("rule_id"),
                "event": payload.get("event"),
            }
            event_name = (payload.get("event") or {}).get("trigger", "event")
            await deliver_webhook(self._session, payload["url"], body, secret, event_name)
        elif kind == "email":
            if self.smtp is None:
                raise RuntimeError(
                    "email notification queued but PRINTFARM_SMTP_URL is not configured"
                )
            await self.run_blocking(
                send_email, self.smtp, payload["to"], payload["subject"], payload["text"]
            )
        else:
            raise ValueError(f"unknown notification kind {kind!r}")
