"""Storage layouts: a data directory written by the first layout (a column per field) opens with
every connection and secret kept, in both dialects; a layout from the future is refused."""

import base64
import json
import secrets
import sqlite3

import pytest

from dbcs_server.secrets_box import SecretBox, load_or_create_key
from server_helpers import ServerProcess, connection_spec, items, nested
from test_storage import all_bytes, run_cli

# The first layout, as its store.py created it (user_version stayed 0).
FIRST_LAYOUT = """
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
FIRST_INSERT = (
    "INSERT INTO connections (owner, id, name, type, host, port, username, password, database, schema, ssl,"
    " ssl_client_key, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def owner_of(key: str) -> str:
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()


def first_layout_directory(data_dir, keys):
    """A data directory as the first layout's server left it: secret.key and connections.sqlite3."""
    data_dir.mkdir(mode=0o700)
    box = SecretBox(load_or_create_key(data_dir))
    client_key = base64.b64encode(secrets.token_bytes(40)).decode()
    rows = {  # key -> the v1 objects a GET answers for them
        keys[0]: [
            {"id": "conn_" + "1" * 27, "name": "shop", "type": "mysql", "host": "my.example", "port": 3306,
             "username": "shop", "password": "pw-" + secrets.token_hex(6), "database": "", "created": 1700000001},
            {"id": "conn_" + "2" * 27, "name": "warehouse", "type": "postgresql", "host": "pg.example", "port": 5432,
             "username": "wh", "password": "", "database": "analytics", "schema": "sales", "created": 1700000002,
             "ssl": {"mode": "verify-full", "ca": "Q0E=", "client_cert": "Q0VSVA==", "client_key": client_key}},
        ],
        keys[1]: [
            {"id": "conn_" + "3" * 27, "name": "shop", "type": "postgresql", "host": "other.example", "port": 6432,
             "username": "o", "password": "pw-" + secrets.token_hex(6), "database": "o", "created": 1700000003,
             "ssl": {"mode": "require"}},
        ],
    }
    db = sqlite3.connect(data_dir / "connections.sqlite3")
    db.executescript(FIRST_LAYOUT)
    for key, objects in rows.items():
        for c in objects:
            ssl = dict(c["ssl"]) if "ssl" in c else None
            sealed_key = box.seal(ssl.pop("client_key")) if ssl and "client_key" in ssl else None
            db.execute(FIRST_INSERT, (
                owner_of(key), c["id"], c["name"], c["type"], c["host"], c["port"], c["username"], box.seal(c["password"]),
                c["database"], c.get("schema"), json.dumps(ssl) if ssl else None, sealed_key, c["created"],
            ))
    db.commit()
    db.close()
    return rows, client_key


@pytest.fixture
def old_directory(tmp_path):
    keys = ["key-" + secrets.token_hex(8) for _i in range(2)]
    rows, client_key = first_layout_directory(tmp_path / "data", keys)
    return tmp_path, keys, rows, client_key


def started(workdir, keys, api_version):
    proc = ServerProcess(workdir, key_count=0, api_version=api_version)
    proc.keys = keys
    proc.start()
    return proc


def test_the_first_layout_opens_with_every_connection_and_secret_in_v1(old_directory):
    workdir, keys, rows, client_key = old_directory
    proc = started(workdir, keys, 1)
    try:
        for key, expected in rows.items():
            assert proc.api(key).get("/connections").json() == expected
        assert "ERROR" not in proc.stderr()
    finally:
        proc.stop()
    db = sqlite3.connect(proc.data_dir / "connections.sqlite3")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3
        assert {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == {
            "connections", "stream_configs", "stream_config_connections", "stream_runs"}
        columns = [row[1] for row in db.execute("PRAGMA table_info(connections)")]
        assert columns == ["id", "owner", "name", "kind", "created", "document", "secrets"]
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
    secrets_in_clear = [c["password"].encode() for objects in rows.values() for c in objects if c["password"]]
    for path, content in all_bytes(proc.data_dir).items():
        for needle in secrets_in_clear + [client_key.encode()]:
            assert needle not in content, f"a secret in clear in {path}"


def test_the_first_layout_opens_in_2x_and_stays_migrated(old_directory):
    workdir, keys, rows, client_key = old_directory
    proc = started(workdir, keys, 2)
    try:
        listed = items(proc.api(keys[0], session=False).get("/connections").json())
        warehouse = next(c for c in listed if c["name"] == "warehouse")
        assert warehouse == {
            "id": "conn_" + "2" * 27, "name": "warehouse", "type": "postgresql", "created": 1700000002,
            "spec": {"database": {"host": "pg.example", "port": 5432, "username": "wh", "password": "",
                                  "database": "analytics"}},
            "ssl": {"mode": "verify-full", "ca": "Q0E=", "client_cert": "Q0VSVA==", "client_key": client_key},
        }  # 2.x has no connection-level schema: kept in the store, not shown
        shop = next(c for c in listed if c["name"] == "shop")
        assert shop["spec"]["database"] == {"host": "my.example", "port": 3306, "username": "shop",
                                            "password": rows[keys[0]][0]["password"]}
        proc.restart()  # the second start finds layout 3: nothing to migrate
        assert len(items(proc.api(keys[0], session=False).get("/connections").json())) == 2
    finally:
        proc.stop()
    proc = started(workdir, keys, 1)  # and v1 still reads the schema 2.x did not show
    try:
        assert proc.api(keys[0]).get("/connections").json() == rows[keys[0]]
    finally:
        proc.stop()


def test_a_layout_from_a_newer_server_is_refused(tmp_path):
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    db = sqlite3.connect(data / "connections.sqlite3")
    db.execute("PRAGMA user_version = 99")
    db.close()
    result = run_cli("--data-dir", str(data), env={"DBCS_API_KEYS": "k"})
    assert result.returncode == 2
    assert "has storage layout 99; this dbcs-server knows layouts up to 3" in result.stderr


def test_a_wrong_key_file_stops_the_migration_and_changes_nothing(old_directory):
    from cryptography.fernet import Fernet

    workdir, _keys, _rows, _client_key = old_directory
    data = workdir / "data"
    (data / "secret.key").write_bytes(Fernet.generate_key())
    result = run_cli("--data-dir", str(data), env={"DBCS_API_KEYS": "k"})
    assert result.returncode == 2
    assert "cannot be decrypted with secret.key" in result.stderr
    db = sqlite3.connect(data / "connections.sqlite3")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
        assert "password" in [row[1] for row in db.execute("PRAGMA table_info(connections)")]
        assert db.execute("SELECT count(*) FROM connections").fetchone()[0] == 3
    finally:
        db.close()


def test_the_second_layout_gets_the_stream_tables_and_keeps_its_connections(tmp_path):
    """A data directory of layout 2 (connections only, before stream configurations) is migrated to layout 3."""
    proc = ServerProcess(tmp_path, key_count=1, api_version=2)
    proc.start()
    api = proc.api(proc.key, session=False)
    created = api.create(nested(connection_spec("kept")))
    before = api.get("/connections").json()
    proc.stop()
    db = sqlite3.connect(proc.data_dir / "connections.sqlite3")
    for table in ("stream_runs", "stream_config_connections", "stream_configs"):
        db.execute(f"DROP TABLE {table}")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    proc.start()
    try:
        api = proc.api(proc.key, session=False)
        assert api.get("/connections").json() == before
        assert api.get("/stream-configs").json() == {"items": [], "total": 0, "filtered": 0}
        assert api.get(f"/connections/{created['id']}").status_code == 200
    finally:
        proc.stop()
    db = sqlite3.connect(proc.data_dir / "connections.sqlite3")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()
