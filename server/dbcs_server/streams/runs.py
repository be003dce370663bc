"""The runs of one server process: start, pause, resume, stop, and what is true after a restart.

Runs execute in this process, one thread each (engine.py). The store row of a run names its
worker, this process (pid and start time): when a server starts, every run still active whose
worker process is gone is ended FAILED with a message, so that no run stays RUNNING without a
worker (a server sharing the data directory keeps the runs of a live one). When this server
stops, its active runs are ended FAILED the same way, before it goes.
"""

import os
import threading
from typing import Any

from dbcs_server.drivers import Driver
from dbcs_server.events import Broadcaster
from dbcs_server.record import Record
from dbcs_server.store import Store
from dbcs_server.streams.engine import Run, data_size
from dbcs_server.streams.store import ConfigRow, RunRow, StreamStore

ORPHANED = "the server stopped while this run was active (runs do not survive a restart)"
STOPPING = "the server was stopped while this run was active"


def start_time(pid: int) -> str | None:
    """The process's start time (clock ticks after boot, /proc/PID/stat), or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def this_worker() -> str:
    return f"{os.getpid()}:{start_time(os.getpid())}"


def worker_alive(worker: str) -> bool:
    pid, _sep, started = worker.partition(":")
    return pid.isdigit() and start_time(int(pid)) == started


class Runs:
    def __init__(self, streams: StreamStore, connections: Store, drivers: dict[str, Driver], events: Broadcaster):
        self.streams = streams
        self.connections = connections
        self.drivers = drivers
        self.events = events
        self.worker = this_worker()
        self._active: dict[str, Run] = {}
        self._lock = threading.Lock()

    def recover(self) -> list[str]:
        """End the active runs of servers that are gone (FAILED, with a message); their ids."""
        return self.streams.fail_orphans(worker_alive, ORPHANED)

    def start(self, owner: str, config: ConfigRow) -> RunRow:
        """A new run of the configuration, running. LookupError when a connection it names is gone;
        streams.store.RunActive when one of its runs is active."""
        records: dict[str, Record] = {}
        for connection_id in config.connection_ids():
            record = self.connections.get(owner, connection_id, secrets=True)
            if record is None:
                raise LookupError(f"connection '{connection_id}' of the configuration is not found")
            records[connection_id] = record
        row = self.streams.create_run(owner, config.id, self.worker)
        if row is None:
            raise LookupError(f"stream configuration '{config.id}' not found")
        run = Run(row, config.document, records, self.drivers, self.streams, self.events, self._ended)
        with self._lock:
            self._active[row.id] = run
        run.thread.start()
        return row

    def _ended(self, run: Run) -> None:
        with self._lock:
            self._active.pop(run.id, None)

    def active(self, owner: str, run_id: str) -> Run | None:
        """The caller's run while it runs in this process (checked against the store: the owner is there)."""
        with self._lock:
            run = self._active.get(run_id)
        if run is None or self.streams.get_run(owner, run_id) is None:
            return None
        return run

    def row(self, owner: str, run_id: str) -> RunRow | None:
        """The caller's run: live counts while it runs here, else as stored."""
        stored = self.streams.get_run(owner, run_id)
        if stored is None:
            return None
        with self._lock:
            run = self._active.get(run_id)
        return run.snapshot() if run is not None else stored

    def rows(self, owner: str) -> list[RunRow]:
        with self._lock:
            live = dict(self._active)
        return [live[r.id].snapshot() if r.id in live else r for r in self.streams.list_runs(owner)]

    def shutdown(self) -> None:
        with self._lock:
            running = list(self._active.values())
        threads = [threading.Thread(target=run.abort, args=(STOPPING,)) for run in running]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def stats(row: RunRow) -> dict[str, Any]:
    """GET /streams/{id}/stats of a run."""
    progress = row.progress or {}
    nodes = progress.get("nodes") or [{"id": "source-1", "type": "source", "counter": 0, "bytes": 0},
                                      {"id": "target-1", "type": "target", "counter": 0, "bytes": 0}]
    answer = {
        "id": row.id, "configId": row.config_id, "status": row.status,
        "nodes": [{"id": n["id"], "type": n["type"],
                   "stat": {"counter": n["counter"], "bytes": n["bytes"], "status": row.status}} for n in nodes],
        "tables": progress.get("tables", []),
    }
    if row.error:
        answer["errorMessage"] = row.error
    return answer


def listed(row: RunRow) -> dict[str, Any]:
    """An item of GET /streams."""
    item = {"id": row.id, "configId": row.config_id, "status": row.status, "created": row.created}
    if row.finished is not None:
        item["finished"] = row.finished
    return item


def history_entry(row: RunRow) -> dict[str, Any]:
    """An entry of GET /stream-configs/{id}/history."""
    entry = {"id": "run_" + row.id.removeprefix("stream_"), "configId": row.config_id, "streamId": row.id,
             "timestamp": row.created, "durationMs": row.duration_ms, "status": row.status,
             "rowsInserted": row.rows, "dataSize": data_size(row.bytes)}
    if row.error:
        entry["errorMessage"] = row.error
    return entry
