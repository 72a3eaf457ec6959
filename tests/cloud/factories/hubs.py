"""Factories for hubs: provisioned and claimed through the services (no socket needed)."""

from cloud.db.executor import run_db
from cloud.keys import SECRETBOX
from cloud.models import TenantContext
from cloud.services import commands as commands_service
from cloud.services import hubs as hubs_service


async def make_hub(account, server) -> dict:
    box = server.app[SECRETBOX]
    ctx = TenantContext(account.tenant_id, account.user_id, "owner")
    hub_id, _ = await run_db(server.app, hubs_service.provision_hub, box)
    await run_db(server.app, hubs_service.claim_hub, ctx, hub_id, "factory hub")
    command_id = await run_db(
        server.app,
        commands_service.enqueue_command,
        box,
        ctx,
        hub_id,
        {"type": "discover_printers"},
    )
    return {"id": hub_id, "command_id": command_id}


FACTORIES = {"hub": make_hub}
