"""/api/v1/analytics: farm metrics over a date range, and CSV export."""

from aiohttp import web

from cloud.api.operations import Call, OperationGroup, Param, register
from cloud.api.schemas import MAX_INT64, obj
from cloud.services import analytics as service

ops = OperationGroup(tag="analytics", resource="analytics", description="Reports and analytics")

RANGE = [
    Param("from", {"type": "integer", "minimum": 0, "maximum": MAX_INT64}, "start (epoch ms)"),
    Param(
        "to", {"type": "integer", "minimum": 0, "maximum": MAX_INT64}, "end, exclusive (epoch ms)"
    ),
]
_COUNT = {"type": "integer", "minimum": 0}
SUMMARY = obj(
    {
        "from": {"type": "integer"},
        "to": {"type": "integer"},
        "print_success": obj(
            {
                "completed": _COUNT,
                "failed": _COUNT,
                "cancelled": _COUNT,
                "success_rate": {"type": ["number", "null"]},
            },
            required=("completed", "failed", "cancelled", "success_rate"),
        ),
        "filament_used": {
            "type": "array",
            "items": obj(
                {
                    "filament_type": {"type": ["string", "null"]},
                    "grams": {"type": "number"},
                    "jobs": _COUNT,
                },
            ),
        },
        "jobs_per_day": {
            "type": "array",
            "items": obj({"day_start": {"type": "integer"}, "jobs": _COUNT}),
        },
        "printer_utilization": {
            "type": "array",
            "items": obj(
                {
                    "printer_id": {"type": "string"},
                    "printer_name": {"type": "string"},
                    "printing_ms": _COUNT,
                    "utilization": {"type": "number", "minimum": 0, "maximum": 1},
                }
            ),
        },
        "failures_by_type": {
            "type": "array",
            "items": obj({"failure_type": {"type": "string"}, "count": _COUNT}),
        },
    },
    required=(
        "from",
        "to",
        "print_success",
        "filament_used",
        "jobs_per_day",
        "printer_utilization",
        "failures_by_type",
    ),
)


def _params(call: Call) -> dict:
    return {k: str(v) for k, v in call.query.items() if v is not None}


@ops.get("/api/v1/analytics/summary", role="viewer", query=RANGE, response=SUMMARY)
async def get_analytics_summary(call: Call):
    """Print success rate, filament used, jobs per day, printer utilization and failures by
    type over [from, to) (default: the last 30 days)."""
    return await call.db(service.summary, call.ctx, _params(call))


@ops.get(
    "/api/v1/analytics/export",
    role="viewer",
    query=[
        Param("report", {"type": "string", "enum": list(service.REPORTS), "default": "summary"}),
        *RANGE,
    ],
    response_content={"text/csv": {"schema": {"type": "string"}}},
)
async def export_analytics_csv(call: Call):
    """One report as CSV (a download)."""
    name, text = await call.db(service.export_csv, call.ctx, _params(call))
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def setup(app: web.Application) -> None:
    """Add the analytics routes."""
    register(app, ops)
