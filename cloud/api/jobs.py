"""/api/v1/jobs: print jobs (queue, cancel, retry, reprint, assign, why-not), bed clearing,
printer control, and the tenant's dead-lettered background work."""

from aiohttp import web

from cloud.api.operations import Call, OperationGroup, Param, register
from cloud.api.resource_routes import declare_crud, row_schema
from cloud.api.schemas import ID, obj
from cloud.errors import ApiError
from cloud.queue.store import QUEUES
from cloud.realtime.runtime import realtime_of
from cloud.services import commands, job_queries
from cloud.services.dispatch import explain
from cloud.workers.runtime import workers_of

ops = OperationGroup(tag="jobs", resource="print_job", description="Print jobs and their lifecycle")
printer_ops = OperationGroup(
    tag="printers", resource="printer", description="Printers and their state"
)
queue_ops = OperationGroup(
    tag="queues", resource="dead_letter", description="Background work that failed"
)

JOB = row_schema(job_queries.JOBS)

declare_crud(
    ops,
    job_queries.JOBS,
    "/api/v1/jobs",
    plural="jobs",
    singular="job",
    list_fn=job_queries.list_jobs,
    get_fn=job_queries.get_job,
    create_fn=job_queries.create_job,
    update_fn=None,
    delete_fn=None,
    example={"print_file_id": "file-id", "priority": 5},
    update_example={},
)


async def _send(call: Call, printer_commands: list[dict]) -> None:
    """Persist and deliver printer commands produced by a job action."""
    for request in printer_commands:
        await workers_of(call.app).command_printer(
            call.ctx.tenant_id, request["printer_id"], request["action"], request.get("args")
        )


async def _after_change(call: Call, job: dict) -> dict:
    realtime_of(call.app).broadcast(
        call.ctx.tenant_id,
        {
            "type": "job_update",
            "job_id": job["id"],
            "status": job["status"],
            "printer_id": job["printer_id"],
        },
    )
    workers_of(call.app).dispatcher.poke(call.ctx.tenant_id)
    return job


@ops.post("/api/v1/jobs/{id}/cancel", role="operator", response=JOB, errors=[409])
async def cancel_job(call: Call):
    """Cancel a job; a job on a printer is stopped there (or its transfer cancelled)."""
    job, printer_commands = await call.db(
        job_queries.run_action, call.ctx, "cancel", call.params["id"]
    )
    await _send(call, printer_commands)
    return await _after_change(call, job)


@ops.post("/api/v1/jobs/{id}/retry", role="operator", response=JOB, errors=[409])
async def retry_job(call: Call):
    """Put a failed or cancelled job back in the queue."""
    job, _ = await call.db(job_queries.run_action, call.ctx, "retry", call.params["id"])
    return await _after_change(call, job)


@ops.post("/api/v1/jobs/{id}/reprint", role="operator", response=JOB, status=201, errors=[409])
async def reprint_job(call: Call):
    """Queue a new job identical to a finished one."""
    job, _ = await call.db(job_queries.run_action, call.ctx, "reprint", call.params["id"])
    return await _after_change(call, job)


@ops.post(
    "/api/v1/jobs/{id}/assign",
    role="operator",
    body=obj({"printer_id": ID}, required=["printer_id"]),
    response=JOB,
    errors=[409],
    example={"printer_id": "printer-id"},
)
async def assign_job(call: Call):
    """Send a queued job to one printer now (409 with the reason when it cannot go)."""
    workers = workers_of(call.app)
    assignment = await call.db(
        job_queries.assign,
        call.ctx,
        call.params["id"],
        call.body["printer_id"],
        workers.persist_print_command,
    )
    workers.announce_claim(assignment)
    return await call.db(job_queries.get_job, call.ctx, assignment.job_id)


ELIGIBILITY = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": obj(
                {
                    "printer_id": ID,
                    "name": {"type": "string"},
                    "eligible": {"type": "boolean"},
                    "reason": {"type": ["string", "null"]},
                },
                required=["printer_id", "name", "eligible", "reason"],
            ),
        },
    },
    "required": ["items"],
}


@ops.get("/api/v1/jobs/{id}/eligibility", role="viewer", response=ELIGIBILITY)
async def job_eligibility(call: Call):
    """Which printers could take this job now, and why the others cannot."""
    return {"items": await call.db(explain, call.ctx, call.params["id"])}


@printer_ops.post(
    "/api/v1/printers/{id}/clear-bed",
    role="operator",
    response=obj(
        {"printer_id": ID, "cleared": {"type": "boolean"}}, required=["printer_id", "cleared"]
    ),
    errors=[409],
)
async def clear_printer_bed(call: Call):
    """Staff removed the print: the printer may take the next job."""
    result = await call.db(job_queries.clear_bed, call.ctx, call.params["id"])
    workers_of(call.app).dispatcher.poke(call.ctx.tenant_id)
    return result


CONTROL_ACTIONS = ["pause", "resume", "stop", "speed", "light"]


@printer_ops.post(
    "/api/v1/printers/{id}/control",
    role="operator",
    body=obj(
        {"action": {"type": "string", "enum": CONTROL_ACTIONS}, "args": {"type": "object"}},
        required=["action"],
    ),
    response=obj({"command_id": ID}, required=["command_id"]),
    status=202,
    errors=[409],
    example={"action": "pause"},
)
async def control_printer(call: Call):
    """Pause, resume or stop the printer, set its speed level or light (sent through its hub)."""
    try:
        command_id = await workers_of(call.app).command_printer(
            call.ctx.tenant_id, call.params["id"], call.body["action"], call.body.get("args")
        )
    except commands.CommandRefused as exc:
        raise ApiError(422, "validation_error", str(exc), field="args") from None
    if command_id is None:
        raise ApiError(409, "printer_unavailable", "the printer has no hub")
    call.audit.entity_id = call.params["id"]
    return {"command_id": command_id}


DEAD_LETTER = obj(
    {
        "id": {"type": "string"},
        "queue": {"type": "string"},
        "attempts": {"type": "integer"},
        "last_error": {"type": ["string", "null"]},
        "payload": {"type": "object"},
        "created_at": {"type": "integer"},
        "updated_at": {"type": "integer"},
    },
    required=["id", "queue", "attempts", "last_error", "payload", "created_at", "updated_at"],
)


@queue_ops.get(
    "/api/v1/queues/dead-letters",
    role="viewer",
    query=[Param("queue", {"type": "string", "enum": list(QUEUES)}, "only this queue")],
    response=obj(
        {"items": {"type": "array", "items": DEAD_LETTER}, "total": {"type": "integer"}},
        required=["items", "total"],
    ),
)
async def list_dead_letters(call: Call):
    """Background work of this tenant that failed every attempt (webhooks, syncs, follow-ups)."""
    return await call.db(job_queries.dead_letters, call.ctx, call.query.get("queue"))


@queue_ops.post(
    "/api/v1/queues/dead-letters/{id}/retry",
    role="admin",
    response=obj(
        {"id": {"type": "string"}, "status": {"type": "string"}}, required=["id", "status"]
    ),
)
async def retry_dead_letter(call: Call):
    """Try a dead letter again (after fixing its cause)."""
    result = await call.db(job_queries.retry_dead_letter, call.ctx, call.params["id"])
    for worker in workers_of(call.app).queues:
        worker.notify()
    return result


def setup(app: web.Application) -> None:
    """Add the job, printer-action and dead-letter routes."""
    register(app, ops)
    register(app, printer_ops)
    register(app, queue_ops)
