"""Webhooks over real HTTP with verifiable signatures; email through a real SMTP server."""

import asyncio
import time

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from cloud.queue import QueueStore, QueueWorker
from cloud.queue import store as store_module
from cloud.services import notifications as n
from cloud.workers.notifications import NotificationSender
from tests.cloud import model_factories as f

KEY = b"k" * 32


def test_signature_round_trip_and_rejections():
    secret = n.webhook_secret(KEY, "tenant-a")
    assert secret != n.webhook_secret(KEY, "tenant-b")
    now = int(time.time())
    header = n.sign_webhook(secret, b'{"a":1}', now)
    assert n.verify_webhook(secret, b'{"a":1}', header)
    assert not n.verify_webhook(secret, b'{"a":2}', header)  # body changed
    assert not n.verify_webhook(n.webhook_secret(KEY, "tenant-b"), b'{"a":1}', header)
    assert not n.verify_webhook(secret, b'{"a":1}', n.sign_webhook(secret, b'{"a":1}', now - 3600))
    assert not n.verify_webhook(secret, b"x", "garbage")


async def run_inline(fn, *args):
    return fn(*args)


async def test_webhook_delivered_signed_and_retried_until_accepted(sqlite_db, monkeypatch):
    monkeypatch.setattr(store_module, "backoff_ms", lambda attempts: -1)
    ctx = f.tenant()
    received, statuses = [], [503, 200]

    async def receiver(request):
        body = await request.read()
        received.append(
            (body, request.headers[n.SIGNATURE_HEADER], request.headers[n.EVENT_HEADER])
        )
        return web.Response(status=statuses.pop(0))

    app = web.Application()
    app.router.add_post("/hook", receiver)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        QueueStore().enqueue(
            "notifications",
            {
                "kind": "webhook",
                "url": f"http://127.0.0.1:{port}/hook",
                "rule_id": "r1",
                "event": {"trigger": "print_failed"},
            },
            tenant_id=ctx.tenant_id,
        )
        sender = NotificationSender(KEY, run_inline)
        worker = QueueWorker("notifications", sender.handle, run_db=run_inline)
        assert await worker.drain() == 2  # 503 first, then accepted
        await sender.close()
    finally:
        await runner.cleanup()
    assert worker.failed == 1 and worker.processed == 1
    body, signature, event = received[-1]
    assert event == "print_failed"
    assert n.verify_webhook(n.webhook_secret(KEY, ctx.tenant_id), body, signature)


async def test_unreachable_webhook_dead_letters(sqlite_db, monkeypatch):
    monkeypatch.setattr(store_module, "backoff_ms", lambda attempts: -1)
    ctx = f.tenant()
    QueueStore().enqueue(
        "notifications",
        {"kind": "webhook", "url": "http://127.0.0.1:9/none"},
        tenant_id=ctx.tenant_id,
        max_attempts=2,
    )
    sender = NotificationSender(KEY, run_inline)
    await QueueWorker("notifications", sender.handle, run_db=run_inline).drain()
    await sender.close()
    (dead,) = QueueStore().dead_letters("notifications")
    assert "127.0.0.1:9" in dead.last_error


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server(unused_tcp_port):
    inbox = Inbox()
    # aiosmtpd connects to its own port to confirm start-up, so it needs a concrete port.
    controller = Controller(inbox, hostname="127.0.0.1", port=unused_tcp_port)
    controller.start()
    yield controller, inbox
    controller.stop()


async def test_email_through_smtp(sqlite_db, smtp_server):
    controller, inbox = smtp_server
    port = controller.port
    settings = n.SmtpSettings.from_url(f"smtp://127.0.0.1:{port}", sender="farm@example.test")
    QueueStore().enqueue(
        "notifications",
        {
            "kind": "email",
            "to": ["ops@example.test"],
            "subject": "Print failed",
            "text": "P1 failed at layer 40",
        },
    )

    async def in_thread(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    sender = NotificationSender(KEY, in_thread, smtp=settings)
    assert await QueueWorker("notifications", sender.handle, run_db=run_inline).drain() == 1
    (envelope,) = inbox.messages
    assert envelope.rcpt_tos == ["ops@example.test"] and b"layer 40" in envelope.content


def test_smtp_url_parsing():
    s = n.SmtpSettings.from_url("smtps://user%40x:p%3Ass@mail.test?starttls=0", sender="a@b")
    assert (s.host, s.port, s.username, s.password, s.implicit_tls) == (
        "mail.test",
        465,
        "user@x",
        "p:ss",
        True,
    )
    with pytest.raises(ValueError):
        n.SmtpSettings.from_url("http://x", sender="a@b")
