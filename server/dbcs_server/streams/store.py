"""Stream configurations and runs in the connections' SQLite file (the tables of layout 3, store.py).

A configuration is a row (id, owner, name, created, updated) with its fields as a JSON document,
and one link row per connection it uses (a foreign key that keeps those connections from being
deleted). A run is a row with its status, counts, per-table progress (JSON) and error; once it
has ended it is also the configuration's history entry. Every write is one BEGIN IMMEDIATE
transaction: a start that finds a run of the same configuration active, a delete of a
configuration with an active run, and a second configuration of the same name all lose.
"""

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dbcs_server import ksuid
from dbcs_server.store import NameTaken, Store, copy_name
from dbcs_server.streams.models import ACTIVE

CONFIG_COLUMNS = "id, name, created, updated, document"
RUN_COLUMNS = "id, config_id, status, created, finished, duration_ms, rows, bytes, progress, error"
ACTIVE_IN = f"status IN ({', '.join(repr(s) for s in ACTIVE)})"


class ConfigNameTaken(NameTaken):
    def __init__(self, name: str):
        super().__init__(name)
        self.args = (f"a stream configuration named '{name}' already exists",)


class RunActive(Exception):
    """A run of the configuration is active (start and delete refuse)."""

    def __init__(self, message: str, runs: list[str]):
        super().__init__(message)
        self.runs = runs


@dataclass
class ConfigRow:
    id: str
    name: str
    created: int
    updated: int
    document: dict[str, Any]

    def connection_ids(self) -> list[str]:
        return connection_ids(self.document)


@dataclass
class RunRow:
    id: str
    config_id: str
    status: str
    created: int
    finished: int | None = None
    duration_ms: int = 0
    rows: int = 0
    bytes: int = 0
    progress: dict[str, Any] = field(default_factory=dict)  # {"tables": {name: rows}, "nodes": {id: {...}}}
    error: str | None = None


def connection_ids(document: dict[str, Any]) -> list[str]:
    """Every connection a configuration document names (sources, then the target), once each."""
    ids = [c["connectionId"] for c in document["source"]["connections"]] + [document["target"]["id"]]
    return list(dict.fromkeys(ids))


def _config(row: tuple) -> ConfigRow:
    id_, name, created, updated, document = row
    return ConfigRow(id_, name, created, updated, json.loads(document))


def _run(row: tuple) -> RunRow:
    *head, progress, error = row
    return RunRow(*head, progress=json.loads(progress), error=error)


