"""Storage: durability across restarts and kill -9, secrets at rest, the key file, the logs."""

import base64
import datetime
import hashlib
import os
import secrets
import signal
import sqlite3
import stat
import subprocess
import sys

import pytest

from server_helpers import REPO_ROOT, ServerProcess, connection_spec


@pytest.fixture
def private_server(tmp_path):
    """A server of its own, for tests that stop, kill or restart it."""
    proc = ServerProcess(tmp_path, key_count=2)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def storage_server(tmp_path_factory):
    """A server whose data directory only this module's tests write to."""
    proc = ServerProcess(tmp_path_factory.mktemp("storage"), key_count=10)
    proc.start()
    yield proc
    proc.stop()


def all_bytes(directory) -> dict[str, bytes]:
    found = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[path] = f.read()
    return found


def test_connections_survive_a_restart(private_server):
    client = private_server.api()
    kept = client.create(connection_spec("kept", ssl={"mode": "require", "client_key": "S0VZ"}))
    gone = client.create(connection_spec("gone"))
    spec = connection_spec("changed")
    assert client.put(f"/connections/{kept['id']}", json=spec).status_code == 200
    assert client.delete(f"/connections/{gone['id']}").status_code == 204
    before = client.get("/connections").json()
    private_server.restart()
    after = private_server.api(client.key).get("/connections").json()
    assert after == before
    assert after[0]["password"] == spec["password"]


def test_acknowledged_writes_survive_kill_9(private_server):
    client = private_server.api()
    ids = [client.create(connection_spec(f"c{i}"))["id"] for i in range(50)]
    assert client.delete(f"/connections/{ids[0]}").status_code == 204
    renamed = connection_spec("renamed")
    assert client.put(f"/connections/{ids[1]}", json=renamed).status_code == 200
    clone = client.put(f"/connections/{ids[2]}/clone").json()
    private_server.kill9()  # right after the last acknowledged answer
    private_server.start()
    client = private_server.api(client.key)
    names = [c["name"] for c in client.get("/connections").json()]
    assert names == ["renamed"] + [f"c{i}" for i in range(2, 50)] + [clone["name"]]
    assert client.get(f"/connections/{ids[1]}").json()["password"] == renamed["password"]


def test_no_plaintext_secret_anywhere_in_the_data_directory(storage_server):
    client = storage_server.api()
    password = "pw-" + secrets.token_urlsafe(24)
    pem = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + secrets.token_hex(16).encode() + b"\n-----END PRIVATE KEY-----\n"
    client_key = base64.b64encode(pem).decode()
    created = client.create(connection_spec(password=password, ssl={"mode": "verify-full", "client_key": client_key}))
    client.put(f"/connections/{created['id']}/clone")
    assert client.get(f"/connections/{created['id']}").json()["password"] == password
    files = all_bytes(storage_server.data_dir)
    assert any(name.endswith("connections.sqlite3") for name in files)
    needles = [password.encode(), client_key.encode(), pem, pem.splitlines()[1], client.key.encode()]
    for path, content in files.items():
        for needle in needles:
            assert needle not in content, f"{needle[:12]!r}... found in {path}"


def test_rows_are_owned_by_the_hash_of_the_key(storage_server):
    client = storage_server.api()
    created = client.create(connection_spec())
    db = sqlite3.connect(storage_server.data_dir / "connections.sqlite3")
    (owner,) = db.execute("SELECT owner FROM connections WHERE id = ?", (created["id"],)).fetchone()
    owners = {row[0] for row in db.execute("SELECT owner FROM connections")}
    db.close()
    assert owner == hashlib.sha256(client.key.encode()).hexdigest()
    assert not owners & set(storage_server.keys)


def test_file_modes(storage_server):
    storage_server.api().create(connection_spec())

    def mode(path):
        return stat.S_IMODE(os.stat(path).st_mode)

    assert mode(storage_server.data_dir) == 0o700
    assert mode(storage_server.data_dir / "secret.key") == 0o600
    assert mode(storage_server.data_dir / "connections.sqlite3") == 0o600
    assert mode(storage_server.request_log) == 0o600


def run_cli(*args, env=None, timeout=30):
    return subprocess.run([sys.executable, "-m", "dbcs_server", *args], capture_output=True, text=True, check=False,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=REPO_ROOT)


def test_refuses_to_start_without_a_key(tmp_path):
    result = run_cli("--data-dir", str(tmp_path / "d"), env={"DBCS_API_KEYS": ""})
    assert result.returncode == 2
    assert "no API key configured" in result.stderr


def test_refuses_a_secret_key_file_others_can_read(tmp_path):
    proc = ServerProcess(tmp_path, key_count=1)
    proc.start()
    proc.stop()
    key_file = proc.data_dir / "secret.key"
    os.chmod(key_file, 0o644)
    result = run_cli("--data-dir", str(proc.data_dir), "--port", "1", env={"DBCS_API_KEYS": "k"})
    assert result.returncode == 2
    assert f"the secret key file {key_file} has mode 0644" in result.stderr
    assert "chmod 600" in result.stderr


