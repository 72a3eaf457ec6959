"""Automation rules: strict validation naming the field, conditions, actions, once per event."""

import json

import pytest

from cloud.models import AutomationRule, PrintJob, WorklistTask
from cloud.queue import QueueStore
from cloud.services import automation
from cloud.services.automation import RuleError, validate_rule
from tests.cloud import model_factories as f


def make_rule(ctx, trigger, actions, conditions=None, config=None, name="rule"):
    return AutomationRule.create_scoped(
        ctx, name=name, **validate_rule(trigger, config, conditions, actions)
    )


@pytest.mark.parametrize(
    "trigger, config, conditions, actions, field",
    [
        ("print_done", None, None, [{"type": "notify", "message": "x"}], "trigger_type"),
        (
            "schedule",
            {},
            None,
            [{"type": "notify", "message": "x"}],
            "trigger_config.every_minutes",
        ),
        (
            "print_failed",
            {"colour": 1},
            None,
            [{"type": "notify", "message": "x"}],
            "trigger_config",
        ),
        (
            "print_failed",
            None,
            [{"field": "Bad Field", "op": "eq", "value": 1}],
            [{"type": "notify", "message": "x"}],
            "conditions[0].field",
        ),
        (
            "print_failed",
            None,
            [{"field": "layer", "op": "gt", "value": "ten"}],
            [{"type": "notify", "message": "x"}],
            "conditions[0].value",
        ),
        (
            "print_failed",
            None,
            [{"field": "layer", "op": "like"}],
            [{"type": "notify", "message": "x"}],
            "conditions[0].op",
        ),
        ("print_failed", None, None, [], "actions"),
        ("print_failed", None, None, [{"type": "reboot"}], "actions[0].type"),
        (
            "print_failed",
            None,
            None,
            [{"type": "notify", "message": "x"}, {"type": "send_webhook", "url": "ftp://x"}],
            "actions[1].url",
        ),
        (
            "print_failed",
            None,
            None,
            [{"type": "queue_job", "sku_id": "s", "count": 500}],
            "actions[0].count",
        ),
        (
            "print_failed",
            None,
            None,
            [{"type": "create_worklist_task", "title": "t", "task_type": "party"}],
            "actions[0].task_type",
        ),
    ],
)
def test_validation_names_the_field(trigger, config, conditions, actions, field):
    with pytest.raises(RuleError) as error:
        validate_rule(trigger, config, conditions, actions)
    assert error.value.field == field


@pytest.mark.parametrize(
    "cond, expected",
    [
        ({"field": "data.layer", "op": "gte", "value": 10}, True),
        ({"field": "data.layer", "op": "lt", "value": 10}, False),
        ({"field": "status", "op": "in", "value": ["failed", "cancelled"]}, True),
        ({"field": "failure_reason", "op": "contains", "value": "NOZZLE"}, True),
        ({"field": "missing", "op": "eq", "value": None}, False),
        ({"field": "missing", "op": "exists", "value": False}, True),
        ({"field": "status", "op": "gt", "value": 3}, False),  # text vs number: does not hold
    ],
)
def test_conditions(cond, expected):
    event = {"status": "failed", "failure_reason": "nozzle clog", "data": {"layer": 12}}
    assert automation.condition_holds(cond, event) is expected


def test_failed_print_creates_task_pauses_and_webhooks_once(any_db):
    ctx = f.tenant()
    printer = f.printer(ctx, f.hub(ctx))
    make_rule(
        ctx,
        "print_failed",
        [
            {
                "type": "create_worklist_task",
                "title": "Inspect {printer_name}: {failure_reason}",
                "task_type": "quality_check",
                "priority": "high",
            },
            {"type": "pause_printer"},
            {"type": "send_webhook", "url": "https://example.test/hook"},
        ],
        conditions=[{"field": "data.layer", "op": "gte", "value": 5}],
    )
    make_rule(
        ctx,
        "print_failed",
        [{"type": "notify", "message": "never"}],
        conditions=[{"field": "data.layer", "op": "lt", "value": 5}],
        name="early",
    )
    event = {
        "event_key": "job_failed:j1",
        "printer_id": printer.id,
        "printer_name": "P1",
        "failure_reason": "spaghetti",
        "data": {"layer": 40},
    }
    requests = automation.fire(ctx.tenant_id, "print_failed", event)
    assert requests == [{"type": "printer_command", "printer_id": printer.id, "action": "pause"}]
    assert automation.fire(ctx.tenant_id, "print_failed", event) == []  # same event: once
    (task,) = list(WorklistTask.scoped(ctx))
    assert (
        task.title == "Inspect P1: spaghetti"
        and task.priority == "high"
        and task.printer_id == printer.id
    )
    (hook,) = QueueStore().lease("notifications", "t")
    assert hook.payload["url"] == "https://example.test/hook" and hook.tenant_id == ctx.tenant_id
    fired = {r.name: r for r in AutomationRule.scoped(ctx)}
    assert fired["rule"].trigger_count == 1 and fired["rule"].last_triggered_at
    assert fired["early"].trigger_count == 0


def test_inventory_low_queues_jobs_for_the_sku(any_db):
    ctx = f.tenant()
    product, sku = f.product_with_sku(ctx)
    f.print_file(ctx, product_id=product.id)
    make_rule(
        ctx,
        "inventory_low",
        [{"type": "queue_job", "sku_id": "{sku_id}", "count": 2, "priority": 4}],
    )
    automation.fire(
        ctx.tenant_id, "inventory_low", {"event_key": "low:1", "sku_id": sku.id, "current_stock": 1}
    )
    queued = list(PrintJob.scoped(ctx))
    assert len(queued) == 2 and all(j.product_sku_id == sku.id and j.priority == 4 for j in queued)


def test_rules_never_reach_another_tenant(any_db):
    ctx, other = f.tenant("a"), f.tenant("b")
    foreign_printer = f.printer(other, f.hub(other))
    _product, foreign_sku = f.product_with_sku(other)
    make_rule(
        ctx,
        "print_failed",
        [
            {"type": "pause_printer", "printer_id": foreign_printer.id},
            {"type": "queue_job", "sku_id": foreign_sku.id},
        ],
    )
    requests = automation.fire(ctx.tenant_id, "print_failed", {"event_key": "k"})
    assert requests == [{"type": "notify", "message": f"rule rule: SKU {foreign_sku.id} not found"}]
    assert list(PrintJob.scoped(other)) == []


def test_schedules_fire_once_per_interval(any_db):
    ctx = f.tenant()
    rule = make_rule(
        ctx,
        "schedule",
        [{"type": "create_worklist_task", "title": "Daily nozzle check"}],
        config={"every_minutes": 60},
    )
    now = 1_800_000_000_000
    assert automation.due_schedules(now) == [(ctx.tenant_id, rule.id)]
    automation.fire_schedule(ctx.tenant_id, rule.id, now)
    automation.fire_schedule(ctx.tenant_id, rule.id, now + 1000)  # a second scheduler, same slot
    assert automation.due_schedules(now + 1000) == []
    assert automation.due_schedules(now + 3_600_000) == [(ctx.tenant_id, rule.id)]
    assert len(list(WorklistTask.scoped(ctx))) == 1
    assert json.loads(AutomationRule.get_scoped(ctx, rule.id).trigger_config) == {
        "every_minutes": 60
    }
