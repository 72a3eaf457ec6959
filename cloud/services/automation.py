"""Automation rules: the one definition of their JSON (validation) and their execution.

A rule has a trigger (`trigger_type` + `trigger_config`), `conditions` (all must hold) over the
event, and `actions`. Events carry an `event_key`; each rule runs at most once per event (the
effects ledger), so a redelivered queue message never fires a rule twice. Format: docs/automation.md.
"""

import json
import re

from cloud.db import database_proxy
from cloud.models import (
    AutomationRule,
    Printer,
    PrintFile,
    ProductSku,
    WorklistTask,
    now_ms,
    system_access,
)
from cloud.models.base import TenantContext
from cloud.queue.store import QueueStore
from cloud.services.effects import claim_effect

TRIGGERS = (
    "print_complete",
    "print_failed",
    "printer_idle",
    "order_received",
    "inventory_low",
    "schedule",
)
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists")
TASK_TYPES = ("assembly", "filament_change", "collection", "maintenance", "quality_check")
PRIORITIES = ("low", "medium", "high")
MAX_ACTIONS = 10
MAX_CONDITIONS = 20
MAX_JOBS_PER_ACTION = 50

_FIELD = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.I)
_TEMPLATE_FIELD = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


class RuleError(ValueError):
    """A rule that does not validate; `field` names the offending part (e.g. actions[1].url)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


# --- validation --------------------------------------------------------------------------------


def _require(condition: bool, field: str, message: str) -> None:
    if not condition:
        raise RuleError(field, message)


def _string(value, field: str, max_len: int = 200) -> str:
    _require(
        isinstance(value, str) and 0 < len(value.strip()) <= max_len,
        field,
        f"must be a non-empty string of at most {max_len} characters",
    )
    return value


def validate_trigger(trigger_type, trigger_config) -> dict:
    """Check a trigger; returns the normalised config."""
    _require(trigger_type in TRIGGERS, "trigger_type", f"must be one of {', '.join(TRIGGERS)}")
    config = {} if trigger_config is None else trigger_config
    _require(isinstance(config, dict), "trigger_config", "must be an object")
    if trigger_type == "schedule":
        every = config.get("every_minutes")
        _require(
            isinstance(every, int) and not isinstance(every, bool) and 1 <= every <= 7 * 24 * 60,
            "trigger_config.every_minutes",
            "schedule rules need every_minutes between 1 and 10080",
        )
    for key in ("printer_ids", "sku_ids"):
        if key in config:
            ids = config[key]
            _require(
                isinstance(ids, list) and all(isinstance(i, str) for i in ids),
                f"trigger_config.{key}",
                "must be a list of ids",
            )
    unknown = set(config) - {"every_minutes", "printer_ids", "sku_ids"}
    _require(not unknown, "trigger_config", f"unknown keys: {', '.join(sorted(unknown))}")
    return config


def validate_conditions(conditions) -> list:
    """Check the condition list: [{field, op, value}], all must hold."""
    conditions = [] if conditions is None else conditions
    _require(
        isinstance(conditions, list) and len(conditions) <= MAX_CONDITIONS,
        "conditions",
        f"must be a list of at most {MAX_CONDITIONS}",
    )
    for i, cond in enumerate(conditions):
        where = f"conditions[{i}]"
        _require(isinstance(cond, dict), where, "must be an object")
        _require(
            isinstance(cond.get("field"), str) and _FIELD.match(cond["field"]) is not None,
            f"{where}.field",
            "must be a field name like status or data.layer",
        )
        _require(
            cond.get("op") in OPERATORS, f"{where}.op", f"must be one of {', '.join(OPERATORS)}"
        )
        if cond["op"] in ("in", "not_in"):
            _require(
                isinstance(cond.get("value"), list),
                f"{where}.value",
                "must be a list for in/not_in",
            )
        elif cond["op"] in ("gt", "gte", "lt", "lte"):
            value = cond.get("value")
            _require(
                isinstance(value, int | float) and not isinstance(value, bool),
                f"{where}.value",
                "must be a number",
            )
        elif cond["op"] != "exists":
            _require("value" in cond, f"{where}.value", "is required")
    return conditions


def validate_actions(actions) -> list:
    """Check the action list (at least one)."""
    _require(
        isinstance(actions, list) and 1 <= len(actions) <= MAX_ACTIONS,
        "actions",
        f"must be a list of 1 to {MAX_ACTIONS} actions",
    )
    for i, action in enumerate(actions):
        where = f"actions[{i}]"
        _require(isinstance(action, dict), where, "must be an object")
        kind = action.get("type")
        _require(
            kind in _ACTION_CHECKS, f"{where}.type", f"must be one of {', '.join(_ACTION_CHECKS)}"
        )
        _ACTION_CHECKS[kind](action, where)
    return actions


def _check_task(action, where):
    _string(action.get("title"), f"{where}.title")
    _require(
        action.get("task_type", "maintenance") in TASK_TYPES,
        f"{where}.task_type",
        f"must be one of {', '.join(TASK_TYPES)}",
    )
    _require(
        action.get("priority", "medium") in PRIORITIES,
        f"{where}.priority",
        f"must be one of {', '.join(PRIORITIES)}",
    )


def _check_queue_job(action, where):
    _require(
        isinstance(action.get("sku_id"), str) or action.get("sku_id") == "{sku_id}",
        f"{where}.sku_id",
        "must be a SKU id (or {sku_id} for the event's SKU)",
    )
    count = action.get("count", 1)
    _require(
        isinstance(count, int)
        and not isinstance(count, bool)
        and 1 <= count <= MAX_JOBS_PER_ACTION,
        f"{where}.count",
        f"must be 1 to {MAX_JOBS_PER_ACTION}",
    )
    priority = action.get("priority", 0)
    _require(
        isinstance(priority, int) and not isinstance(priority, bool),
        f"{where}.priority",
        "must be an integer",
    )


def _check_webhook(action, where):
    _require(
        isinstance(action.get("url"), str)
        and _URL.match(action["url"]) is not None
        and len(action["url"]) <= 2000,
        f"{where}.url",
        "must be an http(s) URL",
    )


def _check_pause(action, where):
    if "printer_id" in action:
        _string(action["printer_id"], f"{where}.printer_id")


def _check_notify(action, where):
    _string(action.get("message"), f"{where}.message", 1000)


_ACTION_CHECKS = {
    "create_worklist_task": _check_task,
    "queue_job": _check_queue_job,
    "send_webhook": _check_webhook,
    "pause_printer": _check_pause,
    "notify": _check_notify,
}


def validate_rule(trigger_type, trigger_config, conditions, actions) -> dict:
    """Validate a whole rule; returns the JSON texts to store in automation_rules."""
    return {
        "trigger_type": trigger_type,
        "trigger_config": json.dumps(validate_trigger(trigger_type, trigger_config)),
        "conditions": json.dumps(validate_conditions(conditions)),
        "actions": json.dumps(validate_actions(actions)),
    }


# --- evaluation --------------------------------------------------------------------------------


def _lookup(event: dict, path: str):
    value = event
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


_MISSING = object()


def condition_holds(cond: dict, event: dict) -> bool:
    """One condition against an event; a missing field fails every operator but `exists`."""
    value = _lookup(event, cond["field"])
    op, expected = cond["op"], cond.get("value")
    if op == "exists":
        return (value is not _MISSING) == (expected is not False)
    if value is _MISSING:
        return False
    try:
        return {
            "eq": lambda: value == expected,
            "ne": lambda: value != expected,
            "gt": lambda: value > expected,
            "gte": lambda: value >= expected,
            "lt": lambda: value < expected,
            "lte": lambda: value <= expected,
            "in": lambda: value in expected,
            "not_in": lambda: value not in expected,
            "contains": lambda: str(expected).lower() in str(value).lower(),
        }[op]()
    except TypeError:  # comparing a number with text: the condition simply does not hold
        return False


def render(template: str, event: dict) -> str:
    """Fill {field} placeholders from the event; unknown fields stay as written."""

    def fill(match):
        value = _lookup(event, match.group(1))
        return match.group(0) if value is _MISSING else str(value)

    return _TEMPLATE_FIELD.sub(fill, template)


def _trigger_matches(config: dict, event: dict) -> bool:
    """Trigger filters: a rule limited to some printers or SKUs ignores the others."""
    for key, event_key in (("printer_ids", "printer_id"), ("sku_ids", "sku_id")):
        if config.get(key) and event.get(event_key) not in config[key]:
            return False
    return True


def _apply_rule(ctx: TenantContext, rule, event: dict, now: int) -> list[dict] | None:
    """Run one rule's actions for one event, once (None when it already ran for this event)."""
    event_key = event.get("event_key")
    if event_key and not claim_effect(f"automation:{rule.id}:{event_key}", ctx.tenant_id):
        return None
    requests = []
    for action in json.loads(rule.actions):
        requests.extend(_run_action(ctx, rule, action, event))
    AutomationRule.update_scoped(
        ctx, last_triggered_at=now, trigger_count=AutomationRule.trigger_count + 1
    ).where(AutomationRule.id == rule.id).execute()
    return requests


