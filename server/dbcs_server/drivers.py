"""What each kind of connection can do against the service it points at: one driver per kind.

The routes call a driver through one interface (ping, databases, tables, create_schema,
create_database, and for stream runs stream_source and stream_target) and never look at the
connection's type; the registry in kinds.py says which driver serves which kind. The base
Driver knows no service: its ping is a failed result saying the local server does not test
that kind yet, it has no databases, and it can be neither a stream's source nor its target.

The files driver checks basePath on the server's disk; the s3 driver asks the object store with
boto3 (a connect and read timeout of `timeout` seconds, one attempt; anonymous, unsigned requests
when the connection has no accessKey, never the server's own AWS credentials). Both write stream
runs' files (streams/file_targets.py). botocore's loggers stay at WARNING whatever --log-level says:
at DEBUG they write request headers, a session token among them.

Database drivers (PostgreSQL with psycopg 3, MySQL/MariaDB with PyMySQL) really connect, with a
connect timeout (and, for MySQL, read/write timeouts) of `timeout` seconds; libpq rounds a
timeout under 2 s up to 2 s. Connections for a stream run (streams/endpoints.py) have no
statement timeout, longer read/write timeouts, transactions, and sessions in UTC. Certificates from `ssl` are written to 0600 files in a private
temporary directory for the time of the call. Error messages never carry a secret: drivers can
echo connection parameters, so messages are scrubbed of every secret the record holds.
"""

import base64
import functools
import logging
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
from urllib.parse import urlsplit

import boto3
import psycopg
import pymysql
from boto3.s3.transfer import TransferConfig
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from psycopg import sql

from dbcs_server.record import Record
from dbcs_server.streams.endpoints import MySQLSource, MySQLTarget, PgSource, PgTarget
from dbcs_server.streams.file_targets import FileTarget, S3FileTarget

MYSQL_SYSTEM_DATABASES = {
    "information_schema": "MySQL system database (metadata views)",
    "performance_schema": "MySQL system database (performance metrics)",
    "mysql": "MySQL system database (users, privileges, server settings)",
    "sys": "MySQL system database (diagnostic views)",
}
PG_TEMPLATE_DATABASES = {"template0", "template1"}
PG_SYSTEM_SCHEMAS = {
    "pg_catalog": "PostgreSQL system catalog",
    "information_schema": "SQL standard information schema",
    "pg_toast": "PostgreSQL TOAST storage",
}
PG_DATABASES = "SELECT datname, datallowconn FROM pg_database ORDER BY datname"
PG_DATABASE_EXISTS = "SELECT 1 FROM pg_database WHERE datname = %s"
PG_SCHEMAS = "SELECT nspname FROM pg_namespace ORDER BY nspname"
PG_TABLES = (
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
)
MYSQL_TABLES = (
    "SELECT table_name FROM information_schema.tables"
    " WHERE table_schema = %s AND table_type IN ('BASE TABLE', 'SYSTEM VERSIONED')"
)
PG_SSLMODE = {"disabled": "disable", "require": "require", "verify-ca": "verify-ca", "verify-full": "verify-full"}
PG_DEFAULT_DATABASE = "postgres"  # when a connection names no database (2.x makes it optional)
PG_NAME_MAX_BYTES = 63  # longer identifiers are silently cut by PostgreSQL: refuse them instead
MYSQL_NAME_MAX_CHARS = 64
MYSQL_UNKNOWN_DATABASE = 1049
MYSQL_DATABASE_EXISTS = 1007
MYSQL_REFUSALS = {1044, 1102, 1227}  # access denied to the database, incorrect name, missing privilege
LOAD_IO_TIMEOUT = 600  # seconds a stream run's MySQL connection waits on one read or write
PG_LOAD_OPTIONS = "-c statement_timeout=0 -c TimeZone=UTC"
STREAM_REFUSALS = {
    "source": "a {kind} connection cannot be a stream source: the local server reads from mysql and postgresql",
    "target": "a {kind} connection cannot be a stream target: the local server writes to mysql, postgresql,"
              " files and s3",
}
S3_LOAD_TIMEOUT = 60  # seconds a stream run's upload waits on the object store
S3_LOAD_ATTEMPTS = 3
S3_UPLOAD = TransferConfig(max_concurrency=4)
S3_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
             "TokenRefreshRequired", "AllAccessDisabled", "InvalidClientTokenId"}
