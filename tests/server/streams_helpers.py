"""Helpers of the stream tests: source tables of every mapped type, configuration bodies, waiting
for a run's status, and a checksum of a table computed inside its own database.

The checksum is md5 over the rows ordered by id, each row an ordered text rendering of its
values written by the database itself (both kinds render every type the same way: numbers as
digits, booleans as 0/1, timestamps to the microsecond, JSON as PostgreSQL's jsonb writes it,
binary as lowercase hex, NULL as \\N), so that equal checksums mean equal rows across kinds.
"""

import json
import secrets
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg import sql

from server_helpers import Api, Databases, nested

# The columns of a source table that covers the mapped types: (name, kind of value, mysql type, postgresql type).
COLUMNS = [
    ("id", "number", "int NOT NULL", "integer NOT NULL"),
    ("small", "number", "smallint", "smallint"),
    ("big", "number", "bigint", "bigint"),
    ("amount", "number", "decimal(14,3)", "numeric(14,3)"),
    ("name", "text", "varchar(120) NOT NULL", "varchar(120) NOT NULL"),
    ("note", "text", "text", "text"),
    ("flag", "boolean", "tinyint(1)", "boolean"),
    ("born", "date", "date", "date"),
    ("seen", "timestamp", "datetime(6)", "timestamp(6)"),
    ("doc", "json", "json", "jsonb"),
    ("raw", "binary", "blob", "bytea"),
]
NAMES = [c[0] for c in COLUMNS]
ACTIVE = ("READY", "RUNNING", "PAUSED")
CONFIRM = {"X-Confirm-Delete": "true"}
TEXTS = ["plain", "", "quote ' and \" and `", "back\\slash", "tab\tand\nnewline\r", "unicode: ä ß 漢字 🙂", "x" * 300]


def sample_rows(count: int, start: int = 1) -> list[tuple]:
    """Rows of every column, with NULLs, empty strings, quotes, escapes and non-ASCII text among them."""
    rows = []
    for i in range(start, start + count):
        rows.append((
            i,
            None if i % 11 == 0 else (i % 30000) - 15000,
            None if i % 13 == 0 else i * 1_000_003 - 2**40,
            None if i % 7 == 0 else Decimal(i * 37 % 1000000) / 1000 - 500,
            f"name-{i}-{TEXTS[i % len(TEXTS)][:80]}",
            None if i % 5 == 0 else TEXTS[i % len(TEXTS)] * (1 + i % 3),
            None if i % 17 == 0 else i % 2,
            None if i % 19 == 0 else date(2000, 1, 1) + timedelta(days=i % 9000),
            None if i % 23 == 0 else datetime(2024, 5, 6, 7, 8, 9) + timedelta(seconds=i * 61, microseconds=i * 7),
            None if i % 29 == 0 else json.dumps({"a": i, "b": [1, "two"], "text": TEXTS[i % 3]}),
            None if i % 31 == 0 else bytes([i % 256, 0, 255, (i * 7) % 256]) * (1 + i % 4),
        ))
    return rows


