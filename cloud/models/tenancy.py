"""Tenants, users and their memberships (who belongs to which farm, with which role)."""

from peewee import CompositeKey, IntegerField, TextField

from cloud.models.base import BaseModel, FlagField, TenantModel, new_id


class Tenant(BaseModel):
    """Row of `tenants`."""

    id = TextField(primary_key=True, default=new_id)
    name = TextField()
    slug = TextField()
    subscription_tier = TextField(default="free", null=True)
    subscription_status = TextField(default="active", null=True)
    settings = TextField(null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "tenants"


class User(BaseModel):
    """Row of `users`."""

    id = TextField(primary_key=True, default=new_id)
    email = TextField()
    name = TextField(null=True)
    avatar_url = TextField(null=True)
    email_verified = FlagField(default=0, null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "users"


class TenantMember(TenantModel):
    """Row of `tenant_members`."""

    tenant_id = TextField()
    user_id = TextField()
    role = TextField(default="viewer")
    created_at = IntegerField()

    class Meta:
        table_name = "tenant_members"
        primary_key = CompositeKey("tenant_id", "user_id")
