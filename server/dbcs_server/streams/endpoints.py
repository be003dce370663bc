"""Where a load reads and writes: the SQL of a PostgreSQL or MySQL source and target.

Drivers (drivers.py) open the database connection, as the kind's registry entry says, and hand
it to one of these classes; the engine (engine.py) only calls their interface:

  source: table_names(), describe(name) -> TableDef | None, reader(table) -> Reader, interrupt(), close()
  target: exists(table), column_names(table), prepare_schema(), create(table, types), drop(table),
          has_rows(table), truncate(table), writer(table, upsert) -> Writer, interrupt(), close()
  Reader: fetch(n) -> list of row tuples (fewer at the end), close()
  Writer: write(rows) -> commits them

Sources read with server-side cursors (psycopg named cursors; PyMySQL's unbuffered SSCursor), so
memory does not grow with the table. PostgreSQL targets take each bundle with COPY (upsert: COPY
into a session table, then INSERT ... ON CONFLICT); MySQL targets with multi-row INSERT
(PyMySQL's executemany; upsert: ON DUPLICATE KEY UPDATE). Every bundle is its own transaction.
Identifiers are quoted, never formatted in as SQL. Sessions run in UTC, so timestamps with a
time zone cross between the kinds unchanged.
"""

import secrets
import socket
from typing import Any

import psycopg
import pymysql
import pymysql.cursors
from psycopg import sql
from psycopg.types.string import TextLoader

from dbcs_server.streams.types import MYSQL, POSTGRESQL, Column, TableDef

PG_TABLE_NAMES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname"
)
PG_TABLE_OID = (
    "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')"
)
PG_COLUMNS = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, a.attnotnull, a.atttypmod"
    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)
PG_KEY = (
    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
    " WHERE i.indrelid = %s AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)"
)
MYSQL_TABLE_NAMES = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
    " AND table_type IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY table_name"
)
MYSQL_COLUMNS = (
    "SELECT column_name, column_type, data_type, is_nullable, character_maximum_length, numeric_precision,"
    " numeric_scale, datetime_precision FROM information_schema.columns"
    " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"
)
MYSQL_KEY = (
    "SELECT column_name FROM information_schema.key_column_usage"
    " WHERE table_schema = %s AND table_name = %s AND constraint_name = 'PRIMARY' ORDER BY ordinal_position"
)
# MariaDB's JSON is longtext with a CHECK (json_valid(`column`)).
MYSQL_JSON_CHECKS = (
    "SELECT check_clause FROM information_schema.check_constraints"
    " WHERE constraint_schema = %s AND table_name = %s AND check_clause LIKE 'json_valid(%%'"
)
PG_VARLENA_HEADER = 4  # atttypmod of char/varchar/numeric counts this header


def q(name: str) -> str:
    """A MySQL identifier, quoted."""
    return "`" + name.replace("`", "``") + "`"


class PgEndpoint:
    """A PostgreSQL connection of a run: psycopg cancels what it is doing from another thread."""

    kind = POSTGRESQL

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def interrupt(self) -> None:
        self.conn.cancel_safe(timeout=2)

    def close(self) -> None:
        self.conn.close()


class MySQLEndpoint:
    """A MySQL connection of a run, in its database."""

    kind = MYSQL

    def __init__(self, conn: pymysql.connections.Connection, database: str):
        self.conn = conn
        self.database = database

    def interrupt(self) -> None:
        shut_down(self.conn)

    def close(self) -> None:
        self.conn.close()


class PgSource(PgEndpoint):
    def __init__(self, conn: psycopg.Connection, schema: str | None):
        super().__init__(conn)
        self.schema = schema  # None: names may be schema-qualified, default public
        for name in ("json", "jsonb", "uuid"):  # as text: every target takes it so
            conn.adapters.register_loader(name, TextLoader)

    def where(self, name: str) -> tuple[str, str]:
        if self.schema:
            return self.schema, name
        schema, dot, table = name.partition(".")
        return (schema, table) if dot else ("public", name)

    def table_names(self) -> list[str]:
        schema = self.schema or "public"
        with self.conn.cursor() as cur:
            names = [row[0] for row in cur.execute(PG_TABLE_NAMES, (schema,))]
        self.conn.commit()
        return names if self.schema or schema == "public" else [f"{schema}.{n}" for n in names]

    def describe(self, name: str) -> TableDef | None:
        schema, table = self.where(name)
        with self.conn.cursor() as cur:
            found = cur.execute(PG_TABLE_OID, (schema, table)).fetchone()
            if found is None:
                self.conn.commit()
                return None
            columns = tuple(pg_column(*row) for row in cur.execute(PG_COLUMNS, (found[0],)).fetchall())
            key = tuple(row[0] for row in cur.execute(PG_KEY, (found[0],)).fetchall())
        self.conn.commit()
        return TableDef(name, schema, table, columns, key)

    def reader(self, table: TableDef, bundle: int) -> "PgReader":
        return PgReader(self.conn, table, bundle)