def fire(tenant_id: str, trigger: str, event: dict) -> list[dict]:
    """Run every active rule of the tenant for this trigger and event, once per event.

    DB actions (tasks, jobs, webhook deliveries via the notifications queue) happen in this
    transaction; the returned requests (`printer_command`, `notify`) are for the async layer.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    requests: list[dict] = []
    ctx = TenantContext(tenant_id=tenant_id)
    with database_proxy.atomic():
        rules = (
            AutomationRule.scoped(ctx)
            .where((AutomationRule.trigger_type == trigger) & (AutomationRule.is_active == True))
            .order_by(AutomationRule.created_at, AutomationRule.id)
        )
        for rule in rules:
            config = json.loads(rule.trigger_config or "{}")
            conditions = json.loads(rule.conditions or "[]")
            if not _trigger_matches(config, event) or not all(
                condition_holds(c, event) for c in conditions
            ):
                continue
            requests.extend(_apply_rule(ctx, rule, event, now_ms()) or [])
    return requests


def _run_action(ctx: TenantContext, rule, action: dict, event: dict) -> list[dict]:
    kind = action["type"]
    if kind == "create_worklist_task":
        WorklistTask.create_scoped(
            ctx,
            title=render(action["title"], event)[:200],
            description=render(action.get("description", ""), event)[:2000] or None,
            task_type=action.get("task_type", "maintenance"),
            priority=action.get("priority", "medium"),
            status="pending",
            printer_id=_own_printer(ctx, event.get("printer_id")),
            metadata=json.dumps({"rule_id": rule.id, "event_key": event.get("event_key")}),
        )
        return []
    if kind == "queue_job":
        from cloud.services.jobs import create_job  # jobs imports nothing of automation

        sku_id = event.get("sku_id") if action["sku_id"] == "{sku_id}" else action["sku_id"]
        sku = ProductSku.scoped(ctx).where(ProductSku.id == sku_id).first() if sku_id else None
        if sku is None:
            return [{"type": "notify", "message": f"rule {rule.name}: SKU {sku_id} not found"}]
        print_file = (
            action.get("print_file_id")
            and PrintFile.scoped(ctx).where(PrintFile.id == action["print_file_id"]).first()
        )
        if not print_file:
            print_file = (
                PrintFile.scoped(ctx)
                .where(PrintFile.product_id == sku.product_id)
                .order_by(PrintFile.created_at)
                .first()
            )
        if print_file is None:
            return [
                {"type": "notify", "message": f"rule {rule.name}: no print file for SKU {sku.sku}"}
            ]
        for _ in range(action.get("count", 1)):
            create_job(
                ctx,
                print_file_id=print_file.id,
                product_sku_id=sku.id,
                priority=action.get("priority", 0),
            )
        return []
    if kind == "send_webhook":
        QueueStore().enqueue(
            "notifications",
            {"kind": "webhook", "url": action["url"], "rule_id": rule.id, "event": event},
            tenant_id=ctx.tenant_id,
            dedupe_key=f"webhook:{rule.id}:{event.get('event_key')}"
            if event.get("event_key")
            else None,
        )
        return []
    if kind == "pause_printer":
        printer_id = _own_printer(ctx, action.get("printer_id") or event.get("printer_id"))
        return (
            [{"type": "printer_command", "printer_id": printer_id, "action": "pause"}]
            if printer_id
            else []
        )
    if kind == "notify":
        return [{"type": "notify", "message": render(action["message"], event)}]
    return []


def _own_printer(ctx: TenantContext, printer_id: str | None) -> str | None:
    """The id if it is a printer of this tenant (rules never reach another tenant's printer)."""
    if not printer_id:
        return None
    return printer_id if Printer.scoped(ctx).where(Printer.id == printer_id).exists() else None


def due_schedules(now: int | None = None) -> list[tuple[str, str]]:
    """(tenant_id, rule_id) of schedule rules whose interval has elapsed, across tenants."""
    now = now or now_ms()
    due = []
    with system_access():
        for rule in AutomationRule.select().where(
            (AutomationRule.trigger_type == "schedule") & (AutomationRule.is_active == True)
        ):
            every = json.loads(rule.trigger_config or "{}").get("every_minutes")
            if every and (rule.last_triggered_at or 0) + every * 60_000 <= now:
                due.append((rule.tenant_id, rule.id))
    return due


def fire_schedule(tenant_id: str, rule_id: str, now: int | None = None) -> list[dict]:
    """Run one due schedule rule for its current interval (once, even if two schedulers race)."""
    now = now or now_ms()
    with system_access():
        rule = AutomationRule.get_or_none(
            (AutomationRule.id == rule_id) & (AutomationRule.tenant_id == tenant_id)
        )
    if rule is None:
        return []
    every = json.loads(rule.trigger_config or "{}").get("every_minutes", 1)
    slot = now // (every * 60_000)
    event = {
        "trigger": "schedule",
        "event_key": f"schedule:{rule_id}:{slot}",
        "rule_id": rule_id,
        "time": now,
    }
    with database_proxy.atomic():
        return _apply_rule(TenantContext(tenant_id=tenant_id), rule, event, now) or []
