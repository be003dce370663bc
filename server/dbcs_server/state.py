"""Dependencies that hand routes the per-process objects create_app put on app.state.

They are async (and do no I/O) so that resolving them costs no threadpool round trip.
"""

from typing import Annotated

from fastapi import Depends, Path, Request

from dbcs_server.probes import Prober
from dbcs_server.settings import Settings
from dbcs_server.store import Store


async def _store(request: Request) -> Store:
    return request.app.state.store


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _prober(request: Request) -> Prober:
    return request.app.state.prober


StoreDep = Annotated[Store, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ProberDep = Annotated[Prober, Depends(_prober)]
ConnectionId = Annotated[
    str,
    Path(
        alias="id",
        description="The connection's id: conn_ + a 27-character KSUID (any other id is simply not found)",
        json_schema_extra={"pattern": "^conn_[0-9A-Za-z]{27}$"},
    ),
]
