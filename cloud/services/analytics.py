"""Farm analytics over a date range: success rate, utilization, filament, jobs per day, failures."""

import csv
import io

import peewee

from cloud.errors import validation_error
from cloud.models import Printer, PrinterFailure, PrintJob, now_ms

DAY_MS = 86_400_000
DEFAULT_RANGE_MS = 30 * DAY_MS
MAX_RANGE_MS = 366 * DAY_MS
FINISHED = ("completed", "failed", "cancelled")
REPORTS = (
    "summary",
    "jobs_per_day",
    "printer_utilization",
    "filament_used",
    "failures_by_type",
)


def date_range(params, now: int | None = None) -> tuple[int, int]:
    """[from, to) in epoch ms from query params; default the last 30 days, at most 366 days."""
    allowed = {"from", "to", "report"}
    for key in params:
        if key not in allowed:
            raise validation_error(key, f"unknown query parameter '{key}'")
    now = now_ms() if now is None else now
    end = _ms(params, "to", now)
    start = _ms(params, "from", end - DEFAULT_RANGE_MS)
    if start >= end:
        raise validation_error("from", "'from' must be before 'to'")
    if end - start > MAX_RANGE_MS:
        raise validation_error("from", "the range is longer than 366 days")
    return start, end


def _ms(params, name, default) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(name, f"'{name}' must be epoch milliseconds") from None
    if not 0 <= value <= 2**53:
        raise validation_error(name, f"'{name}' is out of range")
    return value


def _finished_jobs(ctx, start, end):
    return PrintJob.scoped(ctx).where(
        PrintJob.time_completed >= start,
        PrintJob.time_completed < end,
        PrintJob.status.in_(FINISHED),
    )


def success_rate(ctx, start, end) -> dict:
    """Completed / (completed + failed) over jobs that finished in range (cancelled excluded:
    a cancellation is an operator's decision, not a failed print)."""
    counts = dict.fromkeys(FINISHED, 0)
    query = (
        _finished_jobs(ctx, start, end)
        .select(PrintJob.status, peewee.fn.COUNT(PrintJob.id).alias("n"))
        .group_by(PrintJob.status)
    )
    for row in query.dicts():
        counts[row["status"]] = row["n"]
    attempted = counts["completed"] + counts["failed"]
    rate = None if attempted == 0 else round(counts["completed"] / attempted, 4)
    return {**counts, "success_rate": rate}


def filament_used(ctx, start, end) -> list[dict]:
    """Grams of filament per filament type for completed jobs (print_jobs stores centigrams)."""
    query = (
        _finished_jobs(ctx, start, end)
        .where(PrintJob.status == "completed")
        .select(
            PrintJob.filament_type,
            peewee.fn.COALESCE(peewee.fn.SUM(PrintJob.filament_needed_grams), 0).alias("cg"),
            peewee.fn.COUNT(PrintJob.id).alias("jobs"),
        )
        .group_by(PrintJob.filament_type)
        .order_by(PrintJob.filament_type)
    )
    return [
        {"filament_type": r["filament_type"], "grams": round(r["cg"] / 100, 2), "jobs": r["jobs"]}
        for r in query.dicts()
    ]


def jobs_per_day(ctx, start, end) -> list[dict]:
    """Jobs submitted per UTC day, every day of the range listed (zeros included)."""
    submitted = peewee.fn.COALESCE(PrintJob.time_submitted, PrintJob.created_at)
    # A literal divisor, not a bound parameter: PostgreSQL matches the SELECT and GROUP BY
    # expressions textually, and two parameters ($1, $2) never match.
    day_number = submitted / peewee.SQL(str(DAY_MS))
    day = day_number.alias("day")
    query = (
        PrintJob.scoped(ctx)
        .select(day, peewee.fn.COUNT(PrintJob.id).alias("n"))
        .where(submitted >= start, submitted < end)
        .group_by(day_number)
    )
    counts = {int(r["day"]): r["n"] for r in query.dicts()}
    first, last = start // DAY_MS, (end - 1) // DAY_MS
    return [{"day_start": d * DAY_MS, "jobs": counts.get(d, 0)} for d in range(first, last + 1)]


def printer_utilization(ctx, start, end, now: int | None = None) -> list[dict]:
    """Share of the range each printer spent printing (job start..finish, clipped to range)."""
    now = now_ms() if now is None else now
    busy: dict[str, int] = {}
    jobs = (
        PrintJob.scoped(ctx, PrintJob.printer_id, PrintJob.time_started, PrintJob.time_completed)
        .where(
            PrintJob.printer_id.is_null(False),
            PrintJob.time_started.is_null(False),
            PrintJob.time_started < end,
            (PrintJob.time_completed.is_null(True)) | (PrintJob.time_completed > start),
        )
        .tuples()
    )
    for printer_id, started, completed in jobs:
        finished = completed if completed is not None else now
        overlap = min(finished, end) - max(started, start)
        if overlap > 0:
            busy[printer_id] = busy.get(printer_id, 0) + overlap
    span = end - start
    printers = Printer.scoped(ctx, Printer.id, Printer.name).order_by(Printer.name, Printer.id)
    return [
        {
            "printer_id": p.id,
            "printer_name": p.name,
            "printing_ms": min(busy.get(p.id, 0), span),
            "utilization": round(min(busy.get(p.id, 0), span) / span, 4),
        }
        for p in printers
    ]


def failures_by_type(ctx, start, end) -> list[dict]:
    """Printer failures recorded in range, counted by failure_type (unknown when unset)."""
    kind = peewee.fn.COALESCE(PrinterFailure.failure_type, "unknown")
    query = (
        PrinterFailure.scoped(ctx)
        .select(kind.alias("failure_type"), peewee.fn.COUNT(PrinterFailure.id).alias("n"))
        .where(PrinterFailure.created_at >= start, PrinterFailure.created_at < end)
        .group_by(PrinterFailure.failure_type)
    )
    rows = [{"failure_type": r["failure_type"], "count": r["n"]} for r in query.dicts()]
    return sorted(rows, key=lambda r: r["failure_type"])


def summary(ctx, params) -> dict:
    """Every metric for the range in one document."""
    start, end = date_range(params)
    return {
        "from": start,
        "to": end,
        "print_success": success_rate(ctx, start, end),
        "filament_used": filament_used(ctx, start, end),
        "jobs_per_day": jobs_per_day(ctx, start, end),
        "printer_utilization": printer_utilization(ctx, start, end),
        "failures_by_type": failures_by_type(ctx, start, end),
    }


def export_csv(ctx, params) -> tuple[str, str]:
    """(file name, CSV text) of one report (`report` = one of REPORTS, default summary)."""
    report = params.get("report", "summary")
    if report not in REPORTS:
        raise validation_error("report", f"'report' must be one of: {', '.join(REPORTS)}")
    start, end = date_range(params)
    if report == "summary":
        rate = success_rate(ctx, start, end)
        rows = [{"metric": k, "value": v} for k, v in rate.items()]
    elif report == "jobs_per_day":
        rows = jobs_per_day(ctx, start, end)
    elif report == "printer_utilization":
        rows = printer_utilization(ctx, start, end)
    elif report == "filament_used":
        rows = filament_used(ctx, start, end)
    else:
        rows = failures_by_type(ctx, start, end)
    return f"{report}-{start}-{end}.csv", to_csv(rows)


def to_csv(rows: list[dict]) -> str:
    """CSV with a header row; text that a spreadsheet would run as a formula is quoted with '."""
    out = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