for _name in ("botocore", "boto3", "s3transfer"):
    logging.getLogger(_name).setLevel(logging.WARNING)
# A paused run keeps its unbuffered read open: the server must not give up sending meanwhile.
MYSQL_LOAD_SESSION = "SET SESSION time_zone = '+00:00', SESSION net_write_timeout = 86400"


class ProbeError(Exception):
    """The service could not be reached, or failed (answered as 503; a failed ping result)."""


class DatabaseMissing(ProbeError):
    """The database named in the request does not exist (answered as 404 where the path names it)."""


class ProbeRefused(Exception):
    """The request cannot be carried out for this connection or input (answered as 400)."""


class AlreadyExists(Exception):
    """CREATE SCHEMA or CREATE DATABASE found it already there (answered as 409)."""


@dataclass(frozen=True)
class Limits:
    """What every driver obeys: the connect timeout, and (when not empty) the only hosts it may reach."""

    timeout: float
    allowed_hosts: tuple[str, ...] = ()


@dataclass
class SchemaEntry:
    name: str
    system: str | None = None  # why it is a system schema, if it is one


@dataclass
class DatabaseEntry:
    """One database as the server sees it; each dialect shows what it shows of it."""

    name: str
    system: str | None = None  # why it is a system database, if it is one
    schemas: list[SchemaEntry] | None = None  # None: the kind has no schemas (MySQL)
    readable: bool = True  # False: the user may not connect to it, so its schemas are unknown


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


def check_name(name: str, what: str, max_bytes: int | None = None, max_chars: int | None = None) -> None:
    if not name:
        raise ProbeRefused(f"{what} name must not be empty")
    if "\x00" in name:
        raise ProbeRefused(f"{what} name must not contain NUL characters")
    if max_bytes is not None and len(name.encode("utf-8")) > max_bytes:
        raise ProbeRefused(f"{what} name must be at most {max_bytes} bytes (UTF-8)")
    if max_chars is not None and len(name) > max_chars:
        raise ProbeRefused(f"{what} name must be at most {max_chars} characters")


class Driver:
    """The interface, and what a kind without a driver of its own answers."""

    def __init__(self, kind: str, secrets: tuple[str, ...], limits: Limits):
        self.kind = kind
        self.secret_paths = secrets
        self.limits = limits

    def no_databases(self) -> ProbeRefused:
        return ProbeRefused(
            f"a {self.kind} connection has no databases: databases, tables and schemas exist in mysql"
            " and postgresql connections only"
        )

    def ping(self, record: Record) -> None:
        """Raise ProbeError (with a message for the user) unless the service answers as it should."""
        raise ProbeError(f"the local server does not test {self.kind} connections yet")

    def databases(self, record: Record) -> list[DatabaseEntry]:
        raise self.no_databases()

    def tables(self, record: Record, database: str, schemas: tuple[str, ...] = (), include_system: bool = False) -> list[str]:
        raise self.no_databases()

    def create_schema(self, record: Record, database: str, name: str) -> None:
        raise ProbeRefused("schemas can only be created in postgresql connections")

    def create_database(self, record: Record, name: str) -> None:
        raise self.no_databases()

    def check_host(self, host: str | None) -> None:
        """ProbeError unless --allow-db-host lets this server reach `host` (any host when it is not given)."""
        if self.limits.allowed_hosts and host not in self.limits.allowed_hosts:
            raise ProbeError(
                f"this server only connects to {', '.join(self.limits.allowed_hosts)} (--allow-db-host);"
                f" host '{host}' is not allowed"
            )

    def message(self, record: Record, exc: BaseException) -> str:
        """An error of this driver's service as a message for the user, without the record's secrets."""
        return scrub(describe(exc), record.secret_values(self.secret_paths))

    def check_stream_endpoint(self, role: str, schema: str | None) -> None:
        """ProbeRefused unless a connection of this kind can be a stream's `role` ("source" or "target") with
        this schema; nothing is contacted."""
        raise ProbeRefused(STREAM_REFUSALS[role].format(kind=self.kind))

    def check_target_spec(self, record: Record, spec: dict[str, Any]) -> None:
        """ProbeRefused unless `spec` (this kind's member of target.spec) can be carried out with this
        connection; nothing is contacted."""
        return None

    def stream_source(self, record: Record, database: str, schema: str | None) -> Any:
        """A stream's source in `database` (streams/endpoints.py), connected."""
        self.check_stream_endpoint("source", schema)
        raise NotImplementedError

    def stream_target(self, record: Record, spec: dict[str, Any], run: str) -> Any:
        """The target of run `run` as `spec` (this kind's member of target.spec) says, ready to write."""
        self.check_stream_endpoint("target", spec.get("schema"))
        raise NotImplementedError


