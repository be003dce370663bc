"""What a stream configuration needs of the connections it names, checked on create and replace.

The body's shape is the model's business (models.py); here: every connection it names is one
of the caller's (another key's is answered as unknown, never as existing), the sources and the
target are of kinds that can be them (the driver registry says: a driver refuses what it cannot
be), a MySQL target has no schema, every source database and listed table exists (the source is
really asked), upsert finds a primary key in every table it writes, and no two tables land in
one target table. Each refusal is a 400 naming the field (details.field); a source that cannot
be reached is a 503.
"""

from typing import Any

from dbcs_server.drivers import DatabaseMissing, Driver, ProbeError, ProbeRefused
from dbcs_server.errors import ApiError
from dbcs_server.record import Record
from dbcs_server.store import Store
from dbcs_server.streams.models import StreamConfigIn


def refused(field: str, message: str, value: Any = None) -> ApiError:
    details = {"field": field}
    if isinstance(value, str) and len(value) <= 200:
        details["value"] = value
    return ApiError(400, message, code="VALIDATION_ERROR", details=details)


def connection(store: Store, owner: str, connection_id: str, field: str) -> Record:
    record = store.get(owner, connection_id, secrets=True)
    if record is None:
        raise refused(field, f"connection '{connection_id}' not found", connection_id)
    return record


def check_config(body: StreamConfigIn, owner: str, store: Store, drivers: dict[str, Driver]) -> None:
    """Raise the ApiError of the first thing wrong with the configuration's connections and tables."""
    spec = body.target.spec.db
    target = connection(store, owner, body.target.id, "target.id")
    try:
        drivers[target.type].check_stream_endpoint("target", spec.schema_)
    except ProbeRefused as exc:
        raise refused("target.spec.db.schema" if spec.schema_ else "target.id", str(exc)) from None

    upsert = spec.writeMode == "upsert"
    destinations: dict[str, str] = {}
    for i, source in enumerate(body.source.connections):
        field = f"source.connections.{i}"
        record = connection(store, owner, source.connectionId, f"{field}.connectionId")
        driver = drivers[record.type]
        try:
            driver.check_stream_endpoint("source", source.schema_)
        except ProbeRefused as exc:
            raise refused(f"{field}.schema" if source.schema_ else f"{field}.connectionId", str(exc)) from None
        database = source.database or record.spec.get("database")
        if not database:
            raise refused(f"{field}.database", f"{field}.database is required: connection '{record.name}' has no"
                                               " default database")
        names = [t.name for t in source.tables or []]
        try:
            endpoint = driver.stream_source(record, database, source.schema_)
        except DatabaseMissing:
            raise refused(f"{field}.database", f"database '{database}' not found in connection '{record.name}'",
                          database) from None
        except ProbeError as exc:
            raise ApiError(503, f"cannot check the tables of {field} (connection '{record.name}'): {exc}") from None
        try:
            checked = names or (endpoint.table_names() if upsert else [])
            for j, name in enumerate(checked):
                where = f"{field}.tables.{j}.name" if names else f"{field}.tables"
                table = endpoint.describe(name)
                if table is None:
                    raise refused(where, f"table '{name}' not found in database '{database}'", name)
                if upsert and not table.key:
                    raise refused("target.spec.db.writeMode", f"upsert needs a primary key: table '{name}' of"
                                                              f" database '{database}' has none", "upsert")
                if table.table in destinations:
                    raise refused(where, f"tables '{destinations[table.table]}' and '{name}' would both be written to"
                                         f" the target table '{table.table}'", name)
                destinations[table.table] = name
        except ApiError:
            raise
        except Exception as exc:  # pylint: disable=broad-except  # the source failed while answering
            raise ApiError(503, f"cannot check the tables of {field} (connection '{record.name}'): "
                                f"{driver.message(record, exc)}") from None
        finally:
            endpoint.close()
