"""One `load` run: a thread that copies the configuration's tables from its sources to its target.

The worker opens the sources and the target through the drivers (the kind's registry entry
picks the endpoint classes of streams/endpoints.py), resolves the tables, prepares every target
table as schemaPolicy and writeMode say (all checks before any change), then copies table after
table in bundles of dataBundleSize rows. Between bundles it stops at checkpoints: a pause parks
it there, a stop ends it, and the row and time limits end it as EVENT_LIMIT_REACHED or
TIME_LIMIT_REACHED (the last bundle is cut so that exactly numberOfEvents rows are written;
paused time does not count against elapsedTime). Counts are those of committed bundles, kept in
memory, saved to the store about once a second and at every change of status, and published as
`stat` log events every reportingInterval seconds. A forced stop interrupts the statement in
flight (psycopg's cancel; PyMySQL's socket is shut down).

The worker never lets a run stay active without it: whatever ends it (the end of the data, a
limit, a stop, a database error, a bug) writes the final status once. Error messages are the
database's own first line, scrubbed of the connections' secrets; log events carry no message
of the database (it may quote row values), only its code.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from dbcs_server.drivers import Driver, scrub
from dbcs_server.events import Broadcaster
from dbcs_server.record import Record
from dbcs_server.streams.endpoints import Endpoint, error_code, failure_message
from dbcs_server.streams.models import (
    DEFAULT_BUNDLE_SIZE, DEFAULT_REPORTING_INTERVAL, DEFAULT_SCHEMA_POLICY, DEFAULT_WRITE_MODE,
)
from dbcs_server.streams.store import RunRow, StreamStore
from dbcs_server.streams.types import TableDef, Unmappable, target_type

SAVE_SECONDS = 1.0  # how often a running load saves its counts
PARK_WAIT = 10.0  # how long pause waits for the worker to reach a checkpoint
STOP_WAIT = 10.0  # how long a plain stop waits before it interrupts the statement in flight
FORCE_WAIT = 5.0  # how long a forced stop waits for the interrupted worker to write its end
SAMPLE_EVERY = 97  # rows between two rows whose size is measured (the byte counts are estimates)
SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


class Ended(Exception):
    """The run ends with `status` (and, for FAILED, `message`) before its data is all copied."""

    def __init__(self, status: str, message: str | None = None):
        super().__init__(message or status)
        self.status = status
        self.message = message


class RunOver(Exception):
    """pause, resume or stop of a run that has ended."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


def data_size(count: int) -> str:
    """Bytes as the vendor's client writes them: '0 B', '1.20 MB'."""
    if count <= 0:
        return "0 B"
    unit = 0
    value = float(count)
    while value >= 1024 and unit < len(SIZE_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.2f} {SIZE_UNITS[unit]}"


def estimated_bytes(rows: list[tuple]) -> int:
    """The text size of the values of every SAMPLE_EVERY-th row, scaled to the bundle."""
    sample = rows[::SAMPLE_EVERY]
    measured = sum(len(v) if isinstance(v, (str, bytes)) else len(str(v)) for row in sample for v in row if v is not None)
    return measured * len(rows) // len(sample) if sample else 0


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Source:
    """One source connection of the configuration, as the run uses it."""

    node: str
    record: Record
    database: str
    schema: str | None
    tables: list[str]  # empty: every table
    endpoint: Endpoint = None
    read: int = 0
    bytes: int = 0


