"""Server-sent events for GET /logs/stream: one broadcaster per process.

A subscriber gets every event published after it subscribed, and a heartbeat at once and then
whenever nothing else was sent for `heartbeat` seconds. Today only heartbeats are sent; stream
runs will publish `log` and `stat` events here. The stream needs no API key (browsers' EventSource
cannot send one), so nothing published may carry connection data or a secret.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

BACKLOG = 256  # events a slow subscriber may fall behind by; older ones are dropped for it


def frame(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def heartbeat() -> str:
    return frame("heartbeat", {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds")})


class Broadcaster:
    def __init__(self, heartbeat_seconds: float):
        self.heartbeat_seconds = heartbeat_seconds
        self._subscribers: set[asyncio.Queue[str | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the subscribers live on (create_app's lifespan binds it)."""
        self._loop = loop

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to every subscriber; safe to call from any thread."""
        self._send(frame(event, data))

    def close(self) -> None:
        """End every subscriber's stream (the server is stopping)."""
        self._send(None)

    def _send(self, item: str | None) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._deliver, item)

    def _deliver(self, item: str | None) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(item)

    async def stream(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=BACKLOG)
        self._subscribers.add(queue)
        try:
            yield heartbeat()  # at once: the client sees the stream is open
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), self.heartbeat_seconds)
                except TimeoutError:
                    item = heartbeat()
                if item is None:
                    return
                yield item
        finally:
            self._subscribers.discard(queue)
