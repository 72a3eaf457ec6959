"""The event ledger under concurrency, the stale-hub sweep, and the coalescing status writer."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from cloud.models import Hub, Printer, Tenant, TenantContext, new_id, now_ms, system_access
from cloud.realtime.events import EventSink, HubIdentity
from cloud.realtime.ledger import apply_printer_event
from cloud.realtime.models import HubEvent, HubLink
from cloud.security.secretbox import SecretBox
from cloud.services import hubs as hubs_service


class SlowSink(EventSink):
    """Holds the transaction open a while so two appliers overlap."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def apply(self, hub, event):
        with self.lock:
            self.calls += 1
        time.sleep(0.3)
        return [{"type": "job_update", "job_id": "j", "status": "printing"}]


def claimed_hub_with_printer(database):
    now = now_ms()
    slug = new_id()[:8]
    tenant = Tenant.create(id=new_id(), name=slug, slug=slug, created_at=now, updated_at=now)
    ctx = TenantContext(tenant.id)
    hub_id, _ = hubs_service.provision_hub(SecretBox(os.urandom(32)))
    hubs_service.claim_hub(ctx, hub_id, "hub")
    printer = Printer.create_scoped(ctx, hub_id=hub_id, name="P", model="P1S")
    return HubIdentity(hub_id, tenant.id), printer.id


def test_two_processes_applying_the_same_event_apply_it_once(any_db):
    hub, printer_id = claimed_hub_with_printer(any_db)
    event = {
        "type": "printer_event",
        "seq": 1,
        "printer_id": printer_id,
        "event": "job_started",
        "ts": now_ms(),
    }
    sink = SlowSink()

    def apply():
        any_db.connect(reuse_if_open=True)
        try:
            return apply_printer_event(any_db, hub, dict(event), sink)
        finally:
            any_db.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(o.outcome for o in pool.map(lambda _: apply(), range(2)))
    assert outcomes == ["applied", "duplicate"]
    assert sink.calls == 1
    with system_access():
        assert HubEvent.select().count() == 1
        assert HubLink.get_by_id(hub.hub_id).acked_seq == 1


def test_stale_online_hubs_are_swept_offline(any_db):
    hub, _ = claimed_hub_with_printer(any_db)
    with system_access():
        Hub.update(is_online=1, last_seen_at=now_ms() - 600_000).where(
            Hub.id == hub.hub_id
        ).execute()
    fresh, _ = claimed_hub_with_printer(any_db)
    with system_access():
        Hub.update(is_online=1, last_seen_at=now_ms()).where(Hub.id == fresh.hub_id).execute()
    swept = hubs_service.sweep_stale_hubs(90_000)
    assert swept == [(hub.hub_id, hub.tenant_id)]
    with system_access():
        assert Hub.get_by_id(hub.hub_id).is_online is False
        assert Hub.get_by_id(fresh.hub_id).is_online is True


def test_secret_is_sealed_at_rest_and_opens_only_with_its_hub_id(any_db):
    box = SecretBox(os.urandom(32))
    hub_id, secret = hubs_service.provision_hub(box, hardware_revision="rev-b")
    with system_access():
        sealed = HubLink.get_by_id(hub_id).secret_sealed
    assert secret not in sealed
    assert hubs_service.load_credentials(box, hub_id).secret == secret
    assert hubs_service.load_credentials(box, "missing") is None
