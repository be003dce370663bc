"""Service routes of the 2.x dialect that the vendor's web client calls when it starts: the install
id, readiness, service status, SQL logging settings and the log stream."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from dbcs_server.errors import ApiError
from dbcs_server.models import Ready, ServicesStatus, SqlLogging, SqlLoggingIn, SystemDefaults
from dbcs_server.state import SettingsDep, StoreDep
from dbcs_server.wire import Dialect

SQL_LOGGING_DEFAULTS = {"sqlCaptureMode": "off", "forwardSQLLogs": False}
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def build(dialect: Dialect) -> APIRouter:
    router = APIRouter(tags=["service"])
    Caller = dialect.Caller  # pylint: disable=invalid-name

    @router.get("/system/defaults", response_model=SystemDefaults, summary="The install id (no API key needed)")
    def system_defaults(request: Request, settings: SettingsDep) -> dict:
        return {
            "installId": request.app.state.install_id,
            "mode": "server",
            "defaultExportPath": str(settings.data_dir / "exports"),
        }

    @router.get("/ready", response_model=Ready, responses=dialect.responses(503),
                summary="Readiness: the store answers (no API key needed)")
    async def ready(store: StoreDep) -> dict:
        if not await run_in_threadpool(store.ready):
            raise ApiError(503, "the store is not ready")
        return {"status": "ready"}

    @router.get("/services/status", response_model=ServicesStatus, responses=dialect.responses(401),
                summary="The services of this server and their health")
    def services_status(caller: Caller) -> dict:
        return {"services": [{"name": "stream-api", "status": "passing"}]}

    @router.put("/system/sql-logging", response_model=SqlLogging, responses=dialect.responses(400, 401),
                summary="SQL logging settings: answers them as set (this server captures no SQL)")
    def sql_logging(body: SqlLoggingIn, caller: Caller) -> dict:
        return {**SQL_LOGGING_DEFAULTS, **body.model_dump(exclude_none=True)}

    @router.get(
        "/logs/stream",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                         "description": "Server-sent events: heartbeat (now), log and stat (stream runs, later)"}},
        summary="The log stream (server-sent events; no API key needed)",
    )
    async def log_stream(request: Request) -> Any:
        return StreamingResponse(request.app.state.events.stream(), media_type="text/event-stream",
                                 headers=SSE_HEADERS)

    return router
