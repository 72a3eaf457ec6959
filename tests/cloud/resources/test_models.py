"""The models this module set added match their tables column for column (0003, 0008)."""

from cloud.db import open_database
from cloud.db.introspect import schema_of
from cloud.db.migrate import migrate
from cloud.models.file_details import PrintFileDetail, PrintFilePlate
from cloud.models.integrations import Integration, OrderExternalRef
from cloud.models.stock import StockAdjustment
from tests.conftest import sqlite_url

MODELS = [PrintFileDetail, PrintFilePlate, StockAdjustment, Integration, OrderExternalRef]


def test_models_match_tables(tmp_path):
    database = open_database(sqlite_url(tmp_path))
    migrate(database)
    schema = schema_of(database)
    for model in MODELS:
        table = schema[model._meta.table_name]
        assert set(model._meta.columns) == set(table["columns"]), model.__name__
        for name, field in model._meta.columns.items():
            if name not in table["primary_key"]:
                assert field.null == (not table["columns"][name]["not_null"]), (model, name)
    database.close()
