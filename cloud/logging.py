"""Structured JSON logs: one object per line, carrying the request id of the request being served."""

import atexit
import contextvars
import itertools
import json
import logging
import logging.handlers
import os
import queue
import sys
import time

from aiohttp import web

from cloud.keys import CALLER, REQUEST_ID

# The request id of the request this task (or thread pool call) is serving, if any.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

REQUEST_ID_HEADER = "X-Request-Id"
_MAX_INCOMING_ID = 64
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: ts (epoch ms), level, logger, msg, request_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": int(record.created * 1000),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry and key != "request_id":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def configure(level: str = "INFO", stream=None) -> logging.handlers.QueueListener:
    """Send every log record to `stream` (stderr) as JSON lines, written by a background thread
    so a slow log consumer never stalls the event loop. Returns the (started) listener."""
    output = logging.StreamHandler(stream or sys.stderr)
    output.setFormatter(JsonFormatter())
    records: queue.SimpleQueue = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, output, respect_handler_level=False)
    root = logging.getLogger()
    root.handlers[:] = [_ContextQueueHandler(records)]
    root.setLevel(level.upper())
    listener.start()
    atexit.register(listener.stop)  # flush what is queued when the process ends
    return listener


class _ContextQueueHandler(logging.handlers.QueueHandler):
    """Queue records with the request id captured now (the writer thread has no context)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return super().prepare(record)


def _incoming_id(request: web.Request) -> str | None:
    value = request.headers.get(REQUEST_ID_HEADER, "")
    if 0 < len(value) <= _MAX_INCOMING_ID and all(c.isalnum() or c in "-_." for c in value):
        return value
    return None


access_log = logging.getLogger("cloud.access")

# Request ids: a random per-process prefix and a counter, unique across processes and restarts
# without a random draw per request.
_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count(1)


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


@web.middleware
async def request_id_middleware(request: web.Request, handler):
    """Give every request an id (a sane incoming X-Request-Id, else new), echo it, log the access."""
    request_id = _incoming_id(request) or _new_request_id()
    request[REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        if access_log.isEnabledFor(logging.INFO):
            user_id, tenant_id = request.get(CALLER, (None, None))
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "remote": request.remote,
                    "user_id": user_id,
                    "tenant_id": tenant_id,
                },
            )
        request_id_var.reset(token)
