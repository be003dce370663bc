"""Real database access for ping, databases, tables and schema creation (psycopg 3, PyMySQL).

Every call has a connect timeout (and, for MySQL, read/write timeouts) of `timeout` seconds;
libpq rounds a timeout under 2 s up to 2 s. Certificates from `ssl` are written to 0600 files
in a private temporary directory for the time of the call. Error messages never carry the
password or the client key: drivers can echo connection parameters, so messages are scrubbed.
"""

import base64
import math
import os
import re
import shutil
import ssl as tls
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import pymysql
from psycopg import sql

MYSQL_SYSTEM_DATABASES = {"information_schema", "performance_schema", "mysql", "sys"}
PG_SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"
PG_SCHEMAS = (
    "SELECT nspname FROM pg_namespace WHERE nspname NOT IN " + PG_SYSTEM_SCHEMAS +
    r" AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%' ORDER BY nspname"
)
PG_DATABASES = "SELECT datname FROM pg_database WHERE datallowconn AND datname NOT IN ('template0', 'template1') ORDER BY datname"
PG_TABLES = (
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN " + PG_SYSTEM_SCHEMAS +
    r" AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'"
)
MYSQL_TABLES = (
    "SELECT table_name FROM information_schema.tables"
    " WHERE table_schema = %s AND table_type IN ('BASE TABLE', 'SYSTEM VERSIONED')"
)
PG_SSLMODE = {"disabled": "disable", "require": "require", "verify-ca": "verify-ca", "verify-full": "verify-full"}
SCHEMA_NAME_MAX_BYTES = 63


class ProbeError(Exception):
    """The database could not be reached, or failed (answered as 503)."""


class ProbeRefused(Exception):
    """The request cannot be carried out for this connection or input (answered as 400)."""


class SchemaExists(Exception):
    """CREATE SCHEMA found the schema already there (answered as 409)."""


@dataclass(frozen=True)
class Target:
    """What a probe needs of a stored connection (secrets in clear)."""

    type: str
    host: str
    port: int
    username: str
    password: str
    database: str
    ssl: dict[str, Any] | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Target":
        return cls(
            type=record["type"], host=record["host"], port=record["port"], username=record["username"],
            password=record["password"], database=record["database"], ssl=record.get("ssl"),
        )

    def secrets(self) -> list[str]:
        found = [self.password]
        if self.ssl and self.ssl.get("client_key"):
            found.append(self.ssl["client_key"])
        return [s for s in found if s]


def scrub(message: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def describe(exc: BaseException) -> str:
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) == 2 and isinstance(exc.args[1], str):
        text = exc.args[1]
    else:
        text = str(exc)
    text = re.sub(r"\s+", " ", text).strip()
    return text or type(exc).__name__


def check_schema_name(name: str) -> None:
    if not name:
        raise ProbeRefused("schema name must not be empty")
    if "\x00" in name:
        raise ProbeRefused("schema name must not contain NUL characters")
    if len(name.encode("utf-8")) > SCHEMA_NAME_MAX_BYTES:
        raise ProbeRefused(f"schema name must be at most {SCHEMA_NAME_MAX_BYTES} bytes (UTF-8)")


