"""SQLite storage of connections: one file in the data directory, WAL, one connection per thread.

One row per connection: its identity (id, owner, name, kind, created), its document without
secrets as JSON, and its secrets as one sealed blob (a JSON object keyed by dotted path, sealed
with secrets_box; sealed even when empty, so that every row proves the key file). Which paths
are secrets is the kind's business (kinds.py), not the store's layout: a new field or kind
needs no new column.

Writes run in BEGIN IMMEDIATE transactions; with WAL and synchronous=NORMAL a committed write
survives a crash of this process (not necessarily a power loss), without an fsync per request.
Names are unique per owner through a UNIQUE index, so concurrent creates cannot both win.

The layout is versioned with PRAGMA user_version. Version 1 is the first layout (one column
per field, user_version 0); version 2 keeps a connection's fields as a document; version 3 adds
the tables of stream configurations and runs (stream_store.py), which reference connections:
a connection a configuration uses cannot be deleted (ConnectionInUse, and a RESTRICT foreign key
behind it). Opening a data directory migrates it, in one transaction, to the current version.
A store only shows the kinds it is opened with (a v1 server on a data directory a 2.x server
wrote keeps its other connections, invisible to it).
"""

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dbcs_server import ksuid
from dbcs_server.kinds import KINDS
from dbcs_server.record import Record, pop_paths, put_paths
from dbcs_server.secrets_box import SecretBox

DB_FILE = "connections.sqlite3"
NAME_MAX = 255
LAYOUT_VERSION = 3
CONNECTIONS_TABLE = """
CREATE TABLE {table} (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created INTEGER NOT NULL,
    document TEXT NOT NULL,
    secrets BLOB NOT NULL
)"""
OWNER_NAME_INDEX = "CREATE UNIQUE INDEX connections_owner_name ON connections (owner, name)"
COLUMNS = "id, name, kind, created, document, secrets"
# Layout 3: stream configurations (their fields as a document), the connections each one uses, and
# runs (a run's history entry is the run once it has ended).
STREAM_TABLES = (
    """CREATE TABLE stream_configs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    document TEXT NOT NULL
)""",
    "CREATE UNIQUE INDEX stream_configs_owner_name ON stream_configs (owner, name)",
    """CREATE TABLE stream_config_connections (
    config_id TEXT NOT NULL REFERENCES stream_configs (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE RESTRICT,
    PRIMARY KEY (config_id, connection_id)
)""",
    "CREATE INDEX stream_config_connections_connection ON stream_config_connections (connection_id)",
    """CREATE TABLE stream_runs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    config_id TEXT NOT NULL REFERENCES stream_configs (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    created INTEGER NOT NULL,
    finished INTEGER,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    rows INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    progress TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    worker TEXT NOT NULL
)""",
    "CREATE INDEX stream_runs_owner ON stream_runs (owner, created)",
    "CREATE INDEX stream_runs_config ON stream_runs (config_id, created)",
)
USED_BY = (
    "SELECT DISTINCT c.name FROM stream_config_connections l JOIN stream_configs c ON c.id = l.config_id"
    " WHERE l.connection_id = ? ORDER BY c.name"
)


class NameTaken(Exception):
    def __init__(self, name: str):
        super().__init__(f"a connection named '{name}' already exists")


class ConnectionInUse(Exception):
    """A stream configuration uses the connection: it cannot be deleted."""

    def __init__(self, connection_id: str, configs: list[str]):
        names = ", ".join(f"'{name}'" for name in configs)
        super().__init__(
            f"connection '{connection_id}' is used by the stream configuration{'s' if len(configs) > 1 else ''}"
            f" {names}: delete them or point them at another connection first"
        )
        self.configs = configs


class LayoutError(Exception):
    """The database file cannot be used by this version; the message says why."""