class FileStoreDriver(Driver):
    """What files and s3 share: a stream's target, never its source, and no schemas."""

    def check_stream_endpoint(self, role: str, schema: str | None) -> None:
        if role == "source":
            raise ProbeRefused(STREAM_REFUSALS[role].format(kind=self.kind))


class FilesDriver(FileStoreDriver):
    """A local directory: ping checks that basePath is a directory this process can write to."""

    def ping(self, record: Record) -> None:
        path = record.spec["basePath"]
        if not os.path.exists(path):
            raise ProbeError(f"basePath {path} does not exist")
        if not os.path.isdir(path):
            raise ProbeError(f"basePath {path} is not a directory")
        try:  # a real write: os.access() says yes to root even on a read-only file system
            with tempfile.TemporaryFile(dir=path, prefix=".dbcs-ping-"):
                pass
        except OSError as exc:
            raise ProbeError(f"basePath {path} is not writable by the server: {exc.strerror or exc}") from None

    def stream_target(self, record: Record, spec: dict[str, Any], run: str) -> FileTarget:
        self.ping(record)
        return FileTarget(os.path.join(record.spec["basePath"], run), spec["fileFormat"])


class S3Driver(FileStoreDriver):
    """An S3 or S3-compatible object store: ping lists scope.bucket under scope.prefix (one key at most),
    or, without a bucket in scope, the buckets the credentials see."""

    @contextmanager
    def reporting(self, record: Record, bucket: str | None = None) -> Iterator[None]:
        """boto3's failures as ProbeError messages for the user, without the record's secrets."""
        secrets = record.secret_values(self.secret_paths)
        where = f"bucket '{bucket}'" if bucket else "the object store"
        endpoint = record.spec.get("endpoint") or f"https://{self.aws_host(record)}"
        try:
            yield
        except ProbeError:
            raise
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in ("NoSuchBucket", "404") and bucket:
                message = f"bucket '{bucket}' does not exist"
            elif code in S3_DENIED or code == "403":
                message = f"access denied to {where} ({code}): check the credentials and the bucket's policy"
            else:
                message = f"{endpoint} answered {code}: {error.get('Message') or describe(exc)}"
            raise ProbeError(scrub(message, secrets)) from None
        except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
            raise ProbeError(scrub(f"endpoint {endpoint} is unreachable: {describe(exc)}", secrets)) from None
        except (BotoCoreError, ValueError) as exc:
            raise ProbeError(scrub(f"{endpoint}: {describe(exc)}", secrets)) from None

    @staticmethod
    def aws_host(record: Record) -> str:
        """The host of AWS's S3 endpoint of the connection's region (used when it names no endpoint)."""
        return f"s3.{record.spec['region']}.amazonaws.com"

    def client(self, record: Record, load: bool = False) -> Any:
        """An S3 client of the connection: within the host allow-list, its own credentials or none."""
        spec = record.spec
        endpoint = spec.get("endpoint") or None
        self.check_host(urlsplit(endpoint).hostname if endpoint else self.aws_host(record))
        credentials = spec.get("credentials") or {}
        if bool(credentials.get("accessKey")) != bool(credentials.get("secretKey")):
            raise ProbeError("credentials: accessKey and secretKey go together (give both, or neither for"
                             " anonymous requests)")
        timeout = S3_LOAD_TIMEOUT if load else self.limits.timeout
        config = Config(connect_timeout=self.limits.timeout, read_timeout=timeout,
                        retries={"max_attempts": S3_LOAD_ATTEMPTS if load else 1, "mode": "standard"},
                        signature_version=None if credentials.get("accessKey") else UNSIGNED)
        # A session of its own: boto3's default session is not thread-safe, and reads no credentials here.
        return boto3.session.Session().client(
            "s3", region_name=spec["region"], endpoint_url=endpoint, config=config,
            aws_access_key_id=credentials.get("accessKey"), aws_secret_access_key=credentials.get("secretKey"),
            aws_session_token=credentials.get("sessionToken"))

    def ping(self, record: Record) -> None:
        scope = record.spec.get("scope") or {}
        bucket = scope.get("bucket")
        with self.reporting(record, bucket):
            client = self.client(record)
            if bucket:
                client.list_objects_v2(Bucket=bucket, Prefix=scope.get("prefix") or "", MaxKeys=1)
            else:
                client.list_buckets()

    @staticmethod
    def destination(record: Record, spec: dict[str, Any]) -> tuple[str | None, str | None]:
        """(bucket, prefix) of a stream target: its upload's, else the connection's scope."""
        upload, scope = spec.get("upload") or {}, record.spec.get("scope") or {}
        return upload.get("bucket") or scope.get("bucket"), upload.get("prefix") or scope.get("prefix")

    def check_target_spec(self, record: Record, spec: dict[str, Any]) -> None:
        if not self.destination(record, spec)[0]:
            raise ProbeRefused(f"target.spec.s3.upload.bucket is required: connection '{record.name}' has no"
                               " scope.bucket")

    def stream_target(self, record: Record, spec: dict[str, Any], run: str) -> S3FileTarget:
        self.check_target_spec(record, spec)
        bucket, prefix = self.destination(record, spec)
        parts = [p.strip("/") for p in (prefix or "", spec.get("outputDirectory") or "", run)]
        with self.reporting(record, bucket):
            return S3FileTarget(self.client(record, load=True), bucket, "/".join(p for p in parts if p),
                                spec["fileFormat"], S3_UPLOAD)


