"""Stock adjustments: the ledger behind finished_goods.current_stock."""

from peewee import IntegerField, TextField

from cloud.models.base import TenantModel, new_id


class StockAdjustment(TenantModel):
    """Row of `stock_adjustments`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    finished_good_id = TextField()
    delta = IntegerField()
    stock_after = IntegerField()
    reason = TextField()
    notes = TextField(null=True)
    print_job_id = TextField(null=True)
    order_id = TextField(null=True)
    created_by = TextField(null=True)
    created_at = IntegerField()

    class Meta:
        table_name = "stock_adjustments"