class Run:
    """A load run. The API thread calls pause, resume, stop, snapshot; the worker runs main()."""

    def __init__(self, row: RunRow, config: dict[str, Any], records: dict[str, Record], drivers: dict[str, Driver],
                 store: StreamStore, events: Broadcaster, on_end: Callable[["Run"], None]):
        self.id = row.id
        self.config_id = row.config_id
        self.created = row.created
        self.config = config
        self.records = records
        self.drivers = drivers
        self.store = store
        self.events = events
        self.on_end = on_end
        target = config["target"]
        spec = target["spec"]["db"]
        self.target_record = records[target["id"]]
        self.target_database = spec["database"]
        self.target_schema = spec.get("schema")
        self.schema_policy = spec.get("schemaPolicy", DEFAULT_SCHEMA_POLICY)
        self.write_mode = spec.get("writeMode", DEFAULT_WRITE_MODE)
        self.bundle = config["source"].get("options", {}).get("dataBundleSize", DEFAULT_BUNDLE_SIZE)
        limits = config.get("limits", {})
        self.row_limit = limits.get("numberOfEvents", 0)
        self.time_limit = limits.get("elapsedTime", 0)
        self.interval = config.get("reportingInterval", DEFAULT_REPORTING_INTERVAL)
        self.sources = [
            Source(f"source-{i + 1}", records[c["connectionId"]], c.get("database") or records[c["connectionId"]].spec.get("database", ""),
                   c.get("schema"), [t["name"] for t in c.get("tables", [])])
            for i, c in enumerate(config["source"]["connections"])
        ]
        self.secrets = [s for record in records.values() for s in
                        record.secret_values(drivers[record.type].secret_paths)]
        self.target: Endpoint = None
        self.written = 0
        self.bytes = 0
        self.tables: dict[str, int] = {}  # target table name -> rows written
        self.status = "READY"
        self.error: str | None = None
        self.finished: int | None = None
        self.duration_ms = 0
        # What the API asks and the worker tells back, under one condition.
        self.cond = threading.Condition()
        self.pause_requested = False
        self.stop_requested = False
        self.parked = False
        self.ended = False
        self.started = time.monotonic()
        self.paused_seconds = 0.0
        self.parked_at = 0.0
        self.saved_at = 0.0
        self.reported_at = 0.0
        self.save_lock = threading.Lock()  # a save writes a snapshot taken under it: never an older one
        self.abort_message: str | None = None
        self.thread = threading.Thread(target=self.main, name=f"load {row.id}", daemon=True)

    # -- what the API asks -----------------------------------------------------------------

    def snapshot(self) -> RunRow:
        with self.cond:
            return RunRow(
                id=self.id, config_id=self.config_id, status=self.status, created=self.created, finished=self.finished,
                duration_ms=self.duration_ms if self.ended else int((time.monotonic() - self.started) * 1000),
                rows=self.written, bytes=self.bytes, error=self.error,
                progress={"tables": [{"name": n, "rows": r} for n, r in self.tables.items()],
                          "nodes": [{"id": s.node, "type": "source", "counter": s.read, "bytes": s.bytes}
                                    for s in self.sources]
                          + [{"id": "target-1", "type": "target", "counter": self.written, "bytes": self.bytes}]},
            )

    def pause(self) -> str:
        with self.cond:
            self._refuse_if_over()
            if not self.pause_requested:
                self.pause_requested = True
                self.status = "PAUSED"
                self.cond.notify_all()
            self.cond.wait_for(lambda: self.parked or self.ended, PARK_WAIT)
            status = self.status
        self._save()
        return status

    def resume(self) -> str:
        with self.cond:
            self._refuse_if_over()
            if self.pause_requested:
                self.pause_requested = False
                self.status = "RUNNING"
                self.cond.notify_all()
            status = self.status
        self._save()
        return status

    def stop(self, force: bool) -> str:
        with self.cond:
            self._refuse_if_over()
            self.stop_requested = True
            self.cond.notify_all()
        if not force:
            self.thread.join(STOP_WAIT)
        if self.thread.is_alive():
            self._interrupt()
            self.thread.join(FORCE_WAIT)
        self._end("STOPPED")  # a no-op when the worker wrote its end
        return self.status

    def abort(self, message: str) -> None:
        """The server is stopping: end the run as FAILED now."""
        with self.cond:
            self.abort_message = message
            self.stop_requested = True
            self.cond.notify_all()
        self._interrupt()
        self.thread.join(FORCE_WAIT)
        self._end("FAILED", message)

    def _refuse_if_over(self) -> None:
        if self.ended:
            raise RunOver(self.status)

    def _interrupt(self) -> None:
        for endpoint in [s.endpoint for s in self.sources] + [self.target]:
            if endpoint is not None:
                try:
                    endpoint.interrupt()
                except Exception:  # pylint: disable=broad-except  # an endpoint already closed
                    pass

    # -- the worker ------------------------------------------------------------------------

    def main(self) -> None:
        try:
            self._log("info", "api", f"stream {self.id} started: a load of configuration {self.config_id}")
            with self.cond:
                if self.status == "READY":
                    self.status = "RUNNING"
            self._save()
            self._open()
            plan = self._plan()
            self._prepare(plan)
            for source, table in plan:
                self._copy(source, table)
            self._end("FINISHED")
        except Ended as ended:
            self._end(ended.status, ended.message)
        except Exception as exc:  # pylint: disable=broad-except  # every failure ends the run
            if self.stop_requested:
                self._end("STOPPED")
            else:
                self._end("FAILED", scrub(failure_message(exc), self.secrets), error_code(exc))
        finally:
            for endpoint in [s.endpoint for s in self.sources] + [self.target]:
                if endpoint is not None:
                    try:
                        endpoint.close()
                    except Exception:  # pylint: disable=broad-except
                        pass
            self.on_end(self)

    def _open(self) -> None:
        for source in self.sources:
            self._checkpoint()
            if not source.database:
                raise Ended("FAILED", f"source {source.record.name}: no database (the connection has no default one)")
            source.endpoint = self.drivers[source.record.type].stream_source(source.record, source.database, source.schema)
        self._checkpoint()
        record = self.target_record
        self.target = self.drivers[record.type].stream_target(record, self.target_database, self.target_schema)

    def _plan(self) -> list[tuple[Source, TableDef]]:
        plan = []
        seen: dict[str, str] = {}
        for source in self.sources:
            for name in source.tables or source.endpoint.table_names():
                table = source.endpoint.describe(name)
                if table is None:
                    raise Ended("FAILED", f"table '{name}' not found in the source database '{source.database}'")
                if table.table in seen:
                    raise Ended("FAILED", f"tables '{seen[table.table]}' and '{name}' would both be written to"
                                          f" the target table '{table.table}'")
                seen[table.table] = name
                plan.append((source, table))
        return plan

    def _prepare(self, plan: list[tuple[Source, TableDef]]) -> None:
        """Check every table as schemaPolicy and writeMode say, then create, drop or empty them."""
        policy, target = self.schema_policy, self.target
        creating = []
        for source, table in plan:
            self._checkpoint()
            exists = target.exists(table.table)
            if policy == "fail_if_exists" and exists:
                raise Ended("FAILED", f"the target table '{table.table}' exists already (schemaPolicy fail_if_exists)")
            if policy == "validate_existing":
                if not exists:
                    raise Ended("FAILED", f"the target table '{table.table}' does not exist (schemaPolicy validate_existing)")
                present = set(target.column_names(table.table))
                missing = [c.name for c in table.columns if c.name not in present]
                if missing:
                    raise Ended("FAILED", f"the target table '{table.table}' has no column {', '.join(missing)}"
                                          " (schemaPolicy validate_existing)")
            if self.write_mode == "upsert" and not table.key:
                raise Ended("FAILED", f"upsert needs a primary key: the source table '{table.name}' has none")
            if policy == "drop_and_recreate" or not exists:
                try:
                    types = [target_type(c, source.record.type, target.kind, c.name in table.key) for c in table.columns]
                except Unmappable as exc:
                    raise Ended("FAILED", f"table '{table.name}': {exc}") from None
                creating.append((table, types, exists))
            elif self.write_mode == "fail_if_not_empty" and target.has_rows(table.table):
                raise Ended("FAILED", f"the target table '{table.table}' is not empty (writeMode fail_if_not_empty)")
        if creating:
            target.prepare_schema()
        for table, types, exists in creating:
            self._checkpoint()
            if exists:
                target.drop(table.table)
            target.create(table, types)
        if self.write_mode == "truncate_and_load":
            for _source, table in plan:
                target.truncate(table.table)

    def _copy(self, source: Source, table: TableDef) -> None:
        reader = source.endpoint.reader(table, self.bundle)
        writer = self.target.writer(table, upsert=self.write_mode == "upsert")
        with self.cond:
            self.tables.setdefault(table.table, 0)
        while True:
            self._checkpoint()
            wanted = self.bundle
            if self.row_limit:
                wanted = min(wanted, self.row_limit - self.written)
                if wanted == 0:
                    if reader.fetch(1):
                        raise Ended("EVENT_LIMIT_REACHED")
                    break
            rows = reader.fetch(wanted)
            if not rows:
                break
            size = estimated_bytes(rows)
            with self.cond:
                source.read += len(rows)
                source.bytes += size
            writer.write(rows)
            with self.cond:
                self.written += len(rows)
                self.bytes += size
                self.tables[table.table] += len(rows)
            self._progress()
            if len(rows) < wanted:
                break
        reader.close()
        self._log("info", "target", f"table {table.table}: {self.tables[table.table]} rows written",
                  table=table.table, events=self.tables[table.table])

    def _checkpoint(self) -> None:
        """Between bundles: park while paused, end on a stop or at the time limit."""
        with self.cond:
            while self.pause_requested and not self.stop_requested:
                if not self.parked:
                    self.parked, self.parked_at = True, time.monotonic()
                    self.cond.notify_all()
                self.cond.wait()
            if self.parked:
                self.parked = False
                self.paused_seconds += time.monotonic() - self.parked_at
            if self.stop_requested:
                raise Ended("STOPPED")
            running = time.monotonic() - self.started - self.paused_seconds
        if self.time_limit and running >= self.time_limit:
            raise Ended("TIME_LIMIT_REACHED")

    # -- what the run tells ----------------------------------------------------------------

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self.saved_at >= SAVE_SECONDS:
            self._save()
        if now - self.reported_at >= self.interval:
            self._stats()

    def _save(self) -> None:
        with self.save_lock:
            self.saved_at = time.monotonic()
            self.store.save_run(self.snapshot())

    def _end(self, status: str, message: str | None = None, code: str | None = None) -> None:
        """Write the run's end, once, whoever calls it first."""
        with self.cond:
            if self.ended:
                return
            if self.abort_message and status == "STOPPED":
                status, message, code = "FAILED", self.abort_message, None
            self.ended = True
            self.status, self.error = status, message if status == "FAILED" else None
            self.finished = int(time.time())
            self.duration_ms = int((time.monotonic() - self.started) * 1000)
            self.cond.notify_all()
        self._save()
        self._stats()
        if status == "FAILED":
            self._log("error", "api", f"stream {self.id} FAILED{f' ({code})' if code else ''}: the error is in"
                                      f" GET /streams/{self.id}/stats", category="error")
        else:
            self._log("info", "api", f"stream {self.id} {status}: {self.written} rows written", events=self.written)

    def _log(self, level: str, node_type: str, message: str, category: str = "general", **extra: Any) -> None:
        self.events.publish("log", {"level": level, "timestamp": now_iso(), "message": message, "type": node_type,
                                    "streamId": self.id, "category": category, **extra})

    def _stats(self) -> None:
        """A `stat` log entry per node, in the shape the vendor's web client aggregates."""
        self.reported_at = time.monotonic()
        row = self.snapshot()
        elapsed = max(row.duration_ms / 1000, 0.001)
        for node in row.progress["nodes"]:
            self._log("info", node["type"], f"{node['counter']} rows, {data_size(node['bytes'])}", category="stat",
                      nodeId=node["id"], table="", events=node["counter"], size=data_size(node["bytes"]),
                      rate=data_size(int(node["bytes"] / elapsed)) + "/s", elapsed=round(elapsed, 3), status=row.status)
