"""The error shape for failures that cannot be produced on purpose in a real server: unit tests."""

import asyncio
import json

import pytest
from fastapi.exceptions import RequestValidationError

from dbcs_server.errors import CatchAllMiddleware, renderer, validation_message
from dbcs_server.settings import Settings
from dbcs_server.wire import V1


def run_app(app):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/v1/x", "headers": []}
    asyncio.run(CatchAllMiddleware(app, renderer(V1(Settings(api_keys=("k",))).error))(scope, receive, send))
    return sent


def test_an_unexpected_exception_is_a_generic_500_and_its_message_is_not_logged(caplog):
    secret = "hunter" + "2"  # not in the source line that the traceback shows

    async def failing_app(scope, receive, send):
        raise RuntimeError(f"password={secret} leaked in a message")

    with caplog.at_level("ERROR", logger="dbcs_server"):
        sent = run_app(failing_app)
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"]) == {"error": "internal server error"}
    assert "RuntimeError" in caplog.text
    assert secret not in caplog.text


def test_an_exception_after_the_answer_started_is_not_answered_twice():
    async def half_app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("late")

    sent = run_app(half_app)
    assert [m["type"] for m in sent] == ["http.response.start"]


@pytest.mark.parametrize(
    "error, message",
    [
        ({"type": "missing", "loc": ("body", "ssl", "mode"), "msg": "Field required"}, "ssl.mode is required"),
        ({"type": "string_too_long", "loc": ("body", "name"), "msg": "", "ctx": {"max_length": 255}},
         "name must be at most 255 characters"),
        ({"type": "json_invalid", "loc": ("body", 3), "msg": "JSON decode error"}, "request body is not valid JSON"),
    ],
)
def test_validation_messages(error, message):
    assert validation_message(RequestValidationError([error])) == message