@dataclass(frozen=True)
class Target:
    """What a database driver needs of a stored connection (secrets in clear)."""

    host: str
    port: int
    username: str
    password: str
    database: str
    ssl: dict[str, Any] | None = None

    @classmethod
    def from_record(cls, record: Record) -> "Target":
        spec = record.spec
        return cls(
            host=spec["host"], port=spec["port"], username=spec["username"], password=spec.get("password", ""),
            database=spec.get("database", ""), ssl=record.ssl,
        )


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
        for name, encoded in wanted.items():
            path = os.path.join(directory, f"{name}.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(base64.b64decode(encoded))
            paths[name] = path
        yield paths
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class MySQLConnection(pymysql.connections.Connection):
    """PyMySQL's connection, with one shared TLS context for its default mode (TLS when the server offers it,
    unverified) instead of a new one per connection: PyMySQL's loads the system's CA bundle every time (about
    40 ms per connection, more than the rest of a table check), which an unverified context never reads."""

    def _create_ssl_ctx(self, sslp: Any) -> tls.SSLContext:
        if isinstance(sslp, dict) and not sslp:
            return unverified_tls()
        return super()._create_ssl_ctx(sslp)  # type: ignore[no-any-return]


@functools.cache
def unverified_tls() -> tls.SSLContext:
    context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = tls.CERT_NONE
    return context


def mysql_tls_options(ssl: dict[str, Any] | None, files: dict[str, str]) -> dict[str, Any]:
    mode = ssl.get("mode") if ssl else None
    if mode is None:
        return {}  # PyMySQL's default: TLS when the server offers it, unverified (MySQLConnection)
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


class SqlDriver(Driver):
    """What both database drivers share: the host allow-list, and errors as scrubbed messages."""

    @contextmanager
    def reporting(self, record: Record) -> Iterator[Target]:
        target = Target.from_record(record)
        self.check_host(target.host)
        secrets = record.secret_values(self.secret_paths)
        try:
            yield target
        except (ProbeError, ProbeRefused, AlreadyExists) as exc:
            raise type(exc)(scrub(str(exc), secrets)) from None
        except Exception as exc:
            raise ProbeError(scrub(describe(exc), secrets)) from None

    def check_stream_endpoint(self, role: str, schema: str | None) -> None:
        return None


class PostgresDriver(SqlDriver):
    def open(self, target: Target, database: str, load: bool = False) -> psycopg.Connection:
        """A connection (close it with `with`); the certificate files are gone once it is made.
        `load`: for a stream run (no statement timeout, transactions, UTC)."""
        timeout = self.limits.timeout
        with pem_files(target.ssl) as files:
            params: dict[str, Any] = {
                "host": target.host,
                "port": target.port,
                "user": target.username,
                "password": target.password,
                "dbname": database or PG_DEFAULT_DATABASE,
                "connect_timeout": max(1, math.ceil(timeout)),
                "sslmode": PG_SSLMODE[target.ssl["mode"]] if target.ssl else "prefer",
                "passfile": os.devnull,
                "application_name": "dbcs-server",
                "options": PG_LOAD_OPTIONS if load else f"-c statement_timeout={max(5000, int(timeout * 1000))}",
            }
            for name, param in (("ca", "sslrootcert"), ("client_cert", "sslcert"), ("client_key", "sslkey")):
                if name in files:
                    params[param] = files[name]
            return psycopg.connect(autocommit=not load, **params)

    def open_named(self, target: Target, database: str, load: bool = False) -> psycopg.Connection:
        """Connect to a database the request names: DatabaseMissing when it does not exist."""
        try:
            return self.open(target, database, load)
        except psycopg.OperationalError as exc:
            if (database or PG_DEFAULT_DATABASE) == (target.database or PG_DEFAULT_DATABASE):
                raise
            failure = exc
        # libpq gives no SQLSTATE for a failed login: the connection's own database tells whether it exists.
        with self.open(target, target.database) as conn:
            if conn.execute(PG_DATABASE_EXISTS, (database,)).fetchone() is None:
                raise DatabaseMissing(f"database '{database}' not found")
        raise failure

    @staticmethod
    def schema_system(name: str) -> str | None:
        if name in PG_SYSTEM_SCHEMAS:
            return PG_SYSTEM_SCHEMAS[name]
        if name.startswith(("pg_temp_", "pg_toast_temp_")):
            return "PostgreSQL temporary schema"
        return None

    def schemas(self, conn: psycopg.Connection) -> list[SchemaEntry]:
        return [SchemaEntry(name, self.schema_system(name)) for (name,) in conn.execute(PG_SCHEMAS)]

    def ping(self, record: Record) -> None:
        with self.reporting(record) as target, self.open(target, target.database) as conn:
            conn.execute("SELECT 1")

    def databases(self, record: Record) -> list[DatabaseEntry]:
        with self.reporting(record) as target, self.open(target, target.database) as conn:
            found = []
            own = conn.execute("SELECT current_database()").fetchone()[0]
            for name, allows_connections in conn.execute(PG_DATABASES).fetchall():
                entry = DatabaseEntry(name, "PostgreSQL template database" if name in PG_TEMPLATE_DATABASES else None,
                                      schemas=[], readable=bool(allows_connections))
                if name == own:
                    entry.schemas = self.schemas(conn)
                elif allows_connections:
                    try:
                        with self.open(target, name) as other:
                            entry.schemas = self.schemas(other)
                    except psycopg.Error:
                        entry.readable = False  # a database this user may not connect to
                found.append(entry)
            return found

    def tables(self, record: Record, database: str, schemas: tuple[str, ...] = (), include_system: bool = False) -> list[str]:
        with self.reporting(record) as target, self.open_named(target, database) as conn:
            rows = conn.execute(PG_TABLES).fetchall()
        wanted = set(schemas)
        return sorted(
            table if schema == "public" else f"{schema}.{table}"
            for schema, table in rows
            if (include_system or not self.schema_system(schema)) and (not wanted or schema in wanted)
        )

    @staticmethod
    def create(conn: psycopg.Connection, what: str, name: str, exists: str) -> None:
        """CREATE SCHEMA or DATABASE, the name quoted as an identifier: AlreadyExists, or ProbeRefused (privileges)."""
        try:
            conn.execute(sql.SQL("CREATE {} {}").format(sql.SQL(what), sql.Identifier(name)))
        except (psycopg.errors.DuplicateSchema, psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            raise AlreadyExists(exists) from None
        except psycopg.errors.ProgrammingError as exc:
            raise ProbeRefused(describe(exc)) from None

    def create_schema(self, record: Record, database: str, name: str) -> None:
        check_name(name, "schema", max_bytes=PG_NAME_MAX_BYTES)
        with self.reporting(record) as target, self.open_named(target, database) as conn:
            self.create(conn, "SCHEMA", name, f"schema '{name}' already exists in database '{database}'")

    def create_database(self, record: Record, name: str) -> None:
        check_name(name, "database", max_bytes=PG_NAME_MAX_BYTES)
        with self.reporting(record) as target, self.open(target, target.database) as conn:
            self.create(conn, "DATABASE", name, f"database '{name}' already exists")

    def stream_source(self, record: Record, database: str, schema: str | None) -> PgSource:
        self.check_stream_endpoint("source", schema)
        with self.reporting(record) as target:
            return PgSource(self.open_named(target, database, load=True), schema)

    def stream_target(self, record: Record, spec: dict[str, Any], run: str) -> PgTarget:
        database, schema = spec["database"], spec.get("schema")
        self.check_stream_endpoint("target", schema)
        with self.reporting(record) as target:
            return PgTarget(self.open_named(target, database, load=True), schema)


class MySQLDriver(SqlDriver):
    def open(self, target: Target, database: str | None, load: bool = False) -> pymysql.connections.Connection:
        """A connection (close it with `with`): DatabaseMissing when a database the request names does not exist.
        `load`: for a stream run (longer read and write timeouts, transactions, UTC)."""
        timeout = self.limits.timeout
        with pem_files(target.ssl) as files:
            try:
                return MySQLConnection(
                    host=target.host,
                    port=target.port,
                    user=target.username,
                    password=target.password.encode("utf-8"),
                    database=database or None,
                    connect_timeout=timeout,
                    read_timeout=LOAD_IO_TIMEOUT if load else timeout,
                    write_timeout=LOAD_IO_TIMEOUT if load else timeout,
                    charset="utf8mb4",
                    autocommit=not load,
                    init_command=MYSQL_LOAD_SESSION if load else None,
                    **mysql_tls_options(target.ssl, files),
                )
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] == MYSQL_UNKNOWN_DATABASE and database != target.database:
                    raise DatabaseMissing(f"database '{database}' not found") from None
                raise

    def ping(self, record: Record) -> None:
        with self.reporting(record) as target, self.open(target, target.database) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1")

    def databases(self, record: Record) -> list[DatabaseEntry]:
        with self.reporting(record) as target, self.open(target, None) as conn, conn.cursor() as cursor:
            cursor.execute("SHOW DATABASES")
            names = sorted(row[0] for row in cursor.fetchall())
        return [DatabaseEntry(name, MYSQL_SYSTEM_DATABASES.get(name.lower())) for name in names]

    def tables(self, record: Record, database: str, schemas: tuple[str, ...] = (), include_system: bool = False) -> list[str]:
        if not database:
            raise ProbeRefused("this connection has no database to list tables of; set its database")
        with self.reporting(record) as target, self.open(target, database) as conn, conn.cursor() as cursor:
            cursor.execute(MYSQL_TABLES, (database,))
            return sorted(row[0] for row in cursor.fetchall())

    def create_database(self, record: Record, name: str) -> None:
        check_name(name, "database", max_chars=MYSQL_NAME_MAX_CHARS)
        quoted = "`" + name.replace("`", "``") + "`"  # an identifier, never SQL
        with self.reporting(record) as target, self.open(target, None) as conn, conn.cursor() as cursor:
            try:
                cursor.execute(f"CREATE DATABASE {quoted}")
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args else None
                if code == MYSQL_DATABASE_EXISTS:
                    raise AlreadyExists(f"database '{name}' already exists") from None
                if code in MYSQL_REFUSALS:
                    raise ProbeRefused(describe(exc)) from None
                raise

    def check_stream_endpoint(self, role: str, schema: str | None) -> None:
        if schema:
            raise ProbeRefused(f"a mysql {role} has no schemas: leave schema out (the database is the {role}'s)")

    def stream_source(self, record: Record, database: str, schema: str | None) -> MySQLSource:
        self.check_stream_endpoint("source", schema)
        with self.reporting(record) as target:
            return MySQLSource(self.open_named(target, database), database)

    def stream_target(self, record: Record, spec: dict[str, Any], run: str) -> MySQLTarget:
        database, schema = spec["database"], spec.get("schema")
        self.check_stream_endpoint("target", schema)
        with self.reporting(record) as target:
            return MySQLTarget(self.open_named(target, database), database)

    def open_named(self, target: Target, database: str) -> pymysql.connections.Connection:
        """A stream run's connection to a database the configuration names: DatabaseMissing when it does not exist."""
        try:
            return self.open(target, database, load=True)
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] == MYSQL_UNKNOWN_DATABASE:
                raise DatabaseMissing(f"database '{database}' not found") from None
            raise