def create_source(databases: Databases, kind: str, database: str, table: str, rows: list[tuple],
                  schema: str | None = None, key: bool = True) -> None:
    """A source table of COLUMNS (a primary key on id unless key=False), filled with rows."""
    index = 2 if kind == "mysql" else 3
    columns = ", ".join(f"{name} {c[index]}" for name, c in zip(NAMES, COLUMNS)) + (", PRIMARY KEY (id)" if key else "")
    if kind == "mysql":
        with databases.mysql(database) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{table}` ({columns})")
            for i in range(0, len(rows), 5000):
                cur.executemany(f"INSERT INTO `{table}` VALUES ({', '.join(['%s'] * len(NAMES))})", rows[i:i + 5000])
    else:
        with databases.pg(database) as conn:
            where = sql.Identifier(schema or "public", table)
            if schema:
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("CREATE TABLE {} ({})").format(where, sql.SQL(columns)))
            with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(where)) as copy:
                for row in rows:
                    copy.write_row(row[:6] + (None if row[6] is None else bool(row[6]),) + row[7:])


RENDER = {
    "mysql": {
        "number": "CAST({c} AS CHAR)", "text": "{c}", "boolean": "CAST({c} AS CHAR)",
        "date": "DATE_FORMAT({c}, '%Y-%m-%d')", "timestamp": "DATE_FORMAT({c}, '%Y-%m-%d %H:%i:%s.%f')",
        "json": "{c}", "binary": "LOWER(HEX({c}))",
    },
    "postgresql": {
        "number": "{c}::text", "text": "{c}", "boolean": "CASE WHEN {c} THEN '1' WHEN NOT {c} THEN '0' END",
        "date": "to_char({c}, 'YYYY-MM-DD')", "timestamp": "to_char({c}, 'YYYY-MM-DD HH24:MI:SS.US')",
        "json": "{c}::jsonb::text", "binary": "encode({c}, 'hex')",
    },
}


def checksum(databases: Databases, kind: str, database: str, table: str, schema: str | None = None,
             columns: list[tuple] | None = None) -> tuple[int, str]:
    """(rows, md5 of every row's text rendering, ordered by id), computed by the database itself."""
    columns = columns or COLUMNS
    parts = [RENDER[kind][c[1]].format(c=(f"`{c[0]}`" if kind == "mysql" else f'"{c[0]}"')) for c in columns]
    if kind == "mysql":
        row = "CONCAT_WS('|', " + ", ".join(f"COALESCE({p}, '\\\\N')" for p in parts) + ")"
        with databases.mysql(database) as conn, conn.cursor() as cur:
            cur.execute("SET SESSION group_concat_max_len = 1073741824")
            cur.execute(f"SELECT COUNT(*), MD5(COALESCE(GROUP_CONCAT({row} ORDER BY id SEPARATOR '\\n'), ''))"
                        f" FROM `{table}`")
            count, digest = cur.fetchone()
    else:
        row = "concat_ws('|', " + ", ".join(f"COALESCE({p}, '\\N')" for p in parts) + ")"
        with databases.pg(database) as conn:
            where = sql.Identifier(schema or "public", table).as_string(conn)
            count, digest = conn.execute(
                f"SELECT count(*), md5(COALESCE(string_agg({row}, E'\\n' ORDER BY id), '')) FROM {where}").fetchone()
    return count, digest


def config_body(name: str, source: dict[str, Any], target: str, database: str, schema: str | None = None,
                tables: list[str] | None = None, source_database: str | None = None, source_schema: str | None = None,
                policy: str | None = None, write: str | None = None, bundle: int | None = None,
                limits: dict[str, int] | None = None, mode: str = "load") -> dict[str, Any]:
    """A configuration body: one source connection (its tables), one target."""
    mapping: dict[str, Any] = {"connectionId": source["id"], "database": source_database or database}
    if source_schema:
        mapping["schema"] = source_schema
    if tables is not None:
        mapping["tables"] = [{"name": t} for t in tables]
    spec: dict[str, Any] = {"database": database}
    for key, value in (("schema", schema), ("schemaPolicy", policy), ("writeMode", write)):
        if value is not None:
            spec[key] = value
    body: dict[str, Any] = {"name": name, "mode": mode, "source": {"connections": [mapping]},
                            "target": {"id": target["id"], "spec": {"db": spec}}}
    if bundle is not None:
        body["source"]["options"] = {"dataBundleSize": bundle}
    if limits is not None:
        body["limits"] = limits
    return body


def wait_for(api: Api, stream_id: str, until: Any = lambda s: s["status"] not in ACTIVE,
             timeout: float = 60) -> dict[str, Any]:
    """Poll the run's stats until `until(stats)` holds; the stats then."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/streams/{stream_id}/stats")
        assert response.status_code == 200, response.text
        stats = response.json()
        if until(stats):
            return stats
        assert time.monotonic() < deadline, f"stream {stream_id} still {stats} after {timeout} s"
        time.sleep(0.05)


def written(stats: dict[str, Any]) -> int:
    return next(n["stat"]["counter"] for n in stats["nodes"] if n["type"] == "target")


def run_config(api: Api, body: dict[str, Any], timeout: float = 60) -> tuple[dict[str, Any], dict[str, Any]]:
    """Create the configuration, start it, wait for its end: (configuration, final stats)."""
    response = api.post("/stream-configs", json=body)
    assert response.status_code == 201, response.text
    config = response.json()
    started = api.post(f"/stream-configs/{config['id']}/start")
    assert started.status_code == 200, started.text
    return config, wait_for(api, started.json()["id"], timeout=timeout)


class Pair:
    """A PostgreSQL and a MariaDB connection of one API key, both to `database`, and the databases."""

    def __init__(self, api: Api, databases: Databases, database: str):
        self.api = api
        self.databases = databases
        self.database = database
        self.pg = self.connect(nested(databases.pg_spec(database=database)))
        self.my = self.connect(nested(databases.my_spec(database=database)))

    def connect(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new connection of the key: {id, created, name}."""
        return {**self.api.create(body), "name": body["name"]}

    def of(self, kind: str) -> dict[str, Any]:
        return self.pg if kind == "postgresql" else self.my


def slow_target(databases: Databases, database: str, table: str, seconds: float) -> None:
    """A PostgreSQL target table of COLUMNS whose every inserted row sleeps `seconds` (a trigger)."""
    function = "dbcs_sleep_" + secrets.token_hex(4)
    with databases.pg(database) as conn:
        columns = ", ".join(f"{name} {c[3]}" for name, c in zip(NAMES, COLUMNS)) + ", PRIMARY KEY (id)"
        conn.execute(f'CREATE TABLE "{table}" ({columns})')
        conn.execute(f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS"
                     f" $$ BEGIN PERFORM pg_sleep({seconds}); RETURN NEW; END $$")
        conn.execute(f'CREATE TRIGGER slow BEFORE INSERT ON "{table}" FOR EACH ROW EXECUTE FUNCTION {function}()')
