"""peewee models of every table; columns match migrations/ exactly (tests/cloud/test_models.py)."""

from cloud.models.automation import AutomationRule
from cloud.models.base import (
    BaseModel,
    FlagField,
    RecordNotFound,
    TenantContext,
    TenantModel,
    TenantScopeError,
    new_id,
    now_ms,
    system_access,
)
from cloud.models.cameras import Camera
from cloud.models.catalog import BuildPlateType, ColorPreset, Product, ProductSku
from cloud.models.files import PrintFile
from cloud.models.hubs import Hub
from cloud.models.inventory import FinishedGood
from cloud.models.jobs import PrintJob
from cloud.models.logs import AuditLog, SyncLog
from cloud.models.orders import Order, OrderItem
from cloud.models.printers import Printer, PrinterFailure
from cloud.models.tasks import AssemblyTask, WorklistTask
from cloud.models.tenancy import Tenant, TenantMember, User
from cloud.models.wiki import WikiArticle

# Every model class, in the order of the spec (tests compare these with the database).
ALL_MODELS = [
    Tenant,
    User,
    TenantMember,
    Hub,
    Printer,
    PrinterFailure,
    Product,
    ProductSku,
    ColorPreset,
    BuildPlateType,
    PrintFile,
    PrintJob,
    FinishedGood,
    AssemblyTask,
    WorklistTask,
    Order,
    OrderItem,
    WikiArticle,
    Camera,
    AutomationRule,
    SyncLog,
    AuditLog,
]

__all__ = [
    "BaseModel",
    "FlagField",
    "RecordNotFound",
    "TenantContext",
    "TenantModel",
    "TenantScopeError",
    "new_id",
    "now_ms",
    "system_access",
    "ALL_MODELS",
    "Tenant",
    "User",
    "TenantMember",
    "Hub",
    "Printer",
    "PrinterFailure",
    "Product",
    "ProductSku",
    "ColorPreset",
    "BuildPlateType",
    "PrintFile",
    "PrintJob",
    "FinishedGood",
    "AssemblyTask",
    "WorklistTask",
    "Order",
    "OrderItem",
    "WikiArticle",
    "Camera",
    "AutomationRule",
    "SyncLog",
    "AuditLog",
]
