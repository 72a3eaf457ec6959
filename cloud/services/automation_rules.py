"""Automation rules: CRUD and strict validation of trigger config, conditions and actions JSON.

The engine that runs them lives with the jobs/real-time work; this module fixes their shape:

trigger_config by trigger_type
  print_complete, print_failed  {"printer_ids"?: [id], "product_ids"?: [id]}
  printer_idle                  {"idle_minutes": 1..10080, "printer_ids"?: [id]}
  order_received                {"sources"?: ["shopify"|"manual"|"woocommerce"|"api"]}
  inventory_low                 {"finished_good_ids"?: [id]}
  schedule                      exactly one of {"cron": "m h dom mon dow"} / {"interval_minutes": n}
conditions  [{"field": "a.b", "op": eq|ne|gt|gte|lt|lte|in|not_in|contains, "value": ...}]
actions     [{"type": create_worklist_task|queue_print_job|send_webhook|pause_printer|notify, ...}]
"""

import json
import re

from cloud.errors import validation_error
from cloud.models import AutomationRule
from cloud.services import crud
from cloud.services.fields import choice, clean, flag, json_value, text
from cloud.services.orders import ORDER_SOURCES
from cloud.services.worklist import PRIORITIES, TASK_TYPES

TRIGGER_TYPES = (
    "print_complete",
    "print_failed",
    "printer_idle",
    "order_received",
    "inventory_low",
    "schedule",
)
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains")
ACTION_TYPES = (
    "create_worklist_task",
    "queue_print_job",
    "send_webhook",
    "pause_printer",
    "notify",
)
MAX_CONDITIONS = 20
MAX_ACTIONS = 10
_FIELD_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*){0,4}$")
_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

RULES = crud.Resource(
    name="automation rule",
    model=AutomationRule,
    fields={
        "name": text(200, required=True),
        "description": text(2000),
        "trigger_type": choice(*TRIGGER_TYPES, required=True),
        "trigger_config": json_value(),
        "conditions": json_value(),
        "actions": json_value(required=True),
        "is_active": flag(),
    },
    filters={
        "trigger_type": crud.Filter("trigger_type", "enum", TRIGGER_TYPES),
        "is_active": crud.Filter("is_active", "bool"),
    },
    search=("name",),
    sortable=("name", "created_at", "updated_at", "last_triggered_at", "trigger_count"),
    default_sort="name",
)


class _Invalid(ValueError):
    """A rule document problem at a JSON path."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


def validate_rule(trigger_type: str, trigger_config, conditions, actions) -> None:
    """Raise a 422 naming the exact JSON path of the first problem in a rule."""
    try:
        _check_trigger(trigger_type, {} if trigger_config is None else trigger_config)
        _check_conditions([] if conditions is None else conditions)
        _check_actions(actions)
    except _Invalid as exc:
        raise validation_error(exc.path, f"'{exc.path}': {exc}") from None


def _object(path, value, required: dict, optional: dict) -> dict:
    """Check a JSON object's keys: every required one present, nothing unknown."""
    if not isinstance(value, dict):
        raise _Invalid(path, "must be a JSON object")
    for key in value:
        if key not in required and key not in optional:
            raise _Invalid(f"{path}.{key}", "unknown key")
    for key, check in required.items():
        if key not in value:
            raise _Invalid(f"{path}.{key}", "is required")
        check(f"{path}.{key}", value[key])
    for key, check in optional.items():
        if key in value:
            check(f"{path}.{key}", value[key])
    return value


def _ids(path, value):
    if not isinstance(value, list) or len(value) > 500:
        raise _Invalid(path, "must be an array of at most 500 ids")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not 0 < len(item) <= 64:
            raise _Invalid(f"{path}[{i}]", "must be an id string")


def _int_between(low, high):
    def check(path, value):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(path, f"must be an integer from {low} to {high}")

    return check


def _string(max_length, pattern=None, label="a string"):
    def check(path, value):
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            raise _Invalid(path, f"must be a non-empty string of at most {max_length} characters")
        if pattern is not None and not pattern.match(value):
            raise _Invalid(path, f"must be {label}")

    return check


def _one_of(*choices):
    def check(path, value):
        if value not in choices:
            raise _Invalid(path, f"must be one of: {', '.join(choices)}")

    return check


def _list_of(check_item, max_items=50):
    def check(path, value):
        if not isinstance(value, list) or len(value) > max_items:
            raise _Invalid(path, f"must be an array of at most {max_items} entries")
        for i, item in enumerate(value):
            check_item(f"{path}[{i}]", item)

    return check


