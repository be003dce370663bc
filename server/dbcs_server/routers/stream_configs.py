"""Stream configurations (2.x): create, list, get, full replace, delete, clone, start, history."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from dbcs_server.errors import ApiError
from dbcs_server.state import DriversDep, RunsDep, StoreDep, StreamStoreDep
from dbcs_server.store import NameTaken
from dbcs_server.streams import models
from dbcs_server.streams.runs import history_entry
from dbcs_server.streams.store import ConfigRow, RunActive
from dbcs_server.streams.validate import check_config
from dbcs_server.wire import Dialect

ConfigId = Annotated[
    str,
    Path(alias="id", description="The configuration's id: config_ + a 27-character KSUID (any other id is not found)",
         json_schema_extra={"pattern": models.CONFIG_ID_PATTERN}),
]
CDC_REFUSED = "cdc is not supported by the local server: it runs load configurations only"


def not_found(config_id: str) -> ApiError:
    return ApiError(404, f"stream configuration '{config_id}' not found")


def shown(row: ConfigRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created": row.created, "updated": row.updated, **row.document}


def stored(write: Any, *args: Any) -> Any:
    """A store write: a taken name or an active run is 409; a connection deleted meanwhile, 400."""
    try:
        return write(*args)
    except (NameTaken, RunActive) as exc:
        raise ApiError(409, str(exc)) from None
    except LookupError as exc:
        raise ApiError(400, str(exc), code="VALIDATION_ERROR") from None


def matches(row: ConfigRow, search: str | None) -> bool:
    """?search=: the text in the name or the description, in any case."""
    if not search:
        return True
    wanted = search.casefold()
    return any(wanted in text.casefold() for text in (row.name, row.document.get("description", "")))


def build(dialect: Dialect) -> APIRouter:
    router = APIRouter(tags=["stream configurations"], responses=dialect.responses(401))
    Caller = dialect.Caller  # pylint: disable=invalid-name
    written = dialect.responses(400, 409, 503, descriptions={
        400: "Invalid configuration: the message names the field (details.field); an unknown connection, a table"
             " the source does not have, upsert without a primary key, a kind that cannot be a source or target",
        409: "Name already taken",
        503: "A source database could not be reached to check its tables",
    })

    @router.post("/stream-configs", status_code=201, response_model=models.StreamConfig,
                 response_model_exclude_none=True, responses=written, summary="Create a stream configuration",
                 description="The connections must be the key's own; the source tables are checked in the source.")
    def create_config(body: models.StreamConfigIn, caller: Caller, store: StoreDep, streams: StreamStoreDep,
                      drivers: DriversDep) -> Any:
        check_config(body, caller.owner, store, drivers)
        return shown(stored(streams.create_config, caller.owner, body.name, body.document()))

    @router.get("/stream-configs", response_model=models.StreamConfigList, response_model_exclude_none=True,
                responses=dialect.responses(400), summary="List the key's stream configurations",
                description="In creation order; ?search= keeps those whose name or description contains the text"
                            " (any case); limit and offset page what search kept.")
    def list_configs(
        caller: Caller, streams: StreamStoreDep,
        search: Annotated[str | None, Query(description="Text the name or description contains (any case)")] = None,
        limit: Annotated[int | None, Query(ge=1, le=1000, description="At most this many items")] = None,
        offset: Annotated[int | None, Query(ge=0, description="Skip this many items first")] = None,
    ) -> Any:
        rows = streams.list_configs(caller.owner)
        kept = [row for row in rows if matches(row, search)]
        start = offset or 0
        page = kept[start:start + limit] if limit is not None else kept[start:]
        return {"items": [shown(row) for row in page], "total": len(rows), "filtered": len(kept),
                "search": search or None, "limit": limit, "offset": offset}

    @router.get("/stream-configs/{id}", response_model=models.StreamConfig, response_model_exclude_none=True,
                responses=dialect.responses(404), summary="Get one stream configuration")
    def get_config(config_id: ConfigId, caller: Caller, streams: StreamStoreDep) -> Any:
        row = streams.get_config(caller.owner, config_id)
        if row is None:
            raise not_found(config_id)
        return shown(row)

    @router.put("/stream-configs/{id}", response_model=models.StreamConfig, response_model_exclude_none=True,
                responses={**written, **dialect.responses(404)},
                summary="Replace a stream configuration (the full configuration)",
                description="Sets `updated` (a local-server stand-in) to a time later than before.")
    def replace_config(config_id: ConfigId, body: models.StreamConfigIn, caller: Caller, store: StoreDep,
                       streams: StreamStoreDep, drivers: DriversDep) -> Any:
        if streams.get_config(caller.owner, config_id) is None:
            raise not_found(config_id)  # before the body's connections: another key's id learns nothing
        check_config(body, caller.owner, store, drivers)
        row = stored(streams.replace_config, caller.owner, config_id, body.name, body.document())
        if row is None:
            raise not_found(config_id)
        return shown(row)

    @router.delete("/stream-configs/{id}", status_code=204, response_class=Response,
                   responses=dialect.responses(400, 404, 409, descriptions={409: "A run of it is active"}),
                   openapi_extra=dialect.delete_openapi, summary="Delete a stream configuration and its history",
                   description="409 while a run of it is active (a local-server stand-in).")
    def delete_config(config_id: ConfigId, caller: Caller, streams: StreamStoreDep,
                      _confirmed: Annotated[None, Depends(dialect.confirm_delete)]) -> Response:
        if not stored(streams.delete_config, caller.owner, config_id):
            raise not_found(config_id)
        return Response(status_code=204)

    @router.put("/stream-configs/{id}/clone", response_model=models.StreamConfig, response_model_exclude_none=True,
                responses=dialect.responses(404), summary="Copy a stream configuration under a new id",
                description="The copy is named '<name>-copy', or '<name>-copy-2', '-copy-3'... (the first free one).")
    def clone_config(config_id: ConfigId, caller: Caller, streams: StreamStoreDep) -> Any:
        row = streams.clone_config(caller.owner, config_id)
        if row is None:
            raise not_found(config_id)
        return shown(row)

    @router.post("/stream-configs/{id}/start", response_model=models.StreamStarted,
                 responses=dialect.responses(400, 404, 409, descriptions={
                     400: "A cdc configuration (not supported by the local server), or a connection it names is gone",
                     409: "A run of this configuration is active: details.field is stream_state, details.value the"
                          " active run ids (comma-separated)"}),
                 summary="Start a run of the configuration", description="Answers the new run's id at once; the run"
                 " goes on in the server (GET /streams/{id}/stats).")
    def start(config_id: ConfigId, caller: Caller, streams: StreamStoreDep, runs: RunsDep) -> Any:
        row = streams.get_config(caller.owner, config_id)
        if row is None:
            raise not_found(config_id)
        if row.document["mode"] == "cdc":
            raise ApiError(400, CDC_REFUSED, code="BAD_REQUEST", details={"field": "mode", "value": "cdc"})
        try:
            run = runs.start(caller.owner, row)
        except RunActive as exc:
            raise ApiError(409, str(exc), details={"field": "stream_state", "value": ",".join(exc.runs)}) from None
        except LookupError as exc:
            raise ApiError(400, str(exc)) from None
        return {"id": run.id}

    @router.get("/stream-configs/{id}/history", response_model=list[models.HistoryEntry],
                response_model_exclude_none=True, responses=dialect.responses(404),
                summary="The configuration's ended runs, newest first")
    def history(config_id: ConfigId, caller: Caller, streams: StreamStoreDep) -> Any:
        rows = streams.history(caller.owner, config_id)
        if rows is None:
            raise not_found(config_id)
        return [history_entry(row) for row in rows]

    return router
