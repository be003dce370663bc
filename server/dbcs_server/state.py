"""Dependencies that hand routes the per-process objects create_app put on app.state.

They are async (and do no I/O) so that resolving them costs no threadpool round trip.
"""

from typing import Annotated

from fastapi import Depends, Path, Request

from dbcs_server.drivers import Driver
from dbcs_server.errors import ApiError
from dbcs_server.record import Record
from dbcs_server.settings import Settings
from dbcs_server.store import Store
from dbcs_server.streams.runs import Runs
from dbcs_server.streams.store import StreamStore


async def _store(request: Request) -> Store:
    return request.app.state.store


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _drivers(request: Request) -> dict[str, Driver]:
    return request.app.state.drivers


async def _streams(request: Request) -> StreamStore:
    return request.app.state.streams


async def _runs(request: Request) -> Runs:
    return request.app.state.runs


StoreDep = Annotated[Store, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
DriversDep = Annotated[dict[str, Driver], Depends(_drivers)]
StreamStoreDep = Annotated[StreamStore, Depends(_streams)]
RunsDep = Annotated[Runs, Depends(_runs)]
ConnectionId = Annotated[
    str,
    Path(
        alias="id",
        description="The connection's id: conn_ + a 27-character KSUID (any other id is simply not found)",
        json_schema_extra={"pattern": "^conn_[0-9A-Za-z]{27}$"},
    ),
]


def not_found(connection_id: str) -> ApiError:
    return ApiError(404, f"connection '{connection_id}' not found")


def load(store: Store, owner: str, connection_id: str) -> Record:
    """The caller's connection with its secrets (for a driver), or 404."""
    record = store.get(owner, connection_id, secrets=True)
    if record is None:
        raise not_found(connection_id)
    return record
