"""Finished goods stock: items per SKU, a ledger of adjustments with reasons, the low-stock list."""

import peewee

from cloud.errors import validation_error
from cloud.models import FinishedGood, PrintJob, ProductSku, now_ms
from cloud.models.stock import StockAdjustment
from cloud.services import crud
from cloud.services.fields import choice, clean, flag, integer, reference, text

# Why stock changed. The system writes print_completed / assembly_completed / order_fulfilled;
# staff pick the others.
ADJUSTMENT_REASONS = (
    "initial_stock",
    "print_completed",
    "assembly_completed",
    "order_fulfilled",
    "sale",
    "return",
    "damaged",
    "count_correction",
    "other",
)
MAX_STOCK = 10_000_000

INVENTORY = crud.Resource(
    name="finished good",
    model=FinishedGood,
    fields={
        "product_sku_id": reference(ProductSku, required=True, create_only=True),
        "sku": text(100),
        "color": text(100),
        "material": text(50),
        "current_stock": integer(0, MAX_STOCK, create_only=True),  # later changes: adjustments
        "low_stock_threshold": integer(0, MAX_STOCK, nullable=False),
        "quantity_per_sku": integer(1, 10_000, nullable=False),
        "unit_price": integer(0),
        "extra_cost": integer(0),
        "profit_margin": integer(-1_000_000, 1_000_000),
        "requires_assembly": flag(),
        "quantity_needs_assembly": integer(0, MAX_STOCK),
        "status": text(32),
        "image_url": text(2000),
        "is_active": flag(),
    },
    filters={
        "product_sku_id": crud.Filter("product_sku_id"),
        "is_active": crud.Filter("is_active", "bool"),
        "status": crud.Filter("status"),
        "requires_assembly": crud.Filter("requires_assembly", "bool"),
    },
    search=("sku", "color", "material"),
    sortable=("sku", "current_stock", "created_at", "updated_at"),
    default_sort="sku",
)

ADJUSTMENTS = crud.Resource(
    name="stock adjustment",
    model=StockAdjustment,
    fields={},
    filters={"reason": crud.Filter("reason", "enum", ADJUSTMENT_REASONS)},
    sortable=("created_at",),
    default_sort="-created_at",
)

ADJUSTMENT_FIELDS = {
    "delta": integer(-MAX_STOCK, MAX_STOCK),
    "new_stock": integer(0, MAX_STOCK),
    "reason": choice(*ADJUSTMENT_REASONS, required=True),
    "notes": text(2000),
    "print_job_id": reference(PrintJob),
    "order_id": text(64),
}


def list_finished_goods(ctx, params) -> dict:
    """One page of finished goods (filters: product_sku_id, is_active, status, low_stock;
    q: sku/colour). `low_stock` true lists what needs printing, emptiest first."""
    params = dict(params)
    low = params.pop("low_stock", None)
    if low in (True, "true"):
        return low_stock(ctx, params)
    if low not in (None, False, "false"):
        raise validation_error("low_stock", "'low_stock' must be true or false")
    return crud.list_rows(ctx, INVENTORY, params)


def get_finished_good(ctx, good_id) -> dict:
    """One finished good."""
    return crud.to_api(INVENTORY, crud.get_row(ctx, INVENTORY, good_id))


def create_finished_good(ctx, data) -> dict:
    """Create a finished good for a SKU; sku/colour/material default to the SKU's.

    An initial stock is recorded in the ledger as `initial_stock`.
    """
    values = clean(ctx, data, INVENTORY.fields, partial=False)
    sku = ProductSku.get_scoped(ctx, values["product_sku_id"])
    values.setdefault("sku", sku.sku)
    values.setdefault("color", sku.color)
    values["material"] = values.get("material") or sku.filament_type or "unknown"
    values["sku"] = values["sku"] or sku.sku
    values["color"] = values["color"] or sku.color
    with crud.write_transaction():
        row = crud.create_row(ctx, INVENTORY, values)
        if row.current_stock:
            _ledger(ctx, row.id, row.current_stock, row.current_stock, "initial_stock", {})
    return crud.to_api(INVENTORY, row)


