"""Tenant membership: add a user with a role, change roles, remove; owners are protected."""

from cloud.db import database_proxy
from cloud.db.executor import write_transaction
from cloud.errors import ApiError, not_found
from cloud.models import TenantContext, TenantMember, User, new_id, now_ms
from cloud.models.auth import Invitation
from cloud.security.tokens import hash_refresh_token, new_refresh_token
from cloud.services.auth import normalise_email, revoke_all_sessions


def _member_dict(member: TenantMember, user: User) -> dict:
    return {
        "user_id": member.user_id,
        "email": user.email,
        "name": user.name,
        "role": member.role,
        "created_at": member.created_at,
    }


def list_members(ctx: TenantContext) -> list[dict]:
    """Every member of the tenant with their role, oldest first."""
    rows = (
        TenantMember.scoped(ctx, TenantMember, User)
        .join(User, on=(User.id == TenantMember.user_id))
        .order_by(TenantMember.created_at, TenantMember.user_id)
    )
    return [_member_dict(row, row.user) for row in rows]


def get_member(ctx: TenantContext, user_id: str) -> dict:
    """One member of the tenant, else 404."""
    member = _membership(ctx, user_id)
    return _member_dict(member, User.get_by_id(member.user_id))


def _membership(ctx: TenantContext, user_id: str) -> TenantMember:
    member = TenantMember.scoped(ctx).where(TenantMember.user_id == user_id).first()
    if member is None:
        raise not_found("member", user_id)
    return member


def _owner_count(ctx: TenantContext) -> int:
    return TenantMember.scoped(ctx).where(TenantMember.role == "owner").count()


def _require_owner_for(ctx: TenantContext, what: str) -> None:
    if ctx.role != "owner":
        raise ApiError(403, "forbidden", f"only an owner can {what}")


def add_member(ctx: TenantContext, email: str, role: str) -> dict:
    """Add an existing account to the tenant with `role` (only an owner grants 'owner')."""
    if role == "owner":
        _require_owner_for(ctx, "add an owner")
    user = User.get_or_none(User.email == normalise_email(email))
    if user is None:
        raise ApiError(
            404, "not_found", "no account with this email; they must register first", field="email"
        )
    with write_transaction(database_proxy.obj):
        if TenantMember.scoped(ctx).where(TenantMember.user_id == user.id).exists():
            raise ApiError(409, "conflict", "already a member of this tenant", field="email")
        member = TenantMember.create_scoped(ctx, user_id=user.id, role=role, created_at=now_ms())
    return _member_dict(member, user)


def change_role(ctx: TenantContext, user_id: str, role: str) -> dict:
    """Set a member's role. Owners are changed (and made) only by owners; one owner always stays."""
    with write_transaction(database_proxy.obj):
        member = _membership(ctx, user_id)
        if member.role == "owner" or role == "owner":
            _require_owner_for(ctx, "change an owner's role or make an owner")
        if member.role == "owner" and role != "owner" and _owner_count(ctx) <= 1:
            raise ApiError(
                409, "last_owner", "the tenant's last owner cannot be demoted", field="role"
            )
        TenantMember.update_scoped(ctx, role=role).where(TenantMember.user_id == user_id).execute()
    return get_member(ctx, user_id)


def remove_member(ctx: TenantContext, user_id: str) -> None:
    """Remove a member (an admin cannot remove an owner; the last owner cannot be removed)."""
    with write_transaction(database_proxy.obj):
        member = _membership(ctx, user_id)
        if member.role == "owner":
            if user_id != ctx.user_id:
                _require_owner_for(ctx, "remove an owner")
            if _owner_count(ctx) <= 1:
                raise ApiError(
                    409, "last_owner", "the tenant's last owner cannot leave or be removed"
                )
        TenantMember.delete_scoped(ctx).where(TenantMember.user_id == user_id).execute()
        revoke_all_sessions(user_id, ctx.tenant_id)


# --- invitations: an email (with or without an account yet) invited with a role ---------------

INVITATION_TTL_MS = 7 * 24 * 3600 * 1000


def _invitation_dict(invitation: Invitation) -> dict:
    return {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": invitation.invited_by,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
    }


def create_invitation(
    ctx: TenantContext, email: str, role: str, ttl_ms: int = INVITATION_TTL_MS
) -> dict:
    """Invite `email` with `role`; returns the invitation with its one-time `token` (shown once).
    Inviting the same email again replaces the pending invitation (and its token)."""
    if role == "owner":
        _require_owner_for(ctx, "invite an owner")
    email = normalise_email(email)
    token, token_hash = new_refresh_token()  # same shape: 256-bit opaque, stored as SHA-256
    now = now_ms()
    with write_transaction(database_proxy.obj):
        user = User.get_or_none(User.email == email)
        if user and TenantMember.scoped(ctx).where(TenantMember.user_id == user.id).exists():
            raise ApiError(409, "conflict", "already a member of this tenant", field="email")
        Invitation.delete_scoped(ctx).where(Invitation.email == email).execute()
        invitation = Invitation.create_scoped(
            ctx,
            id=new_id(),
            email=email,
            role=role,
            token_hash=token_hash,
            invited_by=ctx.user_id,
            created_at=now,
            expires_at=now + ttl_ms,
        )
    return {**_invitation_dict(invitation), "token": token}


def list_invitations(ctx: TenantContext) -> list[dict]:
    """Pending (unaccepted, unexpired) invitations of the tenant, newest first."""
    rows = (
        Invitation.scoped(ctx)
        .where(Invitation.accepted_at.is_null() & (Invitation.expires_at > now_ms()))
        .order_by(Invitation.created_at.desc(), Invitation.id)
    )
    return [_invitation_dict(row) for row in rows]


def get_invitation(ctx: TenantContext, invitation_id: str) -> dict:
    """One invitation of the tenant, else 404."""
    return _invitation_dict(Invitation.get_scoped(ctx, invitation_id))


def revoke_invitation(ctx: TenantContext, invitation_id: str) -> None:
    """Withdraw an invitation, else 404."""
    if not Invitation.delete_scoped(ctx).where(Invitation.id == invitation_id).execute():
        raise not_found("invitation", invitation_id)


def accept_invitation(token: str, user_id: str) -> tuple[dict, str]:
    """Join the inviting tenant with the invited role: (tenant, role). The account's email must be
    the invited one; a token works once and until it expires."""
    from cloud.models import Tenant, system_access

    now = now_ms()
    with write_transaction(database_proxy.obj), system_access():
        invitation = (
            Invitation.select().where(Invitation.token_hash == hash_refresh_token(token)).first()
        )
        if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= now:
            raise ApiError(404, "not_found", "invitation unknown, used or expired", field="token")
        user = User.get_by_id(user_id)
        if normalise_email(user.email) != invitation.email:
            raise ApiError(403, "forbidden", "this invitation is for another email address")
        ctx = TenantContext(invitation.tenant_id, user_id)
        if not TenantMember.scoped(ctx).where(TenantMember.user_id == user_id).exists():
            TenantMember.create_scoped(ctx, user_id=user_id, role=invitation.role, created_at=now)
        Invitation.update(accepted_at=now).where(Invitation.id == invitation.id).execute()
        tenant = Tenant.get_by_id(invitation.tenant_id)
    return {"id": tenant.id, "name": tenant.name, "slug": tenant.slug}, invitation.role
