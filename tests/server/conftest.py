"""Fixtures for the server tests: real dbcs-server processes and HTTP clients.

`server`, `api` and `other_api` serve the v1 dialect (the tests of v1, test_*.py without v2 in
their name); `server2`, `api2` and `other_api2` the 2.x dialect (test_v2_*.py). The databases
fixture and the helpers are shared with the reliability suite (tests/conftest.py,
tests/support/server_helpers.py). `s3` is an S3-compatible server (moto_server) for s3 connections.
"""

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from server_helpers import Api, Databases, ServerProcess, Services, blackhole_port, closed_port, silent_server


@dataclass(frozen=True)
class S3Store:
    """The S3-compatible server of the session (moto_server, signatures checked): its bucket and key."""

    endpoint: str
    region: str
    bucket: str
    access_key: str
    secret_key: str

    @classmethod
    def from_env(cls, env: Any) -> "S3Store":
        return cls(env["DBCS_S3_ENDPOINT"], env["DBCS_S3_REGION"], env["DBCS_S3_BUCKET"], env["DBCS_S3_ACCESS_KEY"],
                   env["DBCS_S3_SECRET_KEY"])

    def client(self) -> Any:
        return boto3.session.Session().client("s3", endpoint_url=self.endpoint, region_name=self.region,
                                              aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def connection(self, name: str | None = None, scope: dict[str, Any] | None = None,
                   **credentials: Any) -> dict[str, Any]:
        """A 2.x s3 connection body to this server (scope: its bucket unless given; credentials: its key)."""
        return {"name": name or "s3-" + secrets.token_hex(3), "type": "s3", "spec": {"s3": {
            "region": self.region, "endpoint": self.endpoint,
            "credentials": {"accessKey": self.access_key, "secretKey": self.secret_key, **credentials},
            "scope": {"bucket": self.bucket} if scope is None else scope}}}


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Store]:
    """From the environment when DBCS_S3_ENDPOINT is set (`tools/services.py start-s3 DIR`, then `env DIR`);
    else the session starts its own moto_server with the services harness and stops it at the end."""
    if os.environ.get("DBCS_S3_ENDPOINT"):
        yield S3Store.from_env(os.environ)
        return
    services = Services(tmp_path_factory.mktemp("s3"))
    try:
        services.start_s3()
        yield S3Store.from_env(services.env())
    finally:
        services.stop()


@pytest.fixture(scope="session")
def scratch(databases: Databases) -> Iterator[str]:
    """A database of this name exists in both PostgreSQL and MariaDB for the session."""
    with databases.scratch_database() as name:
        yield name


@pytest.fixture
def fresh_db(databases: Databases) -> Iterator[str]:
    """An empty database of a unique name in both servers, dropped afterwards."""
    name = "dbcs_t_" + secrets.token_hex(4)
    databases.create_database(name)
    yield name
    databases.drop_database(name)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The default server: --strict-configs, a pool of API keys (one fresh key per test)."""
    proc = ServerProcess(tmp_path_factory.mktemp("server"), key_count=800, args=["--strict-configs"])
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def server2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The default 2.x server: a pool of API keys (one fresh key per test)."""
    proc = ServerProcess(tmp_path_factory.mktemp("server2"), key_count=800, api_version=2)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def api2(server2: ServerProcess) -> Api:
    """A 2.x client with its own key and the install id."""
    return server2.api(session=False)


@pytest.fixture
def other_api2(server2: ServerProcess) -> Api:
    return server2.api(session=False)


@pytest.fixture
def fresh_key(server: ServerProcess) -> str:
    """A key no other test has used: it owns nothing and has not called /user/configs."""
    return server.take_key()


@pytest.fixture
def api(server: ServerProcess, fresh_key: str) -> Api:
    """A client with its own key, session started (GET /user/configs)."""
    client = Api(server.url, fresh_key)
    assert client.get("/user/configs").status_code == 200
    return client


@pytest.fixture
def other_api(server: ServerProcess) -> Api:
    client = Api(server.url, server.take_key())
    assert client.get("/user/configs").status_code == 200
    return client


@pytest.fixture(scope="module")
def timeout_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that gives up on databases after 1 s (libpq makes that 2 s)."""
    proc = ServerProcess(tmp_path_factory.mktemp("timeout-server"), key_count=40, args=["--db-timeout", "1"])
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def closed() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections, held for the test so that nothing else takes it."""
    with closed_port() as port:
        yield port


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A 127.0.0.1 port whose SYNs are dropped: like an unroutable host, without leaving loopback."""
    with blackhole_port() as port:
        yield port


@pytest.fixture
def silent() -> Iterator[int]:
    """A 127.0.0.1 port that accepts TCP connections and never says a word."""
    with silent_server() as port:
        yield port