def update_finished_good(ctx, good_id, data) -> dict:
    """Change descriptive fields; stock changes go through adjust_stock."""
    values = clean(ctx, data, INVENTORY.fields, partial=True)
    return crud.to_api(INVENTORY, crud.update_row(ctx, INVENTORY, good_id, values))


def delete_finished_good(ctx, good_id) -> None:
    """Delete a finished good (its ledger and assembly tasks go with it)."""
    crud.delete_row(ctx, INVENTORY, good_id)


def adjust_stock(ctx, good_id, data) -> dict:
    """Apply one adjustment: `delta` (+/-) or an absolute `new_stock` count, with a reason.

    Stock never goes below zero; the ledger row and the new total commit together, and the
    update is a single `current_stock = current_stock + delta` so concurrent adjustments add up.
    Returns {"finished_good", "adjustment"}.
    """
    values = clean(ctx, data, ADJUSTMENT_FIELDS, partial=False)
    has_delta, has_count = values.get("delta") is not None, values.get("new_stock") is not None
    if has_delta == has_count:
        raise validation_error("delta", "give exactly one of 'delta' or 'new_stock'")
    with crud.write_transaction():
        good = crud.get_row(ctx, INVENTORY, good_id)
        delta = values["delta"] if has_delta else values["new_stock"] - (good.current_stock or 0)
        if delta == 0 and has_delta:
            raise validation_error("delta", "'delta' must not be zero")
        stock = FinishedGood.current_stock
        changed = (
            FinishedGood.update_scoped(ctx, current_stock=peewee.fn.COALESCE(stock, 0) + delta)
            .where(FinishedGood.id == good.id, peewee.fn.COALESCE(stock, 0) + delta >= 0)
            .execute()
        )
        if not changed:
            raise validation_error(
                "delta", f"stock would go below zero (current stock {good.current_stock or 0})"
            )
        good = FinishedGood.get_scoped(ctx, good.id)
        entry = _ledger(ctx, good.id, delta, good.current_stock, values["reason"], values)
    return {
        "finished_good": crud.to_api(INVENTORY, good),
        "adjustment": crud.to_api(ADJUSTMENTS, entry),
    }


def list_adjustments(ctx, good_id, params) -> dict:
    """The ledger of one finished good, newest first (filter: reason; from/to on created_at)."""
    good = crud.get_row(ctx, INVENTORY, good_id)
    query = StockAdjustment.scoped(ctx).where(StockAdjustment.finished_good_id == good.id)
    return crud.list_rows(ctx, ADJUSTMENTS, params, query=query)


def low_stock(ctx, params) -> dict:
    """Active finished goods at or below their low-stock threshold, emptiest first."""
    query = FinishedGood.scoped(ctx).where(
        peewee.fn.COALESCE(FinishedGood.current_stock, 0)
        <= peewee.fn.COALESCE(FinishedGood.low_stock_threshold, 0),
        FinishedGood.is_active == True,  # noqa: E712 - peewee expression
    )
    params = dict(params)
    if params.get("sort") in (None, INVENTORY.default_sort):  # the route's default: emptiest first
        params["sort"] = "current_stock"
    return crud.list_rows(ctx, INVENTORY, params, query=query)


def _ledger(ctx, good_id, delta, stock_after, reason, values) -> StockAdjustment:
    return StockAdjustment.create_scoped(
        ctx,
        finished_good_id=good_id,
        delta=delta,
        stock_after=stock_after,
        reason=reason,
        notes=values.get("notes"),
        print_job_id=values.get("print_job_id"),
        order_id=values.get("order_id"),
        created_by=ctx.user_id,
        created_at=now_ms(),
    )