class Store:
    def __init__(self, path: Path, box: SecretBox, kinds: tuple[str, ...] = tuple(KINDS)):
        self.path = path
        self._box = box
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._visible = f"kind IN ({', '.join('?' * len(kinds))})"
        self._kinds = kinds
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.db().execute("PRAGMA journal_mode=WAL")
        self._migrate()
        self._check_key()

    # -- the file --------------------------------------------------------------------------

    def db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        """Bring the file to LAYOUT_VERSION in one transaction (two servers starting at once: one migrates)."""
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0 and db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'connections'"
            ).fetchone():
                version = 1  # the first layout did not set user_version
            if version > LAYOUT_VERSION:
                raise LayoutError(
                    f"{self.path} has storage layout {version}; this dbcs-server knows layouts up to {LAYOUT_VERSION}"
                    " (was it written by a newer version?)"
                )
            if version == 0:
                db.execute(CONNECTIONS_TABLE.format(table="connections"))
                db.execute(OWNER_NAME_INDEX)
            elif version == 1:
                self._migrate_from_columns(db)
            if version < 3:
                for statement in STREAM_TABLES:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {LAYOUT_VERSION}")

    def _migrate_from_columns(self, db: sqlite3.Connection) -> None:
        """Layout 1 (a column per field, password and ssl_client_key sealed one by one) to layout 2."""
        db.execute(CONNECTIONS_TABLE.format(table="connections_new"))
        rows = db.execute(
            "SELECT id, owner, name, type, host, port, username, password, database, schema, ssl, ssl_client_key,"
            " created FROM connections"
        ).fetchall()
        for (id_, owner, name, type_, host, port, username, password, database, schema, ssl, client_key,
             created) in rows:
            spec = {"host": host, "port": port, "username": username, "password": self._box.open(password)}
            if database:
                spec["database"] = database
            ssl_fields = json.loads(ssl) if ssl else None
            if ssl_fields is not None and client_key is not None:
                ssl_fields["client_key"] = self._box.open(client_key)
            record = Record(name, type_, spec, ssl=ssl_fields, schema=schema, id=id_, created=created)
            db.execute(
                f"INSERT INTO connections_new (owner, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (owner, id_, name, type_, created, *self._sealed(record)),
            )
        db.execute("DROP TABLE connections")
        db.execute("ALTER TABLE connections_new RENAME TO connections")
        db.execute(OWNER_NAME_INDEX)

    def _check_key(self) -> None:
        """Refuse a secret.key that cannot open what is stored (replaced or from another server)."""
        row = self.db().execute("SELECT secrets FROM connections LIMIT 1").fetchone()
        if row is not None:
            self._box.open(row[0])

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()

    def ready(self) -> bool:
        """Whether the file answers a read (GET /ready)."""
        try:
            return self.db().execute("SELECT count(*) FROM connections").fetchone() is not None
        except sqlite3.Error:
            return False

    # -- records ---------------------------------------------------------------------------

    def _sealed(self, record: Record) -> tuple[str, bytes]:
        document, secrets = pop_paths(record.document(), KINDS[record.type].secret_paths)
        return json.dumps(document, separators=(",", ":")), self._box.seal(json.dumps(secrets))

    def _record(self, row: tuple, secrets: bool) -> Record:
        id_, name, kind, created, document, sealed = row
        fields = json.loads(document)
        if secrets:
            fields = put_paths(fields, json.loads(self._box.open(sealed)))
        return Record.from_document(fields, name=name, type=kind, id=id_, created=created)

    # -- operations ------------------------------------------------------------------------

    def create(self, owner: str, record: Record) -> Record:
        now = int(time.time())
        id_ = "conn_" + ksuid.new(now)
        try:
            with self.transaction() as db:
                db.execute(
                    f"INSERT INTO connections (owner, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (owner, id_, record.name, record.type, now, *self._sealed(record)),
                )
        except sqlite3.IntegrityError:
            raise NameTaken(record.name) from None
        return Record.from_document(record.document(), name=record.name, type=record.type, id=id_, created=now)

    def list(self, owner: str, secrets: bool) -> list[Record]:
        rows = self.db().execute(
            f"SELECT {COLUMNS} FROM connections WHERE owner = ? AND {self._visible} ORDER BY created, rowid",
            (owner, *self._kinds),
        ).fetchall()
        return [self._record(row, secrets) for row in rows]

    def get(self, owner: str, id_: str, secrets: bool) -> Record | None:
        row = self.db().execute(
            f"SELECT {COLUMNS} FROM connections WHERE owner = ? AND id = ? AND {self._visible}",
            (owner, id_, *self._kinds),
        ).fetchone()
        return self._record(row, secrets) if row else None

    def count(self, owner: str) -> int:
        return self.db().execute(
            f"SELECT count(*) FROM connections WHERE owner = ? AND {self._visible}", (owner, *self._kinds)
        ).fetchone()[0]

    def replace(self, owner: str, id_: str, record: Record) -> Record | None:
        try:
            with self.transaction() as db:
                cursor = db.execute(
                    f"UPDATE connections SET name = ?, kind = ?, document = ?, secrets = ?"
                    f" WHERE owner = ? AND id = ? AND {self._visible}",
                    (record.name, record.type, *self._sealed(record), owner, id_, *self._kinds),
                )
                if cursor.rowcount == 0:
                    return None
                created = db.execute("SELECT created FROM connections WHERE id = ?", (id_,)).fetchone()[0]
        except sqlite3.IntegrityError:
            raise NameTaken(record.name) from None
        return Record.from_document(record.document(), name=record.name, type=record.type, id=id_, created=created)

    def delete(self, owner: str, id_: str) -> bool:
        """False when the key has no such connection; ConnectionInUse when a stream configuration uses it."""
        with self.transaction() as db:
            if not db.execute(f"SELECT 1 FROM connections WHERE owner = ? AND id = ? AND {self._visible}",
                              (owner, id_, *self._kinds)).fetchone():
                return False
            users = [name for (name,) in db.execute(USED_BY, (id_,))]
            if users:
                raise ConnectionInUse(id_, users)
            return db.execute("DELETE FROM connections WHERE id = ?", (id_,)).rowcount == 1

    def clone(self, owner: str, id_: str) -> dict[str, Any] | None:
        """Copy every field (secrets too) under a new id and the first free '<name>-copy[-N]'."""
        now = int(time.time())
        new_id = "conn_" + ksuid.new(now)
        with self.transaction() as db:
            row = db.execute(
                f"SELECT name FROM connections WHERE owner = ? AND id = ? AND {self._visible}",
                (owner, id_, *self._kinds),
            ).fetchone()
            if row is None:
                return None
            taken = {name for (name,) in db.execute("SELECT name FROM connections WHERE owner = ?", (owner,))}
            name = copy_name(row[0], taken)
            db.execute(
                f"INSERT INTO connections (owner, {COLUMNS})"
                " SELECT owner, ?, ?, kind, ?, document, secrets FROM connections WHERE owner = ? AND id = ?",
                (new_id, name, now, owner, id_),
            )
        return {"id": new_id, "created": now, "name": name}


def copy_name(name: str, taken: set[str]) -> str:
    """'<name>-copy', then '<name>-copy-2', '-copy-3'...: the first free one, cut to fit 255 characters."""
    n = 1
    while True:
        suffix = "-copy" if n == 1 else f"-copy-{n}"
        candidate = name[: NAME_MAX - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1
