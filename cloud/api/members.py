"""/api/v1/members: who belongs to the tenant and with which role."""

from aiohttp import web

from cloud.api.operations import USER, Call, OperationGroup, register
from cloud.api.schemas import EMAIL, ID, ROLE, TIMESTAMP, obj, text
from cloud.services import members as members_service

ops = OperationGroup(tag="members", resource="member", description="Tenant members and roles")

MEMBER = obj(
    {
        "user_id": ID,
        "email": {"type": "string"},
        "name": text(nullable=True),
        "role": ROLE,
        "created_at": TIMESTAMP,
    },
    required=("user_id", "email", "name", "role", "created_at"),
)


@ops.get("/api/v1/members", role="viewer", response={"type": "array", "items": MEMBER})
async def list_members(call: Call):
    """Every member of the tenant."""
    return await call.db(members_service.list_members, call.ctx)


@ops.post(
    "/api/v1/members",
    role="admin",
    status=201,
    body=obj({"email": EMAIL, "role": ROLE}, required=("email", "role")),
    response=MEMBER,
    example={"email": "operator@example.com", "role": "operator"},
)
async def add_member(call: Call):
    """Add an existing account to the tenant with a role (only an owner grants 'owner')."""
    member = await call.db(
        members_service.add_member, call.ctx, call.body["email"], call.body["role"]
    )
    call.audit.entity_id = member["user_id"]
    call.audit.details = {"role": member["role"]}
    return member


@ops.get("/api/v1/members/{id}", role="viewer", response=MEMBER)
async def get_member(call: Call):
    """One member by user id."""
    return await call.db(members_service.get_member, call.ctx, call.params["id"])


@ops.patch(
    "/api/v1/members/{id}",
    role="admin",
    body=obj({"role": ROLE}, required=("role",)),
    response=MEMBER,
    example={"role": "viewer"},
)
async def change_member_role(call: Call):
    """Change a member's role (owners only by owners; the last owner stays an owner)."""
    member = await call.db(
        members_service.change_role, call.ctx, call.params["id"], call.body["role"]
    )
    call.audit.details = {"role": member["role"]}
    return member


@ops.delete("/api/v1/members/{id}", role="admin")
async def remove_member(call: Call):
    """Remove a member (an admin cannot remove an owner; the last owner cannot be removed)."""
    await call.db(members_service.remove_member, call.ctx, call.params["id"])


@ops.post("/api/v1/tenant/leave", role="viewer")
async def leave_tenant(call: Call):
    """Leave the tenant of this token (the last owner cannot)."""
    await call.db(members_service.remove_member, call.ctx, call.ctx.user_id)
    call.audit.entity_id = call.ctx.user_id


INVITATION = obj(
    {
        "id": ID,
        "email": {"type": "string"},
        "role": ROLE,
        "invited_by": {"type": ["string", "null"]},
        "created_at": TIMESTAMP,
        "expires_at": TIMESTAMP,
        "token": {"type": "string", "description": "shown once, at creation"},
    },
    required=("id", "email", "role", "created_at", "expires_at"),
)
MEMBERSHIP = obj(
    {
        "tenant": obj({"id": ID, "name": {"type": "string"}, "slug": {"type": "string"}}),
        "role": ROLE,
    },
    required=("tenant", "role"),
)


@ops.post(
    "/api/v1/invitations",
    role="admin",
    resource="invitation",
    status=201,
    body=obj({"email": EMAIL, "role": ROLE}, required=("email", "role")),
    response=INVITATION,
    example={"email": "new.operator@example.com", "role": "operator"},
    description="The response's `token` goes to the invitee (e.g. in a link); it is shown once. "
    "They register with it, or accept it with an existing account.",
)
async def create_invitation(call: Call):
    """Invite an email address into the tenant with a role."""
    invitation = await call.db(
        members_service.create_invitation, call.ctx, call.body["email"], call.body["role"]
    )
    call.audit.details = {"email": invitation["email"], "role": invitation["role"]}
    return invitation


@ops.get(
    "/api/v1/invitations",
    role="viewer",
    resource="invitation",
    response={"type": "array", "items": INVITATION},
)
async def list_invitations(call: Call):
    """Pending invitations of the tenant."""
    return await call.db(members_service.list_invitations, call.ctx)


@ops.get("/api/v1/invitations/{id}", role="viewer", resource="invitation", response=INVITATION)
async def get_invitation(call: Call):
    """One invitation."""
    return await call.db(members_service.get_invitation, call.ctx, call.params["id"])


@ops.delete("/api/v1/invitations/{id}", role="admin", resource="invitation")
async def revoke_invitation(call: Call):
    """Withdraw an invitation."""
    await call.db(members_service.revoke_invitation, call.ctx, call.params["id"])


@ops.post(
    "/api/v1/auth/accept-invitation",
    role=USER,
    resource="invitation",
    body=obj({"token": {"type": "string", "minLength": 1, "maxLength": 200}}, required=("token",)),
    response=MEMBERSHIP,
    errors=(404,),
    example={"token": "token-from-the-invitation"},
    description="Joins the inviting tenant; get a token for it with /auth/refresh and `tenant_id`.",
)
async def accept_invitation(call: Call):
    """Accept an invitation addressed to this account's email."""
    tenant, role = await call.db(
        members_service.accept_invitation, call.body["token"], call.user_id
    )
    call.audit.tenant_id = tenant["id"]
    call.audit.entity_id = call.user_id
    call.audit.details = {"role": role}
    return {"tenant": tenant, "role": role}


def setup(app: web.Application) -> None:
    """Add the member routes."""
    register(app, ops)