def pg_column(name: str, declared: str, typname: str, not_null: bool, typmod: int) -> Column:
    length = precision = scale = None
    if typname in ("bpchar", "varchar") and typmod >= PG_VARLENA_HEADER:
        length = typmod - PG_VARLENA_HEADER
    elif typname == "numeric" and typmod >= PG_VARLENA_HEADER:
        precision, scale = ((typmod - PG_VARLENA_HEADER) >> 16) & 0xFFFF, (typmod - PG_VARLENA_HEADER) & 0xFFFF
    elif typname in ("timestamp", "timestamptz", "time", "timetz") and typmod >= 0:
        precision = typmod
    return Column(name, declared, typname, not not_null, length, precision, scale)


class PgReader:
    def __init__(self, conn: psycopg.Connection, table: TableDef, bundle: int):
        self.conn = conn
        self.cursor = conn.cursor(name="dbcs_load_" + secrets.token_hex(6))
        self.cursor.itersize = bundle
        columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
        self.cursor.execute(sql.SQL("SELECT {} FROM {}.{}").format(
            columns, sql.Identifier(table.schema), sql.Identifier(table.table)))

    def fetch(self, count: int) -> list[tuple]:
        return self.cursor.fetchmany(count)

    def close(self) -> None:
        self.cursor.close()
        self.conn.commit()


class MySQLSource(MySQLEndpoint):
    def table_names(self) -> list[str]:
        with self.conn.cursor() as cur:
            cur.execute(MYSQL_TABLE_NAMES, (self.database,))
            return [row[0] for row in cur.fetchall()]

    def describe(self, name: str) -> TableDef | None:
        with self.conn.cursor() as cur:
            cur.execute(MYSQL_COLUMNS, (self.database, name))
            rows = cur.fetchall()
            if not rows:
                return None
            cur.execute(MYSQL_KEY, (self.database, name))
            key = tuple(row[0] for row in cur.fetchall())
            cur.execute(MYSQL_JSON_CHECKS, (self.database, name))
            json_columns = {clause[len("json_valid(`"):-2].replace("``", "`") for (clause,) in cur.fetchall()}
        columns = tuple(mysql_column(*row, json_columns) for row in rows)
        return TableDef(name, None, name, columns, key)

    def reader(self, table: TableDef, bundle: int) -> "MySQLReader":
        return MySQLReader(self.conn, self.database, table)


def mysql_column(name: str, declared: str, base: str, nullable: str, length: int | None, precision: int | None,
                 scale: int | None, fraction: int | None, json_columns: set[str]) -> Column:
    base = base.lower()
    if base in ("datetime", "timestamp", "time"):
        precision = fraction
    return Column(name, declared, base, nullable == "YES", length, precision, scale, "unsigned" in declared.lower(),
                  name in json_columns)


def shut_down(conn: pymysql.connections.Connection) -> None:
    """End what the connection is doing now, from another thread: PyMySQL has no cancel, so its socket
    is shut down (the blocked call fails at once)."""
    sock = getattr(conn, "_sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class MySQLReader:
    def __init__(self, conn: pymysql.connections.Connection, database: str, table: TableDef):
        self.cursor = conn.cursor(pymysql.cursors.SSCursor)
        columns = ", ".join(q(c.name) for c in table.columns)
        self.cursor.execute(f"SELECT {columns} FROM {q(database)}.{q(table.table)}")
        self.done = False

    def fetch(self, count: int) -> list[tuple]:
        rows = self.cursor.fetchmany(count)
        self.done = len(rows) < count
        return rows

    def close(self) -> None:
        if self.done:  # else closing would read the rest of an unbuffered result: the connection goes instead
            self.cursor.close()


class PgTarget(PgEndpoint):
    def __init__(self, conn: psycopg.Connection, schema: str | None):
        super().__init__(conn)
        self.schema = schema or "public"

    def name(self, table: str) -> sql.Composable:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))

    def _run(self, statement: sql.Composable | str, params: tuple = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else []
        self.conn.commit()
        return rows

    def exists(self, table: str) -> bool:
        return bool(self._run(PG_TABLE_OID, (self.schema, table)))

    def column_names(self, table: str) -> list[str]:
        return [row[0] for row in self._run(
            "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0"
            " AND NOT a.attisdropped ORDER BY a.attnum", (self.name(table).as_string(self.conn),))]

    def prepare_schema(self) -> None:
        self._run(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))

    def create(self, table: TableDef, types: list[str]) -> None:
        parts = [sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(t), sql.SQL("" if c.nullable else " NOT NULL"))
                 for c, t in zip(table.columns, types)]
        if table.key:
            parts.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, table.key))))
        self._run(sql.SQL("CREATE TABLE {} ({})").format(self.name(table.table), sql.SQL(", ").join(parts)))

    def drop(self, table: str) -> None:
        self._run(sql.SQL("DROP TABLE IF EXISTS {}").format(self.name(table)))

    def has_rows(self, table: str) -> bool:
        return bool(self._run(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(self.name(table))))

    def truncate(self, table: str) -> None:
        self._run(sql.SQL("TRUNCATE {}").format(self.name(table)))

    def writer(self, table: TableDef, upsert: bool) -> "PgWriter":
        return PgWriter(self, table, upsert)


