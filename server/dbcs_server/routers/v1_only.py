"""Routes only the v1 dialect has: the tables of the connection's own database, and creating a
schema with the database in the query (2.x names the database in the path: v2_only.py)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from dbcs_server.errors import ApiError
from dbcs_server.record import Record
from dbcs_server.routers.databases import answering, create_named, creating
from dbcs_server.state import ConnectionId, DriversDep, StoreDep, load
from dbcs_server.wire import Dialect


def build(dialect: Dialect) -> APIRouter:
    router = APIRouter(tags=["databases"], responses=dialect.responses(401, 404, 409))
    Caller = dialect.ConnectionCaller  # pylint: disable=invalid-name

    @router.get(
        "/connections/{id}/tables",
        response_model=list[str],
        responses=dialect.responses(400, 503),
        summary="List the tables of the connection's database",
        description="Sorted; PostgreSQL names outside the public schema are schema-qualified (sales.orders).",
    )
    def tables(connection_id: ConnectionId, caller: Caller, store: StoreDep, drivers: DriversDep) -> Any:
        record = load(store, caller.owner, connection_id)
        return answering(drivers[record.type].tables, record, record.spec.get("database", ""))

    @router.post("/connections/{id}/schemas", **creating(dialect, "schema", "Create a schema (PostgreSQL only)"))
    async def create_schema(
        request: Request,
        connection_id: ConnectionId,
        caller: Caller,
        store: StoreDep,
        drivers: DriversDep,
        database: Annotated[str | None, Query(description="Database to create it in (default: the connection's)")] = None,
    ) -> Any:
        if len(request.query_params.getlist("database")) > 1:
            raise ApiError(400, "database must be given at most once")
        if database is not None and not database.strip():
            raise ApiError(400, "database must not be empty: leave it out to use the connection's own database")

        def make(record: Record, name: str) -> None:
            drivers[record.type].create_schema(record, database or record.spec.get("database", ""), name)

        return await create_named(request, make, store, caller.owner, connection_id, "schema")

    return router
