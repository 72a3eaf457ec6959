"""Accounts and sessions: register, password login, refresh-token rotation with reuse detection."""

import re
import secrets

import peewee

from cloud.db import database_proxy, dialect
from cloud.db.executor import write_transaction
from cloud.errors import ApiError, conflict
from cloud.models import Tenant, TenantMember, User, new_id, now_ms, system_access
from cloud.models.auth import RefreshToken, UserCredential
from cloud.security.passwords import PasswordHasher
from cloud.security.tokens import hash_refresh_token, new_refresh_token

INVALID_LOGIN = "invalid email or password"


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


def membership_role(user_id: str, tenant_id: str) -> str | None:
    """The user's role in the tenant, or None when not a member (runs on every request: plain SQL,
    no query building)."""
    database = database_proxy.obj
    sql = _MEMBERSHIP_SQL if dialect(database) == "sqlite" else _MEMBERSHIP_SQL.replace("?", "%s")
    row = database.execute_sql(sql, (user_id, tenant_id)).fetchone()
    return row[0] if row else None


_MEMBERSHIP_SQL = "SELECT role FROM tenant_members WHERE user_id = ? AND tenant_id = ?"

_CALLER_SQL = (
    "SELECT (SELECT role FROM tenant_members WHERE user_id = ? AND tenant_id = ?), "
    "(SELECT password_changed_at FROM user_credentials WHERE user_id = ?), "
    "(SELECT 1 FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NOT NULL LIMIT 1)"
)


def caller(user_id: str, tenant_id: str, session_id: str | None = None) -> tuple:
    """(role in the tenant or None, when the password last changed, whether the token's session
    was revoked): what every authenticated request checks, in one statement."""
    database = database_proxy.obj
    sql = _CALLER_SQL if dialect(database) == "sqlite" else _CALLER_SQL.replace("?", "%s")
    role, changed_at, revoked = database.execute_sql(
        sql, (user_id, tenant_id, user_id, session_id or "")
    ).fetchone()
    return role, changed_at, bool(revoked)


def memberships(user_id: str) -> list[dict]:
    """Every tenant the user belongs to, oldest membership first."""
    with system_access():
        rows = (
            TenantMember.select(TenantMember, Tenant)
            .join(Tenant, on=(Tenant.id == TenantMember.tenant_id))
            .where(TenantMember.user_id == user_id)
            .order_by(TenantMember.created_at, TenantMember.tenant_id)
        )
        return [
            {
                "tenant_id": row.tenant_id,
                "name": row.tenant.name,
                "slug": row.tenant.slug,
                "role": row.role,
            }
            for row in rows
        ]


def _slug_for(name: str, force_suffix: bool = False) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "farm"
    if not force_suffix and not Tenant.select().where(Tenant.slug == base).exists():
        return base
    return f"{base}-{secrets.token_hex(3)}"


