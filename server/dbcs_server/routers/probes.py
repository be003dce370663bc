"""Routes that reach the connection's database: ping, databases, tables, create schema.

They run in the threadpool (sync drivers), so a slow database never blocks the event loop.
"""

import json
from email.message import Message
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from dbcs_server.auth import ConnectionCaller
from dbcs_server.errors import ApiError, responses
from dbcs_server.models import DatabaseInfo, PingResult, SchemaCreated
from dbcs_server.probes import ProbeError, ProbeRefused, Prober, SchemaExists, Target
from dbcs_server.state import ConnectionId, ProberDep, StoreDep
from dbcs_server.store import Store

router = APIRouter(tags=["databases"], responses=responses(401, 404, 409))

SCHEMA_NAME_BODY = {
    "required": True,
    "description": "The schema name, as a JSON string or as raw text/plain (at most 63 bytes in UTF-8)",
    "content": {
        "application/json": {"schema": {"type": "string", "minLength": 1, "maxLength": 63}, "example": "sales"},
        "text/plain": {"schema": {"type": "string", "minLength": 1, "maxLength": 63}, "example": "sales"},
    },
}


def load_target(store: Store, owner: str, connection_id: str) -> Target:
    record = store.get(owner, connection_id, secrets=True)
    if record is None:
        raise ApiError(404, f"connection '{connection_id}' not found")
    return Target.from_record(record)


def schema_name_from_body(raw: bytes, content_type: str | None) -> str:
    usage = "send the schema name as a JSON string (application/json) or as text/plain"
    header = Message()
    header["content-type"] = content_type or "text/plain"
    maintype, subtype = header.get_content_maintype(), header.get_content_subtype()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the schema name must be UTF-8 text") from None
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


@router.post(
    "/connections/{id}/ping",
    response_model=PingResult,
    response_model_exclude_none=True,
    responses={503: {"model": PingResult, "description": "The connection test failed: {ping: failed, error}"}},
    summary="Test the connection against its database",
)
def ping(connection_id: ConnectionId, caller: ConnectionCaller, store: StoreDep, prober: ProberDep) -> Any:
    target = load_target(store, caller.owner, connection_id)
    try:
        prober.ping(target)
    except (ProbeError, ProbeRefused) as exc:
        return JSONResponse({"ping": "failed", "error": str(exc)}, status_code=503)
    return {"ping": "ok"}


@router.get(
    "/connections/{id}/databases",
    response_model=list[DatabaseInfo],
    response_model_exclude_none=True,
    responses=responses(503),
    summary="List the databases the connection's user can see",
    description="MySQL: [{name}]; PostgreSQL: [{name, schemas}]. System databases and schemas are left out.",
)
def databases(connection_id: ConnectionId, caller: ConnectionCaller, store: StoreDep, prober: ProberDep) -> Any:
    target = load_target(store, caller.owner, connection_id)
    try:
        return prober.databases(target)
    except (ProbeError, ProbeRefused) as exc:
        raise ApiError(503, str(exc)) from None


@router.get(
    "/connections/{id}/tables",
    response_model=list[str],
    responses=responses(400, 503),
    summary="List the tables of the connection's database",
    description="Sorted; PostgreSQL names outside the public schema are schema-qualified (sales.orders).",
)
def tables(connection_id: ConnectionId, caller: ConnectionCaller, store: StoreDep, prober: ProberDep) -> Any:
    target = load_target(store, caller.owner, connection_id)
    try:
        return prober.tables(target)
    except ProbeRefused as exc:
        raise ApiError(400, str(exc)) from None
    except ProbeError as exc:
        raise ApiError(503, str(exc)) from None


def _create_schema(store: Store, prober: Prober, owner: str, connection_id: str, database: str | None,
                   raw: bytes, content_type: str | None) -> None:
    target = load_target(store, owner, connection_id)
    if target.type != "postgresql":
        raise ApiError(400, "schemas can only be created in postgresql connections")
    name = schema_name_from_body(raw, content_type)
    try:
        prober.create_schema(target, database or target.database, name)
    except ProbeRefused as exc:
        raise ApiError(400, str(exc)) from None
    except SchemaExists as exc:
        raise ApiError(409, str(exc)) from None
    except ProbeError as exc:
        raise ApiError(503, str(exc)) from None


@router.post(
    "/connections/{id}/schemas",
    status_code=201,
    response_model=SchemaCreated,
    responses=responses(400, 503),
    openapi_extra={"requestBody": SCHEMA_NAME_BODY},
    summary="Create a schema (PostgreSQL only)",
    description="The name is data, never SQL: it is quoted as an identifier. 409 if it exists already.",
)
async def create_schema(
    request: Request,
    connection_id: ConnectionId,
    caller: ConnectionCaller,
    store: StoreDep,
    prober: ProberDep,
    database: Annotated[str | None, Query(description="Database to create it in (default: the connection's)")] = None,
) -> Any:
    if len(request.query_params.getlist("database")) > 1:
        raise ApiError(400, "database must be given at most once")
    if database is not None and not database.strip():
        raise ApiError(400, "database must not be empty: leave it out to use the connection's own database")
    raw = await request.body()
    await run_in_threadpool(
        _create_schema, store, prober, caller.owner, connection_id, database, raw, request.headers.get("content-type")
    )
    return {"status": "success"}
