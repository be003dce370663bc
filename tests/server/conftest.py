"""Fixtures for the server tests: real databases, real dbcs-server processes, HTTP clients.

Databases come from the environment when DBCS_PG_PORT and DBCS_MY_PORT are set (after
`. DIR/env.sh` of `tools/services.sh start-db DIR`); otherwise this session starts its own
with tools/services.sh and stops them at the end.
"""

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_helpers import REPO_ROOT, Api, Databases, ServerProcess, blackhole_port, silent_server

SERVICES = REPO_ROOT / "tools" / "services.sh"


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    if os.environ.get("DBCS_PG_PORT") and os.environ.get("DBCS_MY_PORT"):
        yield Databases.from_env(os.environ)
        return
    # Not under pytest's tmp dir: its parents are 0700 and postgres must traverse them.
    state = Path(tempfile.mkdtemp(prefix="dbcs-test-db-"))
    try:
        subprocess.run(["bash", str(SERVICES), "start-db", str(state)], check=True, timeout=300)
        env = {}
        for line in (state / "env.sh").read_text().splitlines():
            name, _sep, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip("'")
        yield Databases.from_env(env)
    finally:
        subprocess.run(["bash", str(SERVICES), "stop", str(state)], check=False, timeout=120)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def scratch(databases: Databases) -> Iterator[str]:
    """A database of this name exists in both PostgreSQL and MariaDB for the session."""
    name = "dbcs_test_" + secrets.token_hex(4)
    databases.create_database(name)
    yield name
    databases.drop_database(name)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The default server: --strict-configs, a pool of API keys (one fresh key per test)."""
    proc = ServerProcess(tmp_path_factory.mktemp("server"), key_count=400, args=["--strict-configs"])
    proc.start()
    yield proc
    proc.stop()


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
def blackhole() -> Iterator[int]:
    """A 127.0.0.1 port whose SYNs are dropped: like an unroutable host, without leaving loopback."""
    with blackhole_port() as port:
        yield port


@pytest.fixture
def silent() -> Iterator[int]:
    """A 127.0.0.1 port that accepts TCP connections and never says a word."""
    with silent_server() as port:
        yield port
