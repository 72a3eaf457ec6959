"""Membership checks the resources need (assignees must belong to the tenant)."""

from cloud.errors import validation_error
from cloud.models import TenantMember


def check_assignee(ctx, field: str, user_id) -> None:
    """422 naming `field` unless `user_id` is a member of the caller's tenant."""
    if user_id is None:
        return
    if not TenantMember.scoped(ctx).where(TenantMember.user_id == user_id).exists():
        raise validation_error(field, f"'{field}': no member {user_id!r} in this tenant")