def _create_account(email: str, password_hash: str, name: str | None, now: int) -> User:
    """Insert the user and its credential (inside the caller's write transaction)."""
    if User.select().where(User.email == email).exists():
        raise conflict("email", "an account with this email already exists")
    user = User.create(id=new_id(), email=email, name=name, created_at=now, updated_at=now)
    UserCredential.create(
        user_id=user.id,
        password_hash=password_hash,
        password_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    return user


def register(
    hasher: PasswordHasher, email: str, password: str, name: str | None, tenant_name: str
) -> tuple[dict, dict]:
    """Create the user, a new tenant, and the owner membership; (user, tenant) as dicts."""
    email = normalise_email(email)
    password_hash = hasher.hash(password)  # slow: before taking the write lock
    now = now_ms()
    for attempt in range(3):
        try:
            with write_transaction(database_proxy.obj), system_access():
                user = _create_account(email, password_hash, name, now)
                tenant = Tenant.create(
                    id=new_id(),
                    name=tenant_name,
                    slug=_slug_for(tenant_name, force_suffix=attempt > 0),
                    created_at=now,
                    updated_at=now,
                )
                TenantMember.create(
                    tenant_id=tenant.id, user_id=user.id, role="owner", created_at=now
                )
            return user_dict(user), tenant_dict(tenant)
        except peewee.IntegrityError:
            # Racing registrations: the unique indexes decide. Same email: refused. Same tenant
            # slug: try again with a suffixed slug.
            if User.select().where(User.email == email).exists():
                raise conflict("email", "an account with this email already exists") from None
    raise conflict("tenant_name", "no free tenant slug for this name; try another name")


def register_invited(
    hasher: PasswordHasher, email: str, password: str, name: str | None, invitation_token: str
) -> tuple[dict, dict, str]:
    """Create the account and join the inviting tenant in one transaction: (user, tenant, role).
    A bad token or another email leaves no account behind."""
    from cloud.services.members import accept_invitation  # members builds on this module

    email = normalise_email(email)
    password_hash = hasher.hash(password)
    now = now_ms()
    try:
        with write_transaction(database_proxy.obj), system_access():
            user = _create_account(email, password_hash, name, now)
            tenant, role = accept_invitation(invitation_token, user.id)
    except peewee.IntegrityError:
        raise conflict("email", "an account with this email already exists") from None
    return user_dict(user), tenant, role


def user_dict(user: User) -> dict:
    """The public shape of a user."""
    return {"id": user.id, "email": user.email, "name": user.name, "created_at": user.created_at}


def tenant_dict(tenant: Tenant) -> dict:
    """The public shape of a tenant."""
    return {"id": tenant.id, "name": tenant.name, "slug": tenant.slug}


def authenticate(hasher: PasswordHasher, email: str, password: str) -> dict:
    """The user for these credentials, else 401 (same answer for unknown email and bad password)."""
    email = normalise_email(email)
    user = User.select().where(User.email == email).first()
    credential = UserCredential.get_or_none(UserCredential.user_id == user.id) if user else None
    if not hasher.verify(credential.password_hash if credential else None, password):
        raise ApiError(401, "invalid_credentials", INVALID_LOGIN)
    if hasher.needs_rehash(credential.password_hash):
        credential.password_hash = hasher.hash(password)
        credential.updated_at = now_ms()
        credential.save()
    return user_dict(user)


def choose_tenant(user_id: str, tenant_id: str | None) -> tuple[dict, str]:
    """(tenant, role) for the token: the one asked for (must be a member), else the first one."""
    options = memberships(user_id)
    if tenant_id is not None:
        options = [m for m in options if m["tenant_id"] == tenant_id]
        if not options:
            raise ApiError(
                403, "not_a_member", "you are not a member of that tenant", field="tenant_id"
            )
    if not options:
        raise ApiError(403, "not_a_member", "this account belongs to no tenant")
    chosen = options[0]
    return {"id": chosen["tenant_id"], "name": chosen["name"], "slug": chosen["slug"]}, chosen[
        "role"
    ]


def create_refresh_token(
    user_id: str,
    tenant_id: str,
    ttl_ms: int,
    ip_address: str | None = None,
    user_agent: str | None = None,
    family_id: str | None = None,
) -> str:
    """Store a new refresh token (hashed); (token, family id). A new family unless one is given."""
    token, token_hash = new_refresh_token()
    now = now_ms()
    family_id = family_id or new_id()
    RefreshToken.create(
        id=new_id(),
        family_id=family_id,
        user_id=user_id,
        tenant_id=tenant_id,
        token_hash=token_hash,
        created_at=now,
        expires_at=now + ttl_ms,
        ip_address=ip_address,
        user_agent=user_agent,
    )
    return token, family_id


class RefreshReuse(ApiError):
    """A spent refresh token came back: its family is revoked (stolen-token signal)."""

    def __init__(self, user_id: str, tenant_id: str, family_id: str):
        super().__init__(401, "refresh_token_reused", "refresh token already used; session revoked")
        self.user_id = user_id
        self.tenant_id = tenant_id
        self.family_id = family_id


def rotate_refresh_token(
    token: str,
    ttl_ms: int,
    tenant_id: str | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, dict, str, str]:
    """Spend `token` and issue its successor: (user_id, tenant, role, new_token, family_id).
    A token already spent or revoked revokes the whole family and raises RefreshReuse."""
    now = now_ms()
    row = RefreshToken.get_or_none(RefreshToken.token_hash == hash_refresh_token(token))
    if row is None or row.expires_at <= now:
        raise ApiError(401, "invalid_refresh_token", "refresh token unknown or expired")
    target = tenant_id or row.tenant_id
    if tenant_id is not None and membership_role(row.user_id, tenant_id) is None:
        # Asking for a tenant one does not belong to spends nothing.
        raise ApiError(
            403, "not_a_member", "you are not a member of that tenant", field="tenant_id"
        )
    outcome, role, new_token = "rotated", None, None
    with write_transaction(database_proxy.obj):
        spent = (
            RefreshToken.update(used_at=now)
            .where(
                (RefreshToken.id == row.id)
                & RefreshToken.used_at.is_null()
                & RefreshToken.revoked_at.is_null()
            )
            .execute()
        )
        role = membership_role(row.user_id, target) if spent else None
        if not spent:
            outcome = "reused"
            _revoke_family(row.family_id, now)
        elif role is None:
            outcome = "not_member"  # removed from the tenant since: the session ends
            _revoke_family(row.family_id, now)
        else:
            new_token, _ = create_refresh_token(
                row.user_id, target, ttl_ms, ip_address, user_agent, family_id=row.family_id
            )
    if outcome == "reused":
        raise RefreshReuse(row.user_id, row.tenant_id, row.family_id)
    if outcome == "not_member":
        raise ApiError(401, "invalid_refresh_token", "no longer a member of that tenant")
    tenant = Tenant.get_by_id(target)
    return row.user_id, tenant_dict(tenant), role, new_token, row.family_id


def _revoke_family(family_id: str, now: int) -> int:
    return (
        RefreshToken.update(revoked_at=now)
        .where((RefreshToken.family_id == family_id) & RefreshToken.revoked_at.is_null())
        .execute()
    )


def revoke_refresh_token(user_id: str, token: str) -> bool:
    """Log out one session: revoke the family of `token` if it belongs to `user_id`."""
    row = RefreshToken.get_or_none(RefreshToken.token_hash == hash_refresh_token(token))
    if row is None or row.user_id != user_id:
        return False
    return _revoke_family(row.family_id, now_ms()) > 0


def revoke_all_sessions(user_id: str, tenant_id: str | None = None) -> int:
    """Revoke every live refresh token of the user (optionally only those of one tenant)."""
    condition = (RefreshToken.user_id == user_id) & RefreshToken.revoked_at.is_null()
    if tenant_id is not None:
        condition &= RefreshToken.tenant_id == tenant_id
    return RefreshToken.update(revoked_at=now_ms()).where(condition).execute()


def change_password(hasher: PasswordHasher, user_id: str, current: str, new: str) -> None:
    """Check the current password, store the new hash, end every session of the user."""
    credential = UserCredential.get_or_none(UserCredential.user_id == user_id)
    if credential is None or not hasher.verify(credential.password_hash, current):
        raise ApiError(
            403, "invalid_credentials", "current password is wrong", field="current_password"
        )
    if current == new:
        raise ApiError(
            422, "validation_error", "new password equals the current one", field="new_password"
        )
    now = now_ms()
    new_hash = hasher.hash(new)
    with write_transaction(database_proxy.obj):
        UserCredential.update(
            password_hash=new_hash, password_changed_at=now, updated_at=now
        ).where(UserCredential.user_id == user_id).execute()
        revoke_all_sessions(user_id)


def me(user_id: str, tenant_id: str) -> dict:
    """The caller: user, current tenant and role, and every tenant they can switch to."""
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise ApiError(401, "unauthorized", "account no longer exists")
    tenants = memberships(user_id)
    current = next((m for m in tenants if m["tenant_id"] == tenant_id), None)
    return {
        "user": user_dict(user),
        "tenant": (
            {"id": current["tenant_id"], "name": current["name"], "slug": current["slug"]}
            if current
            else None
        ),
        "role": current["role"] if current else None,
        "tenants": tenants,
    }
