"""Routes that reach the service a connection points at, in both dialects: ping, list the
databases, create a database. Also what the dialect-only database routes share: reading a name
from the body, and driver errors as answers.

The driver calls run in the threadpool (sync drivers), so a slow database never blocks the event loop.
"""

import json
from collections.abc import Callable
from email.message import Message
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from dbcs_server.drivers import AlreadyExists, DatabaseMissing, ProbeError, ProbeRefused
from dbcs_server.errors import ApiError
from dbcs_server.models import PingResult, Success
from dbcs_server.record import Record
from dbcs_server.state import ConnectionId, DriversDep, StoreDep, load
from dbcs_server.wire import Dialect

Result = TypeVar("Result")
NAME_MAX_LENGTH = 63


def creating(dialect: Dialect, what: str, summary: str, *statuses: int) -> dict[str, Any]:
    """The route options of a route that creates a schema or a database named by its body."""
    schema = {"type": "string", "minLength": 1, "maxLength": NAME_MAX_LENGTH}
    body = {
        "required": True,
        "description": f"The {what} name, as a JSON string or as raw text/plain (at most {NAME_MAX_LENGTH} characters;"
        " PostgreSQL: 63 bytes in UTF-8)",
        "content": {
            "application/json": {"schema": schema, "example": "sales"},
            "text/plain": {"schema": schema, "example": "sales"},
        },
    }
    return {
        "status_code": 201,
        "response_model": Success,
        "responses": dialect.responses(400, *statuses, 503),
        "openapi_extra": {"requestBody": body},
        "summary": summary,
        "description": "The name is data, never SQL: it is quoted as an identifier. 409 if it exists already.",
    }


def name_from_body(raw: bytes, content_type: str | None, what: str) -> str:
    usage = f"send the {what} name as a JSON string (application/json) or as text/plain"
    header = Message()
    header["content-type"] = content_type or "text/plain"
    maintype, subtype = header.get_content_maintype(), header.get_content_subtype()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, f"the {what} name must be UTF-8 text") from None
    if maintype == "application" and (subtype == "json" or subtype.endswith("+json")):
        try:
            value = json.loads(text)
        except ValueError:
            raise ApiError(400, f"request body is not valid JSON; {usage}") from None
        if not isinstance(value, str):
            raise ApiError(400, f"the JSON body must be a string; {usage}")
        return value
    if maintype == "text":
        return text
    raise ApiError(400, f"unsupported content type '{content_type}'; {usage}")


def answering(call: Callable[..., Result], *args: Any, missing: int = 503) -> Result:
    """Run a driver call; its refusals are 400, existing objects 409, an unreachable service 503
    (a missing database: `missing`, 404 where the path names the database)."""
    try:
        return call(*args)
    except ProbeRefused as exc:
        raise ApiError(400, str(exc)) from None
    except AlreadyExists as exc:
        raise ApiError(409, str(exc)) from None
    except DatabaseMissing as exc:
        raise ApiError(missing, str(exc)) from None
    except ProbeError as exc:
        raise ApiError(503, str(exc)) from None


def ping_result(call: Callable[[Record], None], record: Record) -> Any:
    """{"ping": "ok"}, or the failed result: 503 {"ping": "failed", "error"} (a result, not a fault)."""
    try:
        call(record)
    except (ProbeError, ProbeRefused) as exc:
        return JSONResponse({"ping": "failed", "error": str(exc)}, status_code=503)
    return {"ping": "ok"}


PING_RESPONSES = {503: {"model": PingResult, "description": "The connection test failed: {ping: failed, error}"}}


async def create_named(request: Request, make: Callable[[Record, str], None], store: Any, owner: str,
                       connection_id: str, what: str, missing: int = 503) -> dict[str, str]:
    """Create a schema or database whose name is the body, in the caller's connection."""
    raw = await request.body()

    def create() -> None:
        record = load(store, owner, connection_id)  # 404 first: another key's id learns nothing from the body
        name = name_from_body(raw, request.headers.get("content-type"), what)
        answering(make, record, name, missing=missing)

    await run_in_threadpool(create)
    return {"status": "success"}


def build(dialect: Dialect) -> APIRouter:
    router = APIRouter(tags=["databases"], responses=dialect.responses(401, 404, 409))
    Caller = dialect.ConnectionCaller  # pylint: disable=invalid-name

    @router.post(
        "/connections/{id}/ping",
        response_model=PingResult,
        response_model_exclude_none=True,
        responses=PING_RESPONSES,
        summary="Test the connection against its service",
        description="mysql, postgresql: a login; files: basePath is a writable directory;"
        " s3, snowflake: a failed result (not tested by this server yet).",
    )
    def ping(connection_id: ConnectionId, caller: Caller, store: StoreDep, drivers: DriversDep) -> Any:
        record = load(store, caller.owner, connection_id)
        return ping_result(drivers[record.type].ping, record)

    @router.get(
        "/connections/{id}/databases",
        response_model=list[dialect.database_info],
        response_model_exclude_none=True,
        responses=dialect.responses(400, 503),
        summary="List the databases the connection's user can see",
        description="v1: MySQL [{name}], PostgreSQL [{name, schemas}], system databases and schemas left out;"
        " 2.x: every database and schema, system ones flagged (isSystem, systemReason).",
    )
    def databases(connection_id: ConnectionId, caller: Caller, store: StoreDep, drivers: DriversDep) -> Any:
        record = load(store, caller.owner, connection_id)
        return dialect.show_databases(answering(drivers[record.type].databases, record))

    @router.post("/connections/{id}/databases", **creating(dialect, "database", "Create a database"))
    async def create_database(request: Request, connection_id: ConnectionId, caller: Caller, store: StoreDep,
                              drivers: DriversDep) -> Any:
        def make(record: Record, name: str) -> None:
            drivers[record.type].create_database(record, name)

        return await create_named(request, make, store, caller.owner, connection_id, "database")

    return router
