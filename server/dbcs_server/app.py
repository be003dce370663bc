"""create_app(settings): the FastAPI application, its storage, and its middleware."""

import logging
import os
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from dbcs_server import __version__, auth, errors
from dbcs_server.probes import Prober
from dbcs_server.reqlog import RequestLog, RequestLogMiddleware
from dbcs_server.routers import connections, probes, service, user
from dbcs_server.secrets_box import SecretBox, load_or_create_key
from dbcs_server.settings import Settings
from dbcs_server.store import DB_FILE, Store

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 1024 * 1024
log = logging.getLogger("dbcs_server")


class JsonErrorCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with refused preflights in the {"error"} shape."""

    def preflight_response(self, request_headers: Any) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 400:
            headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
            return JSONResponse({"error": response.body.decode()}, status_code=400, headers=headers)
        return response


def prepare_data_dir(settings: Settings) -> None:
    if not settings.data_dir.exists():
        settings.data_dir.mkdir(mode=0o700, parents=True)
        os.chmod(settings.data_dir, 0o700)


def create_app(settings: Settings) -> FastAPI:
    """Build the app. Raises SecretKeyError or OSError when the data directory is unusable."""
    prepare_data_dir(settings)
    box = SecretBox(load_or_create_key(settings.data_dir))
    store = Store(settings.data_dir / DB_FILE, box)
    request_log = RequestLog(settings.request_log) if settings.request_log else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        store.close()
        if request_log:
            request_log.close()

    app = FastAPI(
        title="DBConvert Streams Connection API (local server)",
        version=__version__,
        description="A local implementation of the DBConvert Streams Connection API. "
        "Every error is {\"error\": \"<text>\"}.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
        strict_content_type=False,  # a JSON body without a Content-Type is still read as JSON
    )
    app.state.settings = settings
    app.state.store = store
    app.state.prober = Prober(settings.db_timeout, settings.allowed_db_hosts)
    app.state.api_keys = tuple(key.encode("utf-8") for key in settings.api_keys)
    app.state.sessions = set()  # owners that called /user/configs since start (--strict-configs)

    for module in (service, user, connections, probes):
        app.include_router(module.router, prefix=API_PREFIX)
    errors.install(app, auth.precheck)

    app.add_middleware(errors.BodyLimitMiddleware, limit=MAX_BODY_BYTES)
    # Added last = outermost: the request log sees every answer, including CORS and 500s.
    app.add_middleware(errors.CatchAllMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            JsonErrorCORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key"],
        )
    if request_log:
        app.add_middleware(RequestLogMiddleware, log=request_log)

    app.openapi = lambda: openapi_document(app)
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, less the 422 answers this server never gives."""
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
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    app.openapi_schema = document
    return document
