"""Automation rules CRUD. A rule's trigger config, conditions and actions are validated by the
engine's own validator (cloud.services.automation, documented in docs/automation.md), so what
the API accepts is exactly what the engine runs."""

import json

from cloud.errors import validation_error
from cloud.models import AutomationRule
from cloud.services import automation, crud
from cloud.services.fields import choice, clean, flag, json_value, text

RULES = crud.Resource(
    name="automation rule",
    model=AutomationRule,
    fields={
        "name": text(200, required=True),
        "description": text(2000),
        "trigger_type": choice(*automation.TRIGGERS, required=True),
        "trigger_config": json_value(),
        "conditions": json_value(),
        "actions": json_value(required=True),
        "is_active": flag(),
    },
    filters={
        "trigger_type": crud.Filter("trigger_type", "enum", automation.TRIGGERS),
        "is_active": crud.Filter("is_active", "bool"),
    },
    search=("name",),
    sortable=("name", "created_at", "updated_at", "last_triggered_at", "trigger_count"),
    default_sort="name",
)


def validate_rule(trigger_type, trigger_config, conditions, actions) -> dict:
    """The engine's validation; a problem is a 422 naming its JSON path (e.g. actions[0].url)."""
    try:
        return automation.validate_rule(trigger_type, trigger_config, conditions, actions)
    except automation.RuleError as exc:
        raise validation_error(exc.field, f"'{exc.field}': {exc.message}") from None


def _decoded(row, values, name):
    """A JSON column's value after this change: the new one if given, else the stored one."""
    raw = values[name] if name in values else (getattr(row, name) if row is not None else None)
    return None if raw is None else json.loads(raw)


def list_rules(ctx, params) -> dict:
    """One page of rules (filters: trigger_type, is_active; q: name)."""
    return crud.list_rows(ctx, RULES, params)


def get_rule(ctx, rule_id) -> dict:
    """One rule."""
    return crud.to_api(RULES, crud.get_row(ctx, RULES, rule_id))


def create_rule(ctx, data) -> dict:
    """Create a rule after validating its trigger config, conditions and actions."""
    values = clean(ctx, data, RULES.fields, partial=False)
    values.update(
        validate_rule(
            values["trigger_type"],
            _decoded(None, values, "trigger_config"),
            _decoded(None, values, "conditions"),
            _decoded(None, values, "actions"),
        )
    )
    return crud.to_api(RULES, crud.create_row(ctx, RULES, values))


def update_rule(ctx, rule_id, data) -> dict:
    """Change a rule; the merged rule is validated as a whole."""
    values = clean(ctx, data, RULES.fields, partial=True)
    if "actions" in values and values["actions"] is None:
        raise validation_error("actions", "'actions' must not be empty")
    with crud.write_transaction():
        row = crud.get_row(ctx, RULES, rule_id)
        checked = validate_rule(
            values.get("trigger_type", row.trigger_type),
            _decoded(row, values, "trigger_config"),
            _decoded(row, values, "conditions"),
            _decoded(row, values, "actions"),
        )
        values.update({k: v for k, v in checked.items() if k in values})
        return crud.to_api(RULES, crud.update_row(ctx, RULES, row.id, values))


def delete_rule(ctx, rule_id) -> None:
    """Delete a rule."""
    crud.delete_row(ctx, RULES, rule_id)
