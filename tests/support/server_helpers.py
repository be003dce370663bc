"""Test helpers: a dbcs-server subprocess, an HTTP client, direct database access, fake hosts."""

import json
import secrets
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import requests
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tools"))

from services import Services, server_command  # noqa: E402  pylint: disable=wrong-import-position


class Api:
    """requests, with the base URL and the X-API-Key (2.x: and X-Install-ID) header filled in."""

    def __init__(self, url: str, key: str | None, verify: Any = True, install_id: str | None = None):
        self.url = url
        self.key = key
        self.install_id = install_id
        self.session = requests.Session()
        self.session.verify = verify
        if key is not None:
            self.session.headers["X-API-Key"] = key
        if install_id is not None:
            self.session.headers["X-Install-ID"] = install_id

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("verify", self.session.verify)  # per request: REQUESTS_CA_BUNDLE would override the session's
        return self.session.request(method, self.url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        response = self.post("/connections", json=spec)
        assert response.status_code == 201, response.text
        return response.json()


def connection_spec(name: str | None = None, **overrides: Any) -> dict[str, Any]:
    spec = {
        "name": "conn-" + secrets.token_hex(4) if name is None else name,
        "type": "postgresql",
        "host": "127.0.0.1",
        "port": 5432,
        "username": "app",
        "password": "pw-" + secrets.token_hex(8),
        "database": "app",
    }
    spec.update(overrides)
    return spec


def nested(spec: dict[str, Any]) -> dict[str, Any]:
    """A connection written as v1's flat fields (connection_spec), in the 2.x form (no schema there)."""
    fields = ("host", "port", "username", "password", "database")
    body = {k: v for k, v in spec.items() if k not in fields and k != "schema"}
    body["spec"] = {"database": {k: spec[k] for k in fields if k in spec}}
    return body


def flat(conn: dict[str, Any]) -> dict[str, Any]:
    """A connection the server answered, in v1's flat form (a 2.x object's spec.database fields moved up)."""
    spec = conn.get("spec")
    if not isinstance(spec, dict):
        return conn
    return dict({k: v for k, v in conn.items() if k != "spec"}, **(spec.get("database") or {}))


def items(listed: Any) -> list[dict[str, Any]]:
    """The connections of a list answer: a v1 array or the items of a 2.x envelope."""
    return listed["items"] if isinstance(listed, dict) else listed


class ServerProcess:
    """One dbcs-server process in workdir, started (on a port it binds itself) and stopped by pid through
    the services harness (tools/services.py; its state in workdir/services.json).

    api_version 1 by default: the collection's tests speak v1 until the collection speaks 2.x
    (None: no --api-version, the server's default)."""

    NAME = "server"

    def __init__(self, workdir: Path, key_count: int = 2, args: list[str] | None = None,
                 data_dir: Path | None = None, verify: Any = True, api_version: int | None = 1):
        self.api_version = api_version
        self.install_id: str | None = None
        self.workdir = workdir
        self.keys = [secrets.token_urlsafe(18) for _i in range(key_count)]
        self._next_key = 0
        self._lock = threading.Lock()
        self.args = list(args or [])
        self.data_dir = data_dir or workdir / "data"
        self.request_log = workdir / "requests.jsonl"
        self.stderr_path = workdir / "server.log"
        self.verify = verify  # for https: the CA bundle (the server's own certificate)
        self.services = Services(workdir)
        self.url = ""
        self.port = 0

    @property
    def key(self) -> str:
        return self.keys[0]

    def take_key(self) -> str:
        with self._lock:
            if self._next_key >= len(self.keys):
                raise RuntimeError("the server's key pool is used up; raise key_count")
            self._next_key += 1
            return self.keys[self._next_key - 1]

    def command(self) -> list[str]:
        """The server's command line, for a test that runs it by hand (the port it binds goes to spawn.port)."""
        return server_command(self.workdir / "spawn.port", self.data_dir, self.request_log, self.server_args())

    def server_args(self) -> list[str]:
        return [*(["--api-version", str(self.api_version)] if self.api_version else []), *self.args]

    def start(self, timeout: float = 20) -> None:
        record = self.services.start_server(self.NAME, self.server_args(), keys=self.keys, data_dir=self.data_dir,
                                            request_log=self.request_log, log=self.stderr_path, timeout=timeout)
        self.url, self.port = record["url"], record["port"]
        defaults = requests.get(self.url + "/system/defaults", timeout=5, verify=self.verify)
        self.install_id = defaults.json()["installId"] if defaults.status_code == 200 else None

    def stop(self) -> None:
        self.services.stop(self.NAME)

    def kill9(self) -> None:
        self.services.kill(self.NAME)

    def restart(self) -> None:
        self.stop()
        self.start()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def log_entries(self) -> list[dict[str, Any]]:
        if not self.request_log.exists():
            return []
        return [json.loads(line) for line in self.request_log.read_text().splitlines()]

    def wire(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A connection_spec() in the form this server's dialect takes."""
        return nested(spec) if self.api_version == 2 else spec

    def client(self, key: str | None) -> Api:
        """A client of this server for `key` (None: no key), without a session start."""
        return Api(self.url, key, verify=self.verify, install_id=self.install_id)

    def api(self, key: str | None = None, session: bool = True) -> Api:
        client = self.client(key or self.take_key())
        if session:
            assert client.get("/user/configs").status_code == 200
        return client


@dataclass(frozen=True)
class Databases:
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    pg_database: str
    my_host: str
    my_port: int
    my_user: str
    my_password: str

    @classmethod
    def from_env(cls, env: Any) -> "Databases":
        """From DBCS_PG_* and DBCS_MY_* (os.environ, or Services(DIR).env())."""
        return cls(
            pg_host=env["DBCS_PG_HOST"], pg_port=int(env["DBCS_PG_PORT"]), pg_user=env["DBCS_PG_USER"],
            pg_password=env["DBCS_PG_PASSWORD"], pg_database=env.get("DBCS_PG_DATABASE", "postgres"),
            my_host=env["DBCS_MY_HOST"], my_port=int(env["DBCS_MY_PORT"]), my_user=env["DBCS_MY_USER"],
            my_password=env["DBCS_MY_PASSWORD"],
        )

    def pg_spec(self, database: str | None = None, **overrides: Any) -> dict[str, Any]:
        spec = connection_spec(
            type="postgresql", host=self.pg_host, port=self.pg_port, username=self.pg_user,
            password=self.pg_password, database=database or self.pg_database,
        )
        spec.update(overrides)
        return spec

    def my_spec(self, database: str = "", **overrides: Any) -> dict[str, Any]:
        spec = connection_spec(
            type="mysql", host=self.my_host, port=self.my_port, username=self.my_user,
            password=self.my_password, database=database,
        )
        spec.update(overrides)
        return spec

    @contextmanager
    def pg(self, database: str | None = None):
        conn = psycopg.connect(
            host=self.pg_host, port=self.pg_port, user=self.pg_user, password=self.pg_password,
            dbname=database or self.pg_database, autocommit=True, connect_timeout=10,
        )
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def mysql(self, database: str | None = None):
        conn = pymysql.connect(
            host=self.my_host, port=self.my_port, user=self.my_user, password=self.my_password,
            database=database, autocommit=True, connect_timeout=10,
        )
        try:
            yield conn
        finally:
            conn.close()

    def create_database(self, name: str) -> None:
        with self.pg() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with self.mysql() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")

    def drop_database(self, name: str) -> None:
        with self.pg() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        with self.mysql() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")

    @contextmanager
    def scratch_database(self):
        """A database of a fresh name in both PostgreSQL and MariaDB, dropped afterwards."""
        name = "dbcs_test_" + secrets.token_hex(4)
        self.create_database(name)
        try:
            yield name
        finally:
            self.drop_database(name)

    def all_databases(self) -> set[tuple[str, str]]:
        """Every database of both servers, as ("postgresql" or "mysql", name)."""
        with self.pg() as conn:
            found = {("postgresql", row[0]) for row in conn.execute("SELECT datname FROM pg_database")}
        with self.mysql() as conn, conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            found |= {("mysql", row[0]) for row in cur.fetchall()}
        return found

    def pg_schemas(self, database: str) -> set[str]:
        with self.pg(database) as conn:
            return {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace")}


@contextmanager
def closed_port():
    """A 127.0.0.1 port that refuses connections: bound, never listening (held, so nothing else takes it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextmanager
def blackhole_port():
    """Fill a listen(0) socket's accept queue: the kernel then drops further SYNs (no RST)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _i in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(filler)
        time.sleep(0.1)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


@contextmanager
def silent_server():
    """Accept every connection, read nothing, answer nothing."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _addr = server.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()
