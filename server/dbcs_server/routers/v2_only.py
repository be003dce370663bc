"""Routes only the 2.x dialect has: test an unsaved connection, and the database-scoped schema and
table routes (the database in the path; 404 when it does not exist)."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from dbcs_server.models import ConnectionV2Test, PingResult
from dbcs_server.record import Record
from dbcs_server.routers.databases import PING_RESPONSES, answering, create_named, creating, ping_result
from dbcs_server.state import ConnectionId, DriversDep, StoreDep, load
from dbcs_server.wire import Dialect

Database = Annotated[
    str, Path(min_length=1, description="The database's name (URL-encoded; it may contain a slash)")
]


def split_schemas(values: tuple[str, ...]) -> tuple[str, ...]:
    """?schemas=a,b and ?schemas=a&schemas=b (what the vendor's client sends) mean the same."""
    return tuple(dict.fromkeys(part.strip() for value in values for part in value.split(",") if part.strip()))


def build(dialect: Dialect) -> APIRouter:
    router = APIRouter(tags=["databases"], responses=dialect.responses(401, 409))
    Caller = dialect.ConnectionCaller  # pylint: disable=invalid-name

    # Before the connection routes: /connections/test is no connection id for GET, PUT or DELETE.
    @router.api_route("/connections/test", methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    def test_connection_other_methods() -> None:
        raise StarletteHTTPException(405)

    @router.post(
        "/connections/test",
        response_model=PingResult,
        response_model_exclude_none=True,
        responses={**PING_RESPONSES, **dialect.responses(400)},
        summary="Test an unsaved connection",
        description="Takes what create takes (the name may be left out) and answers as ping; nothing is stored.",
    )
    def test_connection(body: ConnectionV2Test, caller: Caller, drivers: DriversDep) -> Any:
        record = dialect.record(body)
        return ping_result(drivers[record.type].ping, record)

    @router.get(
        "/connections/{id}/databases/{db:path}/tables",
        response_model=list[str],
        responses=dialect.responses(400, 404, 503),
        summary="List the tables of a database",
        description="Sorted; PostgreSQL names outside the public schema are schema-qualified (sales.orders)."
        " mysql ignores schemas and include_system.",
    )
    def tables(
        connection_id: ConnectionId,
        db: Database,
        caller: Caller,
        store: StoreDep,
        drivers: DriversDep,
        schemas: Annotated[tuple[str, ...], Query(description="Only these schemas (repeated, or comma-separated)")] = (),
        include_system: Annotated[bool, Query(description="Also the tables of system schemas")] = False,
    ) -> Any:
        record = load(store, caller.owner, connection_id)
        return answering(drivers[record.type].tables, record, db, split_schemas(schemas), include_system, missing=404)

    @router.post("/connections/{id}/databases/{db:path}/schemas",
                 **creating(dialect, "schema", "Create a schema in a database (PostgreSQL only)", 404))
    async def create_schema(request: Request, connection_id: ConnectionId, db: Database, caller: Caller,
                            store: StoreDep, drivers: DriversDep) -> Any:
        def make(record: Record, name: str) -> None:
            drivers[record.type].create_schema(record, db, name)

        return await create_named(request, make, store, caller.owner, connection_id, "schema", missing=404)

    return router