def test_refuses_an_unreadable_or_invalid_secret_key_file(tmp_path):
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    key_file = data / "secret.key"
    key_file.write_text("not a key\n")
    os.chmod(key_file, 0o600)
    result = run_cli("--data-dir", str(data), env={"DBCS_API_KEYS": "k"})
    assert result.returncode == 2 and "does not hold a Fernet key" in result.stderr
    key_file.unlink()
    key_file.mkdir(mode=0o700)  # a directory cannot be read as a file, even by root
    result = run_cli("--data-dir", str(data), env={"DBCS_API_KEYS": "k"})
    assert result.returncode == 2 and "cannot read the secret key file" in result.stderr


def test_a_kill_9_while_the_key_file_is_made_leaves_a_server_that_starts(tmp_path):
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    # The first start killed at the worst moment: the key file's content is being written.
    crash = (
        "import os, signal, sys\nfrom pathlib import Path\nfrom dbcs_server import secrets_box\n"
        "os.write = lambda *args: os.kill(os.getpid(), signal.SIGKILL)\n"
        "secrets_box.load_or_create_key(Path(sys.argv[1]))\n"
    )
    killed = subprocess.run([sys.executable, "-c", crash, str(data)], capture_output=True, check=False, timeout=30)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (data / "secret.key").exists()
    proc = ServerProcess(tmp_path, key_count=1, data_dir=data)
    proc.start()
    try:
        client = proc.api()
        created = client.create(connection_spec())
        assert client.get(f"/connections/{created['id']}").status_code == 200
    finally:
        proc.stop()
    assert stat.S_IMODE(os.stat(data / "secret.key").st_mode) == 0o600


def test_refuses_a_secret_key_that_does_not_open_the_stored_secrets(tmp_path):
    from cryptography.fernet import Fernet

    proc = ServerProcess(tmp_path, key_count=1)
    proc.start()
    proc.api().create(connection_spec())
    proc.stop()
    key_file = proc.data_dir / "secret.key"
    key_file.write_bytes(Fernet.generate_key())
    result = run_cli("--data-dir", str(proc.data_dir), env={"DBCS_API_KEYS": "k"})
    assert result.returncode == 2
    assert "cannot be decrypted with secret.key" in result.stderr


def test_many_creates_are_each_stored_once(storage_server):
    # How fast creates are is a figure of `make bench` (the server's time per request), not asserted here.
    client = storage_server.api()
    for i in range(300):
        assert client.post("/connections", json=connection_spec(f"bulk-{i}")).status_code == 201
    creates = [e for e in storage_server.log_entries() if e["method"] == "POST" and e["path"] == "/api/v1/connections"]
    assert [e["status"] for e in creates[-300:]] == [201] * 300
    names = [c["name"] for c in client.get("/connections").json()]
    assert sorted(names) == sorted(f"bulk-{i}" for i in range(300))


def test_default_data_dir_follows_xdg(tmp_path):
    from dbcs_server.settings import default_data_dir

    os.environ["XDG_DATA_HOME"] = str(tmp_path)
    try:
        assert default_data_dir() == tmp_path / "dbcs-server"
    finally:
        del os.environ["XDG_DATA_HOME"]


def test_keys_from_option_and_environment_both_work(tmp_path):
    proc = ServerProcess(tmp_path, key_count=1, args=["--api-key", "from-option"])
    proc.start()
    try:
        assert proc.api("from-option", session=False).get("/user").status_code == 200
        assert proc.api(proc.key, session=False).get("/user").status_code == 200
    finally:
        proc.stop()


def test_request_log_has_five_keys_and_no_secret(server, api):
    password = "pw-" + secrets.token_urlsafe(16)
    query_value = "q-" + secrets.token_hex(8)
    created = api.create(connection_spec(password=password))
    api.get(f"/connections/{created['id']}", params={"token": query_value})
    api.post(f"/connections/{created['id']}/schemas", params={"database": query_value}, json="x")
    api.get("/no-such-route")
    api.session.headers.pop("X-API-Key")
    api.get("/connections")  # unauthenticated
    entries = [e for e in server.log_entries() if created["id"] in e["path"] or e["path"] in
               ("/api/v1/no-such-route",)]
    assert len(entries) >= 3
    for entry in server.log_entries():
        assert set(entry) == {"time", "method", "path", "status", "duration_ms"}
        assert isinstance(entry["status"], int) and isinstance(entry["duration_ms"], (int, float))
        assert "?" not in entry["path"]
        datetime.datetime.fromisoformat(entry["time"])
    text = server.request_log.read_text()
    for secret in (password, query_value, api.key):
        assert secret not in text
    statuses = {(e["path"], e["status"]) for e in server.log_entries()}
    assert ("/api/v1/no-such-route", 404) in statuses
    assert ("/api/v1/connections", 401) in statuses


def test_stderr_never_carries_secrets_or_query_strings(server, api):
    password = "pw-" + secrets.token_urlsafe(16)
    query_value = "q-" + secrets.token_hex(8)
    created = api.create(connection_spec(password=password, port=1))
    api.post(f"/connections/{created['id']}/ping")
    api.get("/connections", params={"secret": query_value})
    log = server.stderr()
    assert "listening on http://127.0.0.1:" in log  # it is the right file
    for secret in (password, query_value, api.key):
        assert secret not in log
