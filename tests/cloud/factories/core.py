"""Factories for the core resources: printers, members, invitations."""

import uuid


async def make_printer(account, server) -> dict:
    r = await account.api.post(
        "/api/v1/printers",
        json={"name": f"P-{uuid.uuid4().hex[:8]}", "model": "P1S", "access_code": "12345678"},
    )
    assert r.status == 201, r.json
    return {"id": r.json["id"]}


async def make_member(account, server) -> dict:
    member = await server.member_of(account, "operator")
    return {"id": member.user_id}


async def make_invitation(account, server) -> dict:
    r = await account.api.post(
        "/api/v1/invitations",
        json={"email": f"invitee-{uuid.uuid4().hex[:8]}@example.com", "role": "viewer"},
    )
    assert r.status == 201, r.json
    return {"id": r.json["id"]}


FACTORIES = {"printer": make_printer, "member": make_member, "invitation": make_invitation}
