"""--request-log: one JSON line per request, {time, method, path, status, duration_ms}, nothing else.

No bodies, no headers, no query string: those are where secrets travel. Each line goes out in
one write(2) on an O_APPEND descriptor, so readers see whole lines while the server runs, and
it is written before the answer's last byte is sent, so a client that has its answer can
already read the line.
"""

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestLog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, method: str, path: str, status: int, duration_ms: float) -> None:
        entry = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration_ms, 3),
        }
        os.write(self._fd, (json.dumps(entry) + "\n").encode("utf-8"))

    def close(self) -> None:
        os.close(self._fd)


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, log: RequestLog):
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering
        logged = False

        def write() -> None:
            nonlocal logged
            if not logged:
                logged = True
                self.log.write(scope["method"], scope["path"], status, (time.perf_counter() - started) * 1000)

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                write()  # before the last byte leaves: a client that got its answer finds the line
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            write()