class PgWriter:
    def __init__(self, target: PgTarget, table: TableDef, upsert: bool):
        self.conn = target.conn
        columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
        destination = target.name(table.table)
        self.merge = None
        if upsert:
            # A session table each bundle lands in first (emptied at each commit), then merged.
            stage = sql.Identifier("dbcs_stage_" + secrets.token_hex(6))
            target._run(sql.SQL("CREATE TEMPORARY TABLE {} (LIKE {}) ON COMMIT DELETE ROWS").format(stage, destination))
            others = [c.name for c in table.columns if c.name not in table.key]
            action = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in others)) if others else sql.SQL("DO NOTHING")
            self.merge = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) {}").format(
                destination, columns, columns, stage, sql.SQL(", ").join(map(sql.Identifier, table.key)), action)
            destination = stage
        self.copy = sql.SQL("COPY {} ({}) FROM STDIN").format(destination, columns)

    def write(self, rows: list[tuple]) -> None:
        with self.conn.cursor() as cur:
            with cur.copy(self.copy) as copy:
                for row in rows:
                    copy.write_row(row)
            if self.merge is not None:
                cur.execute(self.merge)
        self.conn.commit()


class MySQLTarget(MySQLEndpoint):
    def _run(self, statement: str, params: tuple = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            rows = list(cur.fetchall())
        self.conn.commit()
        return rows

    def exists(self, table: str) -> bool:
        return bool(self._run("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                              (self.database, table)))

    def column_names(self, table: str) -> list[str]:
        return [row[0] for row in self._run(MYSQL_COLUMNS, (self.database, table))]

    def prepare_schema(self) -> None:
        return None  # MySQL has no schemas: the database is the target's

    def create(self, table: TableDef, types: list[str]) -> None:
        parts = [f"{q(c.name)} {t}{'' if c.nullable else ' NOT NULL'}" for c, t in zip(table.columns, types)]
        if table.key:
            parts.append(f"PRIMARY KEY ({', '.join(map(q, table.key))})")
        self._run(f"CREATE TABLE {q(table.table)} ({', '.join(parts)})")

    def drop(self, table: str) -> None:
        self._run(f"DROP TABLE IF EXISTS {q(table)}")

    def has_rows(self, table: str) -> bool:
        return bool(self._run(f"SELECT 1 FROM {q(table)} LIMIT 1"))

    def truncate(self, table: str) -> None:
        self._run(f"TRUNCATE TABLE {q(table)}")

    def writer(self, table: TableDef, upsert: bool) -> "MySQLWriter":
        return MySQLWriter(self.conn, table, upsert)


class MySQLWriter:
    MAX_STATEMENT_BYTES = 4 * 1024 * 1024  # under MariaDB's default max_allowed_packet (16 MiB)

    def __init__(self, conn: pymysql.connections.Connection, table: TableDef, upsert: bool):
        self.conn = conn
        names = [q(c.name) for c in table.columns]
        self.statement = (f"INSERT INTO {q(table.table)} ({', '.join(names)})"
                          f" VALUES ({', '.join(['%s'] * len(names))})")
        if upsert:
            others = [q(c.name) for c in table.columns if c.name not in table.key] or [q(table.key[0])]
            self.statement += " ON DUPLICATE KEY UPDATE " + ", ".join(f"{c} = VALUES({c})" for c in others)

    def write(self, rows: list[tuple]) -> None:
        with self.conn.cursor() as cur:
            cur.max_stmt_length = self.MAX_STATEMENT_BYTES
            cur.executemany(self.statement, rows)
        self.conn.commit()


def failure_message(exc: BaseException) -> str:
    """The database's own message, without what follows it (PostgreSQL's DETAIL quotes row values)."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary:
        return primary
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) == 2 and isinstance(exc.args[1], str):
        return exc.args[1]
    return " ".join(str(exc).split()) or type(exc).__name__


def error_code(exc: BaseException) -> str | None:
    """A short code for the failure that quotes no data: SQLSTATE, or MySQL's error number."""
    diag = getattr(exc, "diag", None)
    if diag is not None and getattr(diag, "sqlstate", None):
        return f"SQLSTATE {diag.sqlstate}"
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return f"MySQL error {exc.args[0]}"
    return None


Endpoint = Any  # a source or target of this module
