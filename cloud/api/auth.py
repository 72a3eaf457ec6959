"""/api/v1/auth/*: register, login, refresh, logout, me, password change."""

import logging

from aiohttp import web

from cloud.api.operations import PUBLIC, USER, Call, OperationGroup, register
from cloud.api.schemas import EMAIL, ID, ROLE, TIMESTAMP, obj, text
from cloud.errors import ApiError, validation_error
from cloud.keys import CONFIG, PASSWORDS, TOKENS
from cloud.security.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from cloud.services import auth as auth_service

log = logging.getLogger("cloud.api.auth")

ops = OperationGroup(tag="auth", resource="session", description="Accounts, sessions and tokens")

PASSWORD = {"type": "string", "minLength": MIN_PASSWORD_LENGTH, "maxLength": MAX_PASSWORD_LENGTH}
ANY_PASSWORD = {"type": "string", "minLength": 1, "maxLength": MAX_PASSWORD_LENGTH}
REFRESH_TOKEN = {"type": "string", "minLength": 1, "maxLength": 200}

USER_SCHEMA = obj(
    {"id": ID, "email": {"type": "string"}, "name": text(nullable=True), "created_at": TIMESTAMP},
    required=("id", "email", "name", "created_at"),
)
TENANT_SCHEMA = obj(
    {"id": ID, "name": {"type": "string"}, "slug": {"type": "string"}},
    required=("id", "name", "slug"),
)
MEMBERSHIP_SCHEMA = obj(
    {"tenant_id": ID, "name": {"type": "string"}, "slug": {"type": "string"}, "role": ROLE},
    required=("tenant_id", "name", "slug", "role"),
)
SESSION_SCHEMA = obj(
    {
        "access_token": {"type": "string"},
        "refresh_token": {"type": "string"},
        "token_type": {"const": "Bearer"},
        "expires_in": {"type": "integer", "description": "access token lifetime, seconds"},
        "expires_at": TIMESTAMP,
        "user": USER_SCHEMA,
        "tenant": TENANT_SCHEMA,
        "role": ROLE,
    },
    required=(
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "expires_at",
        "user",
        "tenant",
        "role",
    ),
)
ME_SCHEMA = obj(
    {
        "user": USER_SCHEMA,
        "tenant": {"anyOf": [TENANT_SCHEMA, {"type": "null"}]},
        "role": {"anyOf": [ROLE, {"type": "null"}]},
        "tenants": {"type": "array", "items": MEMBERSHIP_SCHEMA},
    },
    required=("user", "tenant", "role", "tenants"),
)


async def _session(
    call: Call,
    user: dict,
    tenant: dict,
    role: str,
    refresh_token: str | None = None,
    session_id: str | None = None,
) -> dict:
    """Issue the access token (and a new refresh family unless rotating one) for user + tenant;
    the access token names its family, so ending the session ends the access token too."""
    config = call.app[CONFIG]
    if refresh_token is None:
        refresh_token, session_id = await call.db(
            auth_service.create_refresh_token,
            user["id"],
            tenant["id"],
            config.refresh_token_ttl_ms,
            call.ip,
            call.user_agent,
        )
    access, expires_at = call.app[TOKENS].issue(user["id"], tenant["id"], session_id=session_id)
    call.audit.tenant_id = tenant["id"]
    call.audit.user_id = user["id"]
    call.audit.entity_id = user["id"]
    return {
        "access_token": access,
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "expires_in": config.access_token_ttl_ms // 1000,
        "expires_at": expires_at,
        "user": user,
        "tenant": tenant,
        "role": role,
    }