@contextmanager
def pem_files(ssl: dict[str, Any] | None) -> Iterator[dict[str, str]]:
    """Write the certificate fields to 0600 files in a 0700 temp dir; remove them afterwards."""
    wanted = {k: ssl[k] for k in ("ca", "client_cert", "client_key") if ssl and ssl.get(k)}
    if not wanted:
        yield {}
        return
    directory = tempfile.mkdtemp(prefix="dbcs-pem-")
    try:
        paths = {}
        for field, encoded in wanted.items():
            path = os.path.join(directory, f"{field}.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(base64.b64decode(encoded))
            paths[field] = path
        yield paths
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def mysql_tls_options(ssl: dict[str, Any] | None, files: dict[str, str]) -> dict[str, Any]:
    mode = ssl.get("mode") if ssl else None
    if mode is None:
        return {}  # PyMySQL's default: TLS when the server offers it, unverified
    if mode == "disabled":
        return {"ssl_disabled": True}
    context = tls.create_default_context(cafile=files.get("ca"))
    context.verify_flags &= ~tls.VERIFY_X509_STRICT
    if mode == "require":
        context.check_hostname = False
        context.verify_mode = tls.CERT_NONE
    elif mode == "verify-ca":
        context.check_hostname = False
    if "client_cert" in files:
        context.load_cert_chain(files["client_cert"], files.get("client_key"))
    return {"ssl": context}


class Prober:
    def __init__(self, timeout: float, allowed_hosts: tuple[str, ...] = ()):
        self.timeout = timeout
        self.allowed_hosts = allowed_hosts

    # -- connecting ------------------------------------------------------------------------

    @contextmanager
    def _reporting(self, target: Target) -> Iterator[None]:
        if self.allowed_hosts and target.host not in self.allowed_hosts:
            raise ProbeError(
                f"this server only connects to {', '.join(self.allowed_hosts)} (--allow-db-host);"
                f" host '{target.host}' is not allowed"
            )
        try:
            yield
        except (ProbeError, ProbeRefused, SchemaExists) as exc:
            raise type(exc)(scrub(str(exc), target.secrets())) from None
        except Exception as exc:
            raise ProbeError(scrub(describe(exc), target.secrets())) from None

    @contextmanager
    def _postgres(self, target: Target, database: str) -> Iterator[psycopg.Connection]:
        with pem_files(target.ssl) as files:
            params: dict[str, Any] = {
                "host": target.host,
                "port": target.port,
                "user": target.username,
                "password": target.password,
                "dbname": database,
                "connect_timeout": max(1, math.ceil(self.timeout)),
                "sslmode": PG_SSLMODE[target.ssl["mode"]] if target.ssl else "prefer",
                "passfile": os.devnull,
                "application_name": "dbcs-server",
                "options": f"-c statement_timeout={max(5000, int(self.timeout * 1000))}",
            }
            for field, param in (("ca", "sslrootcert"), ("client_cert", "sslcert"), ("client_key", "sslkey")):
                if field in files:
                    params[param] = files[field]
            conn = psycopg.connect(autocommit=True, **params)
            try:
                yield conn
            finally:
                conn.close()

    @contextmanager
    def _mysql(self, target: Target, database: str | None) -> Iterator[pymysql.connections.Connection]:
        with pem_files(target.ssl) as files:
            conn = pymysql.connect(
                host=target.host,
                port=target.port,
                user=target.username,
                password=target.password.encode("utf-8"),
                database=database or None,
                connect_timeout=self.timeout,
                read_timeout=self.timeout,
                write_timeout=self.timeout,
                charset="utf8mb4",
                autocommit=True,
                **mysql_tls_options(target.ssl, files),
            )
            try:
                yield conn
            finally:
                conn.close()

    # -- operations ------------------------------------------------------------------------

    def ping(self, target: Target) -> None:
        with self._reporting(target):
            if target.type == "postgresql":
                with self._postgres(target, target.database) as conn:
                    conn.execute("SELECT 1")
            else:
                with self._mysql(target, target.database) as conn, conn.cursor() as cursor:
                    cursor.execute("SELECT 1")

    def databases(self, target: Target) -> list[dict[str, Any]]:
        with self._reporting(target):
            if target.type == "mysql":
                with self._mysql(target, None) as conn, conn.cursor() as cursor:
                    cursor.execute("SHOW DATABASES")
                    names = sorted(row[0] for row in cursor.fetchall())
                return [{"name": n} for n in names if n.lower() not in MYSQL_SYSTEM_DATABASES]
            with self._postgres(target, target.database) as conn:
                names = [row[0] for row in conn.execute(PG_DATABASES)]
                found = []
                for name in names:
                    if name == target.database:
                        schemas = [row[0] for row in conn.execute(PG_SCHEMAS)]
                    else:
                        try:
                            with self._postgres(target, name) as other:
                                schemas = [row[0] for row in other.execute(PG_SCHEMAS)]
                        except psycopg.Error:
                            continue  # a database this user may not connect to is left out
                    found.append({"name": name, "schemas": schemas})
                return found

    def tables(self, target: Target) -> list[str]:
        with self._reporting(target):
            if target.type == "mysql":
                if not target.database:
                    raise ProbeRefused("this connection has no database to list tables of; set its database")
                with self._mysql(target, target.database) as conn, conn.cursor() as cursor:
                    cursor.execute(MYSQL_TABLES, (target.database,))
                    return sorted(row[0] for row in cursor.fetchall())
            with self._postgres(target, target.database) as conn:
                rows = conn.execute(PG_TABLES).fetchall()
            return sorted(table if schema == "public" else f"{schema}.{table}" for schema, table in rows)

    def create_schema(self, target: Target, database: str, name: str) -> None:
        if target.type != "postgresql":
            raise ProbeRefused("schemas can only be created in postgresql connections")
        check_schema_name(name)
        with self._reporting(target):
            with self._postgres(target, database) as conn:
                try:
                    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
                except (psycopg.errors.DuplicateSchema, psycopg.errors.UniqueViolation):
                    raise SchemaExists(f"schema '{name}' already exists in database '{database}'") from None
                except psycopg.errors.ProgrammingError as exc:
                    raise ProbeRefused(describe(exc)) from None
