"""Runs (2.x): the list, one run's statistics, pause, resume and stop."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from dbcs_server.errors import ApiError
from dbcs_server.state import RunsDep
from dbcs_server.streams import models
from dbcs_server.streams.engine import Run, RunOver
from dbcs_server.streams.runs import Runs, listed, stats
from dbcs_server.wire import Dialect

StreamId = Annotated[
    str,
    Path(alias="id", description="The run's id: stream_ + a 27-character KSUID (any other id is not found)",
         json_schema_extra={"pattern": models.STREAM_ID_PATTERN}),
]


def not_found(stream_id: str) -> ApiError:
    return ApiError(404, f"stream '{stream_id}' not found")


def acting(runs: Runs, owner: str, stream_id: str, action: Callable[[Run], str]) -> dict[str, str]:
    """Pause, resume or stop the caller's run: 404 for an unknown one, 409 once it has ended."""
    run = runs.active(owner, stream_id)
    try:
        if run is None:
            row = runs.row(owner, stream_id)
            if row is None:
                raise not_found(stream_id)
            raise RunOver(row.status)
        return {"id": stream_id, "status": action(run)}
    except RunOver as over:
        raise ApiError(409, f"stream '{stream_id}' has ended ({over.status})",
                       details={"field": "stream_state", "value": over.status}) from None


def build(dialect: Dialect) -> APIRouter:
    router = APIRouter(tags=["streams"], responses=dialect.responses(401))
    Caller = dialect.Caller  # pylint: disable=invalid-name
    acts = dialect.responses(404, 409, descriptions={
        404: "Unknown stream (or one of another API key)",
        409: "The stream has ended: details.field is stream_state, details.value its status"})

    @router.get("/streams", response_model=list[models.StreamRun], response_model_exclude_none=True,
                summary="The key's runs, active and ended, oldest first")
    def list_streams(caller: Caller, runs: RunsDep) -> Any:
        return [listed(row) for row in runs.rows(caller.owner)]

    @router.get("/streams/{id}/stats", response_model=models.StreamStats, response_model_exclude_none=True,
                responses=dialect.responses(404, descriptions={404: "Unknown stream (or one of another API key)"}),
                summary="A run's status and counts",
                description="Counts are rows read (source nodes) and written (target node), per table the rows"
                            " written; bytes are estimates. errorMessage (a local-server stand-in) says why a FAILED"
                            " run failed.")
    def stream_stats(stream_id: StreamId, caller: Caller, runs: RunsDep) -> Any:
        row = runs.row(caller.owner, stream_id)
        if row is None:
            raise not_found(stream_id)
        return stats(row)

    @router.post("/streams/{id}/pause", response_model=models.RunState, responses=acts,
                 summary="Pause a run (it parks at the next bundle boundary)")
    def pause(stream_id: StreamId, caller: Caller, runs: RunsDep) -> Any:
        return acting(runs, caller.owner, stream_id, Run.pause)

    @router.post("/streams/{id}/resume", response_model=models.RunState, responses=acts, summary="Resume a paused run")
    def resume(stream_id: StreamId, caller: Caller, runs: RunsDep) -> Any:
        return acting(runs, caller.owner, stream_id, Run.resume)

    @router.post("/streams/{id}/stop", response_model=models.RunState, responses={**acts, **dialect.responses(400)},
                 summary="Stop a run",
                 description="At the next bundle boundary (a statement still running after 10 s is interrupted);"
                             " force=true interrupts the statement in flight at once.")
    def stop(stream_id: StreamId, caller: Caller, runs: RunsDep,
             force: Annotated[bool, Query(description="Interrupt the statement in flight")] = False) -> Any:
        return acting(runs, caller.owner, stream_id, lambda run: run.stop(force))

    return router
