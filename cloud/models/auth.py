"""Cloud-only auth tables of migrations/0002_auth.sql: credentials, refresh tokens, invitations, kv."""

from peewee import IntegerField, TextField

from cloud.models.base import BaseModel, TenantModel, new_id


class UserCredential(BaseModel):
    """Row of `user_credentials`: a user's Argon2id password hash."""

    user_id = TextField(primary_key=True)
    password_hash = TextField()
    password_changed_at = IntegerField()
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "user_credentials"


class RefreshToken(BaseModel):
    """Row of `refresh_tokens`: one rotation step of a login session (family)."""

    id = TextField(primary_key=True, default=new_id)
    family_id = TextField()
    user_id = TextField()
    tenant_id = TextField()
    token_hash = TextField(unique=True)
    created_at = IntegerField()
    expires_at = IntegerField()
    used_at = IntegerField(null=True)
    revoked_at = IntegerField(null=True)
    ip_address = TextField(null=True)
    user_agent = TextField(null=True)

    class Meta:
        table_name = "refresh_tokens"


class Invitation(TenantModel):
    """Row of `invitations`: an email invited into a tenant with a role."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    email = TextField()
    role = TextField()
    token_hash = TextField(unique=True)
    invited_by = TextField(null=True)
    created_at = IntegerField()
    expires_at = IntegerField()
    accepted_at = IntegerField(null=True)

    class Meta:
        table_name = "invitations"


class KvEntry(BaseModel):
    """Row of `kv_entries`."""

    key = TextField(primary_key=True)
    value = TextField(null=True)
    counter = IntegerField(default=0)
    expires_at = IntegerField(null=True)

    class Meta:
        table_name = "kv_entries"


AUTH_MODELS = [UserCredential, RefreshToken, Invitation, KvEntry]
