"""One error shape per dialect everywhere: {"error": "<text>"} (v1), plus "code" and "details" (2.x).

Validation failures are 400 (never 422), unknown routes 404, wrong methods 405, and anything
unexpected a generic 500 whose log line names the exception type and frames, never its message
(driver messages can quote secrets). The handlers and middlewares render errors through the
Renderer create_app gives them (the dialect's shape).
"""

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dbcs_server.kinds import SECRET_FIELD_NAMES
from dbcs_server.secrets_box import SecretKeyError

log = logging.getLogger("dbcs_server")

STATUS_TEXT = {
    400: "bad request",
    401: "missing or invalid API key",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    413: "request body too large",
    415: "unsupported media type",
    503: "service unavailable",
}
DESCRIPTIONS = {
    400: "Invalid request: the message names the field and what is wrong",
    401: "Missing or wrong X-API-Key (2.x: or X-Install-ID)",
    404: "Unknown connection (or one owned by another API key)",
    409: "Name already taken (v1 with --strict-configs: also /user/configs not called yet)",
    503: "The database could not be reached or answered with an error",
}
DETAIL_VALUE_MAX = 200


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, code: str | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.code = code
        self.details = details


# render(status, message, code=None, details=None, headers=None) -> the answer, in the dialect's shape
Renderer = Callable[..., JSONResponse]


def renderer(shape: Callable[..., dict[str, Any]]) -> Renderer:
    def render(status: int, message: str, code: str | None = None, details: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(shape(status, message, code, details), status_code=status, headers=headers)

    return render


def responses(error_model: type[BaseModel], *statuses: int,
              descriptions: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    text = {**DESCRIPTIONS, **(descriptions or {})}
    return {s: {"model": error_model, "description": text[s]} for s in statuses}


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
    # A body-level JSON decode error carries the byte offset as its location.
    if kind == "json_invalid":
        return "request body is not valid JSON"
    field = ".".join(loc)
    if not field:
        if kind == "missing":
            return "request body is required"
        if kind in ("model_attributes_type", "dict_type", "model_type"):
            if isinstance(error.get("input"), bytes):
                return "request body must be a JSON object (send it with Content-Type: application/json)"
            return "request body must be a JSON object"
        return error.get("msg", "invalid request")
    if kind == "missing":
        return f"{field} is required"
    if kind == "extra_forbidden":
        return f"unknown field '{field}'"
    if kind == "string_type":
        return f"{field} must be a string"
    if kind in ("bool_type", "bool_parsing"):
        return f"{field} must be true or false"
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return f"{field} must be an object"
    ctx = error.get("ctx") or {}
    if kind == "string_too_short":
        return f"{field} must not be empty" if ctx.get("min_length") == 1 else f"{field} is too short"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        return f"{field} must be {bound} or {'more' if kind == 'greater_than_equal' else 'less'}"
    if kind == "int_parsing":
        return f"{field} must be a whole number"
    if kind == "too_short":
        return f"{field} must not be empty" if ctx.get("min_length") == 1 else f"{field} is too short"
    if kind == "string_too_long":
        return f"{field} must be at most {ctx.get('max_length')} characters"
    if kind == "literal_error":
        return f"{field} must be one of {ctx.get('expected')}"
    return f"{field} {error.get('msg', 'is invalid')}"


def validation_message(exc: RequestValidationError) -> str:
    seen: list[str] = []
    for error in exc.errors():
        text = _describe(error)
        if text not in seen:
            seen.append(text)
    return "; ".join(seen) or "invalid request"


def allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document lists for this path (Starlette names only one route's)."""
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        table = []
        for template, operations in request.app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            table.append((re.compile(pattern + "$"), sorted(m.upper() for m in operations)))
        request.app.state.allowed_methods = table
    for pattern, methods in table:
        if pattern.match(request.url.path):
            return methods
    return []


def validation_details(exc: RequestValidationError) -> dict[str, Any] | None:
    """{field, value} of the first refused field; the value only when it is short, plain and no secret."""
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        if not loc or error.get("type") == "json_invalid":
            continue
        details: dict[str, Any] = {"field": ".".join(loc)}
        value = error.get("input")
        if (error.get("type") != "missing" and loc[-1] not in SECRET_FIELD_NAMES
                and isinstance(value, (str, int, float, bool)) and len(str(value)) <= DETAIL_VALUE_MAX):
            details["value"] = value
        return details
    return None


def install(app: FastAPI, precheck: Callable[[Request], None], render: Renderer) -> None:
    """Register the handlers. `precheck(request)` raises the auth/session ApiError, if any,
    so that a malformed body from an unauthenticated caller is still a 401."""

    def answer(exc: ApiError) -> JSONResponse:
        return render(exc.status, exc.message, exc.code, exc.details, exc.headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(SecretKeyError)
    async def secret_key_error(request: Request, exc: SecretKeyError) -> JSONResponse:
        log.error("%s", exc)
        return render(500, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else ""
        if exc.status_code in STATUS_TEXT and detail in ("", "Not Found", "Method Not Allowed"):
            detail = STATUS_TEXT[exc.status_code]
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return render(exc.status_code, detail or "error", headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        try:
            precheck(request)
        except ApiError as first:
            return answer(first)
        return render(400, validation_message(exc), "VALIDATION_ERROR", validation_details(exc))


class CatchAllMiddleware:
    """Turn any unhandled exception into a 500 {"error"} without logging its message."""

    def __init__(self, app: ASGIApp, render: Renderer):
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error(
                "internal error on %s %s: %s\n%s",
                scope.get("method"), scope.get("path"), type(exc).__name__, frames,
            )
            if started:
                return  # too late for an error body; uvicorn closes the connection
            response = self.render(500, "internal server error")
            await response(scope, receive, send)


class BodyLimitMiddleware:
    """Answer 413 {"error"} to a request body over `limit` bytes, before it is read into memory.

    A connection with three PEM certificates is a few kilobytes; nothing the API takes comes near a MiB.
    """

    def __init__(self, app: ASGIApp, limit: int, render: Renderer):
        self.app = app
        self.limit = limit
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.render(413, BodyTooLarge(self.limit).detail)
        await response(scope, receive, send)


class BodyTooLarge(StarletteHTTPException):
    """A chunked body went over the limit while it was read (FastAPI lets an HTTPException through its body parsing)."""

    def __init__(self, limit: int):
        super().__init__(413, "request body too large: the limit is %d bytes" % limit)