def _cron(path, value):
    _string(100)(path, value)
    fields = value.split()
    if len(fields) != 5:
        raise _Invalid(path, "must have 5 fields: minute hour day-of-month month day-of-week")
    for text_value, (low, high) in zip(fields, _CRON_RANGES, strict=True):
        if not _CRON_FIELD.match(text_value):
            raise _Invalid(path, f"field {text_value!r} is not a cron field")
        for number in re.findall(r"\d+", text_value.split("/")[0]):
            if not low <= int(number) <= high:
                raise _Invalid(path, f"{number} is outside {low}-{high}")


def _check_trigger(trigger_type: str, config) -> None:
    path = "trigger_config"
    if trigger_type in ("print_complete", "print_failed"):
        _object(path, config, {}, {"printer_ids": _ids, "product_ids": _ids})
    elif trigger_type == "printer_idle":
        _object(path, config, {"idle_minutes": _int_between(1, 10080)}, {"printer_ids": _ids})
    elif trigger_type == "order_received":
        _object(path, config, {}, {"sources": _list_of(_one_of(*ORDER_SOURCES))})
    elif trigger_type == "inventory_low":
        _object(path, config, {}, {"finished_good_ids": _ids})
    elif trigger_type == "schedule":
        _object(path, config, {}, {"cron": _cron, "interval_minutes": _int_between(1, 525600)})
        if ("cron" in config) == ("interval_minutes" in config):
            raise _Invalid(path, "give exactly one of 'cron' or 'interval_minutes'")


def _scalar(path, value):
    if isinstance(value, (dict, list)) or (isinstance(value, str) and len(value) > 500):
        raise _Invalid(path, "must be a string (max 500), number, boolean or null")


def _check_conditions(conditions) -> None:
    if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
        raise _Invalid("conditions", f"must be an array of at most {MAX_CONDITIONS} conditions")
    for i, condition in enumerate(conditions):
        path = f"conditions[{i}]"
        _object(
            path,
            condition,
            {
                "field": _string(100, _FIELD_PATH, "a dotted field name"),
                "op": _one_of(*OPERATORS),
                "value": lambda p, v: None,
            },
            {},
        )
        if condition["op"] in ("in", "not_in"):
            _list_of(_scalar, 100)(f"{path}.value", condition["value"])
        else:
            _scalar(f"{path}.value", condition["value"])


_ACTION_KEYS = {
    "create_worklist_task": (
        {"title": _string(200), "task_type": _one_of(*TASK_TYPES)},
        {"priority": _one_of(*PRIORITIES), "description": _string(5000)},
    ),
    "queue_print_job": (
        {"product_sku_id": _string(64)},
        {
            "quantity": _int_between(1, 1000),
            "priority": _int_between(-1000, 1000),
            "printer_id": _string(64),
        },
    ),
    "send_webhook": ({"url": _string(2000, _URL, "an http(s) URL")}, {}),
    "pause_printer": ({}, {"printer_id": _string(64)}),
    "notify": (
        {"message": _string(2000)},
        {
            "channel": _one_of("dashboard", "email"),
            "recipients": _list_of(_string(320, _EMAIL, "an email address"), 20),
        },
    ),
}


def _check_actions(actions) -> None:
    if not isinstance(actions, list) or not 0 < len(actions) <= MAX_ACTIONS:
        raise _Invalid("actions", f"must be an array of 1 to {MAX_ACTIONS} actions")
    for i, action in enumerate(actions):
        path = f"actions[{i}]"
        if not isinstance(action, dict):
            raise _Invalid(path, "must be a JSON object")
        kind = action.get("type")
        if kind not in _ACTION_KEYS:
            raise _Invalid(f"{path}.type", f"must be one of: {', '.join(ACTION_TYPES)}")
        required, optional = _ACTION_KEYS[kind]
        _object(path, action, required, {**optional, "type": lambda p, v: None})


def _decoded(row, values, name):
    if name in values:
        return None if values[name] is None else json.loads(values[name])
    raw = getattr(row, name, None) if row is not None else None
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
    validate_rule(
        values["trigger_type"],
        _decoded(None, values, "trigger_config"),
        _decoded(None, values, "conditions"),
        _decoded(None, values, "actions"),
    )
    return crud.to_api(RULES, crud.create_row(ctx, RULES, values))


def update_rule(ctx, rule_id, data) -> dict:
    """Change a rule; the merged rule is validated as a whole."""
    values = clean(ctx, data, RULES.fields, partial=True)
    if "actions" in values and values["actions"] is None:
        raise validation_error("actions", "'actions' must not be empty")
    with crud.write_transaction():
        row = crud.get_row(ctx, RULES, rule_id)
        validate_rule(
            values.get("trigger_type", row.trigger_type),
            _decoded(row, values, "trigger_config"),
            _decoded(row, values, "conditions"),
            _decoded(row, values, "actions"),
        )
        return crud.to_api(RULES, crud.update_row(ctx, RULES, row.id, values))


def delete_rule(ctx, rule_id) -> None:
    """Delete a rule."""
    crud.delete_row(ctx, RULES, rule_id)
