"""/healthz: liveness plus a database round trip (load balancers and `make demo` poll it)."""

from aiohttp import web

from cloud.api.operations import PUBLIC, Call, OperationGroup, register
from cloud.api.schemas import obj
from cloud.errors import ApiError
from cloud.keys import DATABASE

ops = OperationGroup(tag="system", description="Service health")


def _ping(database) -> None:
    database.execute_sql("SELECT 1").fetchone()


@ops.get(
    "/healthz",
    role=PUBLIC,
    response=obj(
        {"status": {"const": "ok"}, "database": {"const": "ok"}}, required=("status", "database")
    ),
)
async def healthz(call: Call):
    """200 when the service and its database answer; 503 otherwise."""
    try:
        await call.db(_ping, call.app[DATABASE])
    except Exception as exc:
        raise ApiError(503, "unavailable", f"database unreachable: {type(exc).__name__}") from None
    return {"status": "ok", "database": "ok"}


def setup(app: web.Application) -> None:
    """Add /healthz."""
    register(app, ops)
