"""create_app(settings): the FastAPI application of one dialect, its storage, and its middleware."""

import asyncio
import logging
import os
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from dbcs_server import __version__, auth, errors
from dbcs_server.drivers import Limits
from dbcs_server.events import Broadcaster
from dbcs_server.install import load_or_create_install_id
from dbcs_server.kinds import drivers
from dbcs_server.reqlog import RequestLog, RequestLogMiddleware
from dbcs_server.routers import (
    connections, databases, service, stream_configs, streams, system, user, v1_only, v2_only,
)
from dbcs_server.secrets_box import SecretBox, load_or_create_key
from dbcs_server.settings import Settings
from dbcs_server.store import DB_FILE, Store
from dbcs_server.streams.runs import Runs
from dbcs_server.streams.store import StreamStore
from dbcs_server.wire import dialect_for

API_PREFIX = "/api/v1"  # both dialects keep it
MAX_BODY_BYTES = 1024 * 1024
# The dialect's own routers first: 2.x's /connections/test must come before /connections/{id}.
DIALECT_ROUTERS = {1: (v1_only,), 2: (system, v2_only, stream_configs, streams)}
SHARED_ROUTERS = (service, user, connections, databases)
DESCRIPTIONS = {
    1: "The documented v1 API: flat connection fields. Every error is {\"error\": \"<text>\"}.",
    2: "The 2.x API: connection fields nested under spec.<kind>; every authenticated route needs X-API-Key"
       " and X-Install-ID (GET /system/defaults). Every error is {\"error\", \"code\", \"details\"?}."
       " Stream configurations and runs: load configurations really copy between mysql and postgresql"
       " connections; cdc configurations are stored, not run.",
}
log = logging.getLogger("dbcs_server")


class JsonErrorCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with refused preflights in the dialect's error shape."""

    def __init__(self, app: Any, render: errors.Renderer, **options: Any):
        super().__init__(app, **options)
        self.render = render

    def preflight_response(self, request_headers: Any) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 400:
            headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
            return self.render(400, response.body.decode(), headers=headers)
        return response


def prepare_data_dir(settings: Settings) -> None:
    if not settings.data_dir.exists():
        settings.data_dir.mkdir(mode=0o700, parents=True)
        os.chmod(settings.data_dir, 0o700)


def create_app(settings: Settings) -> FastAPI:
    """Build the app. Raises SecretKeyError, InstallIdError, LayoutError or OSError when the data
    directory is unusable."""
    prepare_data_dir(settings)
    dialect = dialect_for(settings)
    box = SecretBox(load_or_create_key(settings.data_dir))
    install_id = load_or_create_install_id(settings.data_dir) if dialect.install_id else None
    store = Store(settings.data_dir / DB_FILE, box, kinds=dialect.kinds)
    request_log = RequestLog(settings.request_log) if settings.request_log else None
    events = Broadcaster(settings.sse_heartbeat)
    app_drivers = drivers(Limits(settings.db_timeout, settings.allowed_db_hosts))
    stream_store = StreamStore(store)
    runs = Runs(stream_store, store, app_drivers, events)
    orphans = runs.recover()
    if orphans:
        log.warning("%d stream run(s) were active when the server stopped: now FAILED", len(orphans))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        events.bind(asyncio.get_running_loop())
        yield
        await asyncio.to_thread(runs.shutdown)
        store.close()
        if request_log:
            request_log.close()

    app = FastAPI(
        title=f"DBConvert Streams Connection API (local server, API {'2.x' if dialect.version == 2 else 'v1'})",
        version=__version__,
        description=DESCRIPTIONS[dialect.version],
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
        strict_content_type=False,  # a JSON body without a Content-Type is still read as JSON
    )
    app.state.settings = settings
    app.state.dialect = dialect
    app.state.store = store
    app.state.drivers = app_drivers
    app.state.streams = stream_store
    app.state.runs = runs
    app.state.api_keys = tuple(key.encode("utf-8") for key in settings.api_keys)
    app.state.install_id = install_id
    app.state.events = events
    app.state.sessions = set()  # owners that called /user/configs since start (--strict-configs)

    for module in DIALECT_ROUTERS[dialect.version] + SHARED_ROUTERS:
        app.include_router(module.build(dialect), prefix=API_PREFIX)
    render = errors.renderer(dialect.error)
    errors.install(app, auth.precheck, render)

    app.add_middleware(errors.BodyLimitMiddleware, limit=MAX_BODY_BYTES, render=render)
    # Added last = outermost: the request log sees every answer, including CORS and 500s.
    app.add_middleware(errors.CatchAllMiddleware, render=render)
    if settings.cors_origins:
        app.add_middleware(
            JsonErrorCORSMiddleware,
            render=render,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=list(dialect.cors_headers),
        )
    if request_log:
        app.add_middleware(RequestLogMiddleware, log=request_log)

    app.openapi = openapi_builder(app)
    return app


def openapi_builder(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi_document() -> dict[str, Any]:
        """FastAPI's document, less the 422 answers this server never gives, with 2.x's two headers as one need."""
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes,
            openapi_version=app.openapi_version,
        )
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                operation.get("responses", {}).pop("422", None)
                # FastAPI lists each Security dependency as an alternative; this server needs all of them.
                if len(operation.get("security", [])) > 1:
                    operation["security"] = [{k: v for need in operation["security"] for k, v in need.items()}]
        schemas = document.get("components", {}).get("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = document
        return document

    return openapi_document
