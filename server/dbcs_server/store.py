"""SQLite storage of connections: one file in the data directory, WAL, one connection per thread.

Writes run in BEGIN IMMEDIATE transactions; with WAL and synchronous=NORMAL a committed write
survives a crash of this process (not necessarily a power loss), without an fsync per request.
Names are unique per owner through a UNIQUE index, so concurrent creates cannot both win.
Passwords and SSL client keys are stored sealed (see secrets_box).
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
from dbcs_server.secrets_box import SecretBox

DB_FILE = "connections.sqlite3"
NAME_MAX = 255

SCHEMA = """
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    username TEXT NOT NULL,
    password BLOB NOT NULL,
    database TEXT NOT NULL,
    schema TEXT,
    ssl TEXT,
    ssl_client_key BLOB,
    created INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS connections_owner_name ON connections (owner, name);
"""
COLUMNS = "id, name, type, host, port, username, password, database, schema, ssl, ssl_client_key, created"


class NameTaken(Exception):
    def __init__(self, name: str):
        super().__init__(f"a connection named '{name}' already exists")


class Store:
    def __init__(self, path: Path, box: SecretBox):
        self.path = path
        self._box = box
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        db = self._db()
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        self._check_key()

    def _check_key(self) -> None:
        """Refuse a secret.key that cannot open what is stored (replaced or from another server)."""
        row = self._db().execute("SELECT password FROM connections LIMIT 1").fetchone()
        if row is not None:
            self._box.open(row[0])

    def _db(self) -> sqlite3.Connection:
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
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()

    # -- records ---------------------------------------------------------------------------

    def _sealed_columns(self, fields: dict[str, Any]) -> tuple:
        ssl = dict(fields["ssl"]) if fields.get("ssl") else None
        client_key = ssl.pop("client_key", None) if ssl else None
        return (
            fields["name"], fields["type"], fields["host"], fields["port"], fields["username"],
            self._box.seal(fields["password"]), fields["database"], fields.get("schema"),
            json.dumps(ssl) if ssl else None,
            self._box.seal(client_key) if client_key else None,
        )

    def _record(self, row: tuple, secrets: bool) -> dict[str, Any]:
        (id_, name, type_, host, port, username, password, database, schema, ssl, client_key, created) = row
        record: dict[str, Any] = {
            "id": id_, "name": name, "type": type_, "host": host, "port": port,
            "username": username, "database": database, "created": created,
        }
        if secrets:
            record["password"] = self._box.open(password)
        if schema is not None:
            record["schema"] = schema
        if ssl is not None:
            record["ssl"] = json.loads(ssl)
            if secrets and client_key is not None:
                record["ssl"]["client_key"] = self._box.open(client_key)
        return record

    # -- operations ------------------------------------------------------------------------

    def create(self, owner: str, fields: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        id_ = "conn_" + ksuid.new(now)
        try:
            with self._write() as db:
                db.execute(
                    f"INSERT INTO connections (owner, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (owner, id_, *self._sealed_columns(fields), now),
                )
        except sqlite3.IntegrityError:
            raise NameTaken(fields["name"]) from None
        return {"id": id_, "created": now, **fields}

    def list(self, owner: str, secrets: bool) -> list[dict[str, Any]]:
        rows = self._db().execute(
            f"SELECT {COLUMNS} FROM connections WHERE owner = ? ORDER BY created, rowid", (owner,)
        ).fetchall()
        return [self._record(row, secrets) for row in rows]

    def get(self, owner: str, id_: str, secrets: bool) -> dict[str, Any] | None:
        row = self._db().execute(
            f"SELECT {COLUMNS} FROM connections WHERE owner = ? AND id = ?", (owner, id_)
        ).fetchone()
        return self._record(row, secrets) if row else None

    def count(self, owner: str) -> int:
        return self._db().execute("SELECT count(*) FROM connections WHERE owner = ?", (owner,)).fetchone()[0]

    def replace(self, owner: str, id_: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        try:
            with self._write() as db:
                cursor = db.execute(
                    "UPDATE connections SET name = ?, type = ?, host = ?, port = ?, username = ?, password = ?,"
                    " database = ?, schema = ?, ssl = ?, ssl_client_key = ? WHERE owner = ? AND id = ?",
                    (*self._sealed_columns(fields), owner, id_),
                )
                if cursor.rowcount == 0:
                    return None
                created = db.execute("SELECT created FROM connections WHERE id = ?", (id_,)).fetchone()[0]
        except sqlite3.IntegrityError:
            raise NameTaken(fields["name"]) from None
        return {"id": id_, "created": created, **fields}

    def delete(self, owner: str, id_: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM connections WHERE owner = ? AND id = ?", (owner, id_)).rowcount == 1

    def clone(self, owner: str, id_: str) -> dict[str, Any] | None:
        """Copy every field (secrets too) under a new id and the first free '<name>-copy[-N]'."""
        now = int(time.time())
        new_id = "conn_" + ksuid.new(now)
        with self._write() as db:
            row = db.execute(
                "SELECT name FROM connections WHERE owner = ? AND id = ?", (owner, id_)
            ).fetchone()
            if row is None:
                return None
            taken = {name for (name,) in db.execute("SELECT name FROM connections WHERE owner = ?", (owner,))}
            name = copy_name(row[0], taken)
            db.execute(
                f"INSERT INTO connections (owner, {COLUMNS})"
                " SELECT owner, ?, ?, type, host, port, username, password, database, schema, ssl, ssl_client_key, ?"
                " FROM connections WHERE owner = ? AND id = ?",
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