@ops.post(
    "/api/v1/auth/register",
    role=PUBLIC,
    rate_limit="auth",
    status=201,
    body=obj(
        {
            "email": EMAIL,
            "password": PASSWORD,
            "name": text(120),
            "tenant_name": text(120, 1),
            "invitation_token": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        required=("email", "password"),
    ),
    response=SESSION_SCHEMA,
    errors=(403, 404),
    example={
        "email": "owner@example.com",
        "password": "correct horse battery",
        "name": "Ada",
        "tenant_name": "Ada's Farm",
    },
    description="With `tenant_name`: a new tenant owned by the new account. With "
    "`invitation_token` instead: the account joins the inviting tenant with the invited role.",
)
async def register_account(call: Call):
    """Create an account (with a new tenant, or joining by invitation); returns a session."""
    body = call.body
    hasher = call.app[PASSWORDS]
    if "invitation_token" in body:
        user, tenant, role = await call.db(
            auth_service.register_invited,
            hasher,
            body["email"],
            body["password"],
            body.get("name"),
            body["invitation_token"],
        )
        return await _session(call, user, tenant, role)
    if "tenant_name" not in body:
        raise validation_error(
            "tenant_name", "tenant_name: required unless invitation_token is given"
        )
    user, tenant = await call.db(
        auth_service.register,
        hasher,
        body["email"],
        body["password"],
        body.get("name"),
        body["tenant_name"],
    )
    return await _session(call, user, tenant, "owner")


@ops.post(
    "/api/v1/auth/login",
    role=PUBLIC,
    rate_limit="auth",
    body=obj(
        {"email": EMAIL, "password": ANY_PASSWORD, "tenant_id": ID},
        required=("email", "password"),
    ),
    response=SESSION_SCHEMA,
    errors=(401, 403),
    example={"email": "owner@example.com", "password": "correct horse battery"},
)
async def login(call: Call):
    """Password login; `tenant_id` picks the tenant of the token (default: the first one)."""
    try:
        user = await call.db(
            auth_service.authenticate,
            call.app[PASSWORDS],
            call.body["email"],
            call.body["password"],
        )
    except ApiError:
        # No tenant to audit into; the log keeps the trail (never the password).
        log.info("login refused", extra={"email": call.body["email"][:254], "ip": call.ip})
        raise
    tenant, role = await call.db(auth_service.choose_tenant, user["id"], call.body.get("tenant_id"))
    return await _session(call, user, tenant, role)


@ops.post(
    "/api/v1/auth/refresh",
    role=PUBLIC,
    rate_limit="auth",
    body=obj({"refresh_token": REFRESH_TOKEN, "tenant_id": ID}, required=("refresh_token",)),
    response=SESSION_SCHEMA,
    errors=(401, 403),
    example={"refresh_token": "opaque-token-from-login"},
)
async def refresh(call: Call):
    """Rotate a refresh token: the old one is spent; presenting it again revokes the session."""
    try:
        user_id, tenant, role, new_token, session_id = await call.db(
            auth_service.rotate_refresh_token,
            call.body["refresh_token"],
            call.app[CONFIG].refresh_token_ttl_ms,
            call.body.get("tenant_id"),
            call.ip,
            call.user_agent,
        )
    except auth_service.RefreshReuse as reuse:
        # The refusal is itself a security event worth an audit row.
        call.audit.action = "session.refresh_token_reused"
        call.audit.tenant_id = reuse.tenant_id
        call.audit.user_id = reuse.user_id
        call.audit.entity_id = reuse.family_id
        await call.record_audit()
        raise
    user = (await call.db(auth_service.me, user_id, tenant["id"]))["user"]
    return await _session(call, user, tenant, role, refresh_token=new_token, session_id=session_id)


@ops.post(
    "/api/v1/auth/logout",
    role=USER,
    body=obj({"refresh_token": REFRESH_TOKEN}),
    example={"refresh_token": "opaque-token-from-login"},
)
async def logout(call: Call):
    """End the session of `refresh_token`, or every session of the caller when none is given."""
    token = call.body.get("refresh_token")
    if token:
        await call.db(auth_service.revoke_refresh_token, call.user_id, token)
    else:
        await call.db(auth_service.revoke_all_sessions, call.user_id)
    call.audit.entity_id = call.user_id
    return None


@ops.get("/api/v1/auth/me", role=USER, response=ME_SCHEMA)
async def me(call: Call):
    """The caller, the tenant of this token with their role, and every tenant they belong to."""
    return await call.db(auth_service.me, call.user_id, call.ctx.tenant_id)


@ops.post(
    "/api/v1/auth/password",
    role=USER,
    rate_limit="auth",
    body=obj(
        {"current_password": ANY_PASSWORD, "new_password": PASSWORD},
        required=("current_password", "new_password"),
    ),
    example={"current_password": "correct horse battery", "new_password": "another long secret"},
)
async def change_password(call: Call):
    """Change the password; every refresh token of the account is revoked (log in again)."""
    await call.db(
        auth_service.change_password,
        call.app[PASSWORDS],
        call.user_id,
        call.body["current_password"],
        call.body["new_password"],
    )
    call.audit.entity_id = call.user_id
    return None


def setup(app: web.Application) -> None:
    """Add the auth routes."""
    register(app, ops)