class StreamStore:
    def __init__(self, store: Store):
        self._store = store

    # -- configurations --------------------------------------------------------------------

    def _link(self, db: sqlite3.Connection, id_: str, document: dict[str, Any]) -> None:
        db.execute("DELETE FROM stream_config_connections WHERE config_id = ?", (id_,))
        db.executemany("INSERT INTO stream_config_connections (config_id, connection_id) VALUES (?, ?)",
                       [(id_, c) for c in connection_ids(document)])

    def create_config(self, owner: str, name: str, document: dict[str, Any]) -> ConfigRow:
        now = int(time.time())
        row = ConfigRow("config_" + ksuid.new(now), name, now, now, document)
        try:
            with self._store.transaction() as db:
                db.execute(f"INSERT INTO stream_configs (owner, {CONFIG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                           (owner, row.id, name, now, now, json.dumps(document)))
                self._link(db, row.id, document)
        except sqlite3.IntegrityError as exc:
            raise self._integrity(exc, name) from None
        return row

    @staticmethod
    def _integrity(exc: sqlite3.IntegrityError, name: str) -> Exception:
        """A UNIQUE failure is a taken name; a FOREIGN KEY one, a connection deleted meanwhile."""
        if "FOREIGN KEY" in str(exc):
            return LookupError("a connection the configuration names was deleted meanwhile")
        return ConfigNameTaken(name)

    def list_configs(self, owner: str) -> list[ConfigRow]:
        rows = self._store.db().execute(
            f"SELECT {CONFIG_COLUMNS} FROM stream_configs WHERE owner = ? ORDER BY created, rowid", (owner,))
        return [_config(row) for row in rows]

    def get_config(self, owner: str, id_: str) -> ConfigRow | None:
        row = self._store.db().execute(
            f"SELECT {CONFIG_COLUMNS} FROM stream_configs WHERE owner = ? AND id = ?", (owner, id_)).fetchone()
        return _config(row) if row else None

    def replace_config(self, owner: str, id_: str, name: str, document: dict[str, Any]) -> ConfigRow | None:
        now = int(time.time())
        try:
            with self._store.transaction() as db:
                found = db.execute("SELECT created, updated FROM stream_configs WHERE owner = ? AND id = ?",
                                   (owner, id_)).fetchone()
                if found is None:
                    return None
                # Strictly increasing: a client telling changes apart by `updated` sees every PUT.
                updated = max(now, found[1] + 1)
                db.execute("UPDATE stream_configs SET name = ?, updated = ?, document = ? WHERE id = ?",
                           (name, updated, json.dumps(document), id_))
                self._link(db, id_, document)
        except sqlite3.IntegrityError as exc:
            raise self._integrity(exc, name) from None
        return ConfigRow(id_, name, found[0], updated, document)

    def delete_config(self, owner: str, id_: str) -> bool:
        """False when the key has no such configuration; RunActive while one of its runs is active."""
        with self._store.transaction() as db:
            if not db.execute("SELECT 1 FROM stream_configs WHERE owner = ? AND id = ?", (owner, id_)).fetchone():
                return False
            active = self._active_runs(db, id_)
            if active:
                raise RunActive(f"stream configuration '{id_}' has an active run ({', '.join(active)}):"
                                " stop it first", active)
            db.execute("DELETE FROM stream_configs WHERE id = ?", (id_,))
        return True

    def clone_config(self, owner: str, id_: str) -> ConfigRow | None:
        """A copy under a new id and the first free '<name>-copy[-N]'."""
        now = int(time.time())
        new_id = "config_" + ksuid.new(now)
        with self._store.transaction() as db:
            row = db.execute(f"SELECT {CONFIG_COLUMNS} FROM stream_configs WHERE owner = ? AND id = ?",
                             (owner, id_)).fetchone()
            if row is None:
                return None
            original = _config(row)
            taken = {name for (name,) in db.execute("SELECT name FROM stream_configs WHERE owner = ?", (owner,))}
            copy = ConfigRow(new_id, copy_name(original.name, taken), now, now, original.document)
            db.execute(f"INSERT INTO stream_configs (owner, {CONFIG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                       (owner, copy.id, copy.name, now, now, json.dumps(copy.document)))
            self._link(db, copy.id, copy.document)
        return copy

    # -- runs ------------------------------------------------------------------------------

    @staticmethod
    def _active_runs(db: sqlite3.Connection, config_id: str) -> list[str]:
        return [id_ for (id_,) in db.execute(
            f"SELECT id FROM stream_runs WHERE config_id = ? AND {ACTIVE_IN} ORDER BY created, rowid", (config_id,))]

    def create_run(self, owner: str, config_id: str, worker: str) -> RunRow | None:
        """A READY run of the configuration; None when the key has no such configuration, RunActive
        when a run of it is active."""
        now = int(time.time())
        run = RunRow("stream_" + ksuid.new(now), config_id, "READY", now)
        with self._store.transaction() as db:
            if not db.execute("SELECT 1 FROM stream_configs WHERE owner = ? AND id = ?", (owner, config_id)).fetchone():
                return None
            active = self._active_runs(db, config_id)
            if active:
                raise RunActive(f"stream configuration '{config_id}' already has an active run: {', '.join(active)}",
                                active)
            db.execute("INSERT INTO stream_runs (id, owner, config_id, status, created, worker) VALUES (?, ?, ?, ?, ?, ?)",
                       (run.id, owner, config_id, run.status, now, worker))
        return run

    def save_run(self, run: RunRow) -> bool:
        """Write the run's state, unless it has ended already (its end is written once). True when written."""
        with self._store.transaction() as db:
            return db.execute(
                "UPDATE stream_runs SET status = ?, finished = ?, duration_ms = ?, rows = ?, bytes = ?, progress = ?,"
                f" error = ? WHERE id = ? AND {ACTIVE_IN}",
                (run.status, run.finished, run.duration_ms, run.rows, run.bytes, json.dumps(run.progress),
                 run.error, run.id),
            ).rowcount == 1

    def get_run(self, owner: str, id_: str) -> RunRow | None:
        row = self._store.db().execute(
            f"SELECT {RUN_COLUMNS} FROM stream_runs WHERE owner = ? AND id = ?", (owner, id_)).fetchone()
        return _run(row) if row else None

    def list_runs(self, owner: str) -> list[RunRow]:
        rows = self._store.db().execute(
            f"SELECT {RUN_COLUMNS} FROM stream_runs WHERE owner = ? ORDER BY created, rowid", (owner,))
        return [_run(row) for row in rows]

    def history(self, owner: str, config_id: str) -> list[RunRow] | None:
        """The configuration's ended runs, newest first; None when the key has no such configuration."""
        db = self._store.db()
        if not db.execute("SELECT 1 FROM stream_configs WHERE owner = ? AND id = ?", (owner, config_id)).fetchone():
            return None
        rows = db.execute(
            f"SELECT {RUN_COLUMNS} FROM stream_runs WHERE config_id = ? AND NOT {ACTIVE_IN}"
            " ORDER BY created DESC, rowid DESC", (config_id,))
        return [_run(row) for row in rows]

    def fail_orphans(self, alive: Callable[[str], bool], message: str) -> list[str]:
        """End every active run whose worker process is gone as FAILED with `message`; their ids."""
        now = int(time.time())
        with self._store.transaction() as db:
            orphans = [(id_, created) for id_, created, worker in db.execute(
                f"SELECT id, created, worker FROM stream_runs WHERE {ACTIVE_IN}") if not alive(worker)]
            for id_, created in orphans:
                db.execute("UPDATE stream_runs SET status = 'FAILED', finished = ?, error = ? WHERE id = ?",
                           (now, message, id_))
        return [id_ for id_, _created in orphans]
