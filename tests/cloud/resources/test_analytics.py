"""Analytics over a date range, computed on real SQLite and PostgreSQL data."""

import csv
import io

import pytest

from cloud.errors import ApiError
from cloud.models import Printer, PrinterFailure, PrintFile, PrintJob, TenantContext
from cloud.services import analytics

DAY = analytics.DAY_MS
T0 = 1_700_000_000_000 - (1_700_000_000_000 % DAY)  # a UTC midnight


def job(ctx, printer, file, status, started, completed, grams_cg=0, filament="PLA"):
    return PrintJob.create_scoped(
        ctx,
        printer_id=printer.id if printer else None,
        print_file_id=file.id,
        file_name=file.name,
        status=status,
        color="Red",
        filament_type=filament,
        material_type=filament,
        filament_needed_grams=grams_cg,
        time_submitted=started,
        time_started=started,
        time_completed=completed,
    )


def test_metrics_over_a_range(tenants):
    a, b = tenants
    p1 = Printer.create_scoped(a, name="=cmd|' /C calc'!A0", model="P1S")
    p2 = Printer.create_scoped(a, name="B", model="X1C")
    file = PrintFile.create_scoped(a, name="part.3mf", file_key="k")
    job(a, p1, file, "completed", T0, T0 + DAY // 2, grams_cg=1250)  # 12.5 g
    job(a, p1, file, "completed", T0 + DAY, T0 + DAY + DAY // 4, grams_cg=750, filament="PETG")
    job(a, p2, file, "failed", T0 + DAY, T0 + DAY + 1000)
    job(a, p2, file, "cancelled", T0 + DAY, T0 + DAY + 1000)
    job(a, p2, file, "completed", T0 - 5 * DAY, T0 - 4 * DAY)  # before the range
    PrinterFailure.create_scoped(
        a, printer_id=p2.id, failure_type="bed_adhesion", created_at=T0 + 5
    )
    PrinterFailure.create_scoped(a, printer_id=p2.id, created_at=T0 + 6)
    # Another tenant's data never shows up.
    pb = Printer.create_scoped(b, name="B", model="X1C")
    fb = PrintFile.create_scoped(b, name="part.3mf", file_key="k")
    job(b, pb, fb, "failed", T0, T0 + 10)

    params = {"from": str(T0), "to": str(T0 + 2 * DAY)}
    report = analytics.summary(a, params)
    assert report["print_success"] == {
        "completed": 2,
        "failed": 1,
        "cancelled": 1,
        "success_rate": round(2 / 3, 4),
    }
    assert report["filament_used"] == [
        {"filament_type": "PETG", "grams": 7.5, "jobs": 1},
        {"filament_type": "PLA", "grams": 12.5, "jobs": 1},
    ]
    assert report["jobs_per_day"] == [
        {"day_start": T0, "jobs": 1},
        {"day_start": T0 + DAY, "jobs": 3},
    ]
    utilization = {u["printer_name"]: u["utilization"] for u in report["printer_utilization"]}
    assert utilization["B"] == round(2000 / (2 * DAY), 4)
    assert utilization[p1.name] == round((DAY // 2 + DAY // 4) / (2 * DAY), 4)
    assert report["failures_by_type"] == [
        {"failure_type": "bed_adhesion", "count": 1},
        {"failure_type": "unknown", "count": 1},
    ]
    empty = analytics.summary(b, {"from": str(T0 + DAY), "to": str(T0 + 2 * DAY)})
    assert empty["print_success"]["success_rate"] is None

    name, text = analytics.export_csv(a, {**params, "report": "printer_utilization"})
    assert name.startswith("printer_utilization-") and name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["printer_name"] for r in rows} == {"B", "'" + p1.name}  # formula defused


@pytest.mark.parametrize(
    "params,field",
    [
        ({"from": "10", "to": "5"}, "from"),
        ({"from": "x"}, "from"),
        ({"from": "0", "to": str(400 * DAY)}, "from"),
        ({"printer": "p"}, "printer"),
        ({"report": "secrets"}, "report"),
    ],
)
def test_bad_ranges(params, field):
    # Validation happens before any query: no database needed.
    with pytest.raises(ApiError) as info:
        analytics.export_csv(TenantContext(tenant_id="t"), params)
    assert (info.value.status, info.value.field) == (422, field)
