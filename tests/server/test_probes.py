"""Ping, databases, tables and schema creation against the real PostgreSQL and MariaDB."""

import base64
import os
import secrets
import stat
import time

import pytest
from psycopg import sql

from dbcs_server.drivers import Limits, PostgresDriver, ProbeError, S3Driver, pem_files, scrub
from dbcs_server.record import Record

KINDS = ["postgresql", "mysql"]


def spec_for(databases, kind, **overrides):
    return databases.pg_spec(**overrides) if kind == "postgresql" else databases.my_spec(**overrides)


# -- ping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_ping_ok(api, databases, kind):
    created = api.create(spec_for(databases, kind))
    response = api.post(f"/connections/{created['id']}/ping")
    assert response.status_code == 200
    assert response.json() == {"ping": "ok"}


@pytest.mark.parametrize("kind", KINDS)
def test_ping_with_wrong_password_fails_without_echoing_it(api, server, databases, kind):
    wrong = "wrong-" + secrets.token_hex(8)
    created = api.create(spec_for(databases, kind, password=wrong))
    response = api.post(f"/connections/{created['id']}/ping")
    assert response.status_code == 503
    body = response.json()
    assert body["ping"] == "failed"
    expected = "password authentication failed" if kind == "postgresql" else "Access denied"
    assert expected in body["error"]
    assert wrong not in response.text
    assert wrong not in server.stderr()


@pytest.mark.parametrize("kind", KINDS)
def test_a_password_the_driver_echoes_is_scrubbed(api, databases, kind):
    # Both drivers quote the user name in an auth failure: make it carry the password.
    secret = "s3cr3t-" + secrets.token_hex(8)
    created = api.create(spec_for(databases, kind, username=secret, password=secret))
    response = api.post(f"/connections/{created['id']}/ping")
    assert response.status_code == 503
    assert secret not in response.text
    assert "***" in response.json()["error"]


def test_scrub_replaces_every_secret():
    assert scrub("user abc pw abcdef", ["abc", "abcdef"]) == "user *** pw ***"


@pytest.mark.parametrize("kind", KINDS)
def test_ping_to_a_closed_port_fails_fast(api, databases, kind, closed):
    created = api.create(spec_for(databases, kind, port=closed))
    started = time.monotonic()
    response = api.post(f"/connections/{created['id']}/ping")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.json()["ping"] == "failed"
    assert "refused" in response.json()["error"].lower()


@pytest.mark.parametrize("kind", KINDS)
def test_ping_to_a_blackholed_host_fails_within_the_timeout(timeout_server, databases, kind, blackhole):
    client = timeout_server.api()
    created = client.create(spec_for(databases, kind, port=blackhole))
    started = time.monotonic()
    response = client.post(f"/connections/{created['id']}/ping")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["ping"] == "failed"
    assert 0.9 < elapsed < 3.0  # --db-timeout 1 (libpq's minimum is 2 s)
    assert databases.pg_password not in response.text and databases.my_password not in response.text


@pytest.mark.parametrize("kind", KINDS)
def test_ping_to_a_server_that_never_answers_fails_within_the_timeout(timeout_server, databases, kind, silent):
    client = timeout_server.api()
    created = client.create(spec_for(databases, kind, port=silent))
    started = time.monotonic()
    response = client.post(f"/connections/{created['id']}/ping")
    assert time.monotonic() - started < 3.0
    assert response.status_code == 503 and response.json()["ping"] == "failed"


def test_a_hung_database_does_not_block_other_requests(timeout_server, databases, blackhole):
    import threading

    client = timeout_server.api()
    created = client.create(databases.pg_spec(port=blackhole))  # a 2 s wait (libpq's minimum)
    thread = threading.Thread(target=client.post, args=(f"/connections/{created['id']}/ping",))
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert client.get("/health").status_code == 200
    assert client.get("/connections").status_code == 200
    assert time.monotonic() - started < 1.0  # a blocked event loop would make this about 1.8 s
    thread.join()


@pytest.mark.parametrize("kind", KINDS)
def test_ssl_require_against_a_server_without_tls_fails(api, databases, kind):
    created = api.create(spec_for(databases, kind, ssl={"mode": "require"}))
    response = api.post(f"/connections/{created['id']}/ping")
    assert response.status_code == 503
    assert "SSL" in response.json()["error"]


@pytest.mark.parametrize("kind", KINDS)
def test_ssl_disabled_connects_in_clear(api, databases, kind):
    created = api.create(spec_for(databases, kind, ssl={"mode": "disabled"}))
    assert api.post(f"/connections/{created['id']}/ping").json() == {"ping": "ok"}


def test_pem_files_are_private_and_removed():
    pem = b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
    ssl = {"mode": "verify-full", "ca": base64.b64encode(b"CA").decode(), "client_key": base64.b64encode(pem).decode()}
    with pem_files(ssl) as files:
        assert set(files) == {"ca", "client_key"}
        directory = os.path.dirname(files["client_key"])
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(files["client_key"]).st_mode) == 0o600
        with open(files["client_key"], "rb") as f:
            assert f.read() == pem
    assert not os.path.exists(directory)


def test_allow_db_host_refuses_other_hosts_before_any_traffic():
    driver = PostgresDriver("postgresql", ("spec.password",), Limits(1, allowed_hosts=("127.0.0.1",)))
    record = Record("r", "postgresql", {"host": "db.example.com", "port": 5432, "username": "u", "password": "p"})
    with pytest.raises(ProbeError, match="not allowed"):
        driver.ping(record)


@pytest.mark.parametrize("endpoint, host", [("https://minio.example.com:9000", "minio.example.com"),
                                            (None, "s3.eu-west-1.amazonaws.com")])
def test_allow_db_host_refuses_other_s3_endpoints_before_any_traffic(endpoint, host):
    driver = S3Driver("s3", ("spec.credentials.secretKey",), Limits(1, allowed_hosts=("127.0.0.1",)))
    record = Record("r", "s3", {"region": "eu-west-1", "endpoint": endpoint, "scope": {"bucket": "b"}})
    with pytest.raises(ProbeError, match=f"host '{host}' is not allowed"):
        driver.ping(record)


# -- databases ------------------------------------------------------------------------------


def test_postgresql_databases_with_schemas(api, databases, fresh_db):
    with databases.pg(fresh_db) as conn:
        conn.execute("CREATE SCHEMA sales")
    closed = fresh_db + "_closed"
    with databases.pg() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(closed)))
    try:
        created = api.create(databases.pg_spec())
        response = api.get(f"/connections/{created['id']}/databases")
    finally:
        with databases.pg() as conn:
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(closed)))
    assert response.status_code == 200
    by_name = {d["name"]: d for d in response.json()}
    assert by_name[fresh_db] == {"name": fresh_db, "schemas": ["public", "sales"]}
    assert "public" in by_name[databases.pg_database]["schemas"]
    assert not {"template0", "template1", closed} & set(by_name)
    for entry in by_name.values():
        assert not {"pg_catalog", "information_schema", "pg_toast"} & set(entry["schemas"])
        assert not any(s.startswith(("pg_temp_", "pg_toast_temp_")) for s in entry["schemas"])


def test_mysql_databases(api, databases, fresh_db):
    created = api.create(databases.my_spec())
    response = api.get(f"/connections/{created['id']}/databases")
    assert response.status_code == 200
    names = [d["name"] for d in response.json()]
    assert fresh_db in names
    assert names == sorted(names)
    assert all(set(d) == {"name"} for d in response.json())
    assert not {"information_schema", "performance_schema", "mysql", "sys"} & set(names)


@pytest.mark.parametrize("kind", KINDS)
def test_databases_of_an_unreachable_server_is_503(api, databases, kind, closed):
    created = api.create(spec_for(databases, kind, port=closed))
    response = api.get(f"/connections/{created['id']}/databases")
    assert response.status_code == 503
    assert set(response.json()) == {"error"}


# -- tables ---------------------------------------------------------------------------------


def test_postgresql_tables_are_sorted_and_schema_qualified_outside_public(api, databases, fresh_db):
    with databases.pg(fresh_db) as conn:
        conn.execute("CREATE SCHEMA sales")
        conn.execute("CREATE TABLE users (id int)")
        conn.execute("CREATE TABLE accounts (id int)")
        conn.execute("CREATE TABLE sales.orders (id int)")
        conn.execute("CREATE VIEW user_view AS SELECT * FROM users")
    created = api.create(databases.pg_spec(database=fresh_db))
    response = api.get(f"/connections/{created['id']}/tables")
    assert response.status_code == 200
    assert response.json() == ["accounts", "sales.orders", "users"]


def test_mysql_tables_of_the_configured_database(api, databases, fresh_db):
    with databases.mysql(fresh_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id int)")
        cur.execute("CREATE TABLE orders (id int)")
    created = api.create(databases.my_spec(database=fresh_db))
    response = api.get(f"/connections/{created['id']}/tables")
    assert response.status_code == 200
    assert response.json() == ["orders", "users"]


def test_mysql_tables_need_a_database(api, databases):
    created = api.create(databases.my_spec(database=""))
    response = api.get(f"/connections/{created['id']}/tables")
    assert response.status_code == 400
    assert "no database" in response.json()["error"]


@pytest.mark.parametrize("kind", KINDS)
def test_tables_with_wrong_password_is_503_without_it(api, databases, kind):
    wrong = "wrong-" + secrets.token_hex(8)
    created = api.create(spec_for(databases, kind, password=wrong, database="x"))
    response = api.get(f"/connections/{created['id']}/tables")
    assert response.status_code == 503
    assert wrong not in response.text


# -- schemas --------------------------------------------------------------------------------


HOSTILE_NAMES = [
    'x"; DROP SCHEMA public; --',
    "it's",
    'a"b',
    "semi;colon",
    "with space",
    "Ünïcödé",
    "back\\slash",
    "$1",
    "UPPER",
    "a" * 63,
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("as_text", [False, True], ids=["json", "text"])
def test_create_schema_makes_exactly_that_schema(api, databases, fresh_db, name, as_text):
    before = databases.pg_schemas(fresh_db)
    created = api.create(databases.pg_spec(database=fresh_db))
    if as_text:
        response = api.post(f"/connections/{created['id']}/schemas", data=name.encode(),
                            headers={"Content-Type": "text/plain; charset=utf-8"})
    else:
        response = api.post(f"/connections/{created['id']}/schemas", json=name)
    assert response.status_code == 201, response.text
    assert response.json() == {"status": "success"}
    assert databases.pg_schemas(fresh_db) - before == {name}
    assert before <= databases.pg_schemas(fresh_db)  # public and the rest still there


def test_create_schema_twice_is_409(api, databases, fresh_db):
    created = api.create(databases.pg_spec(database=fresh_db))
    assert api.post(f"/connections/{created['id']}/schemas", json="sales").status_code == 201
    response = api.post(f"/connections/{created['id']}/schemas", json="sales")
    assert response.status_code == 409
    assert response.json() == {"error": f"schema 'sales' already exists in database '{fresh_db}'"}


def test_create_schema_in_another_database(api, databases, fresh_db):
    created = api.create(databases.pg_spec())  # its own database is the default one
    response = api.post(f"/connections/{created['id']}/schemas", params={"database": fresh_db}, json="elsewhere")
    assert response.status_code == 201
    assert "elsewhere" in databases.pg_schemas(fresh_db)
    assert "elsewhere" not in databases.pg_schemas(databases.pg_database)


@pytest.mark.parametrize("query, message", [
    ([("database", "a"), ("database", "b")], "database must be given at most once"),
    ([("database", "")], "database must not be empty: leave it out to use the connection's own database"),
])
def test_create_schema_refuses_an_ambiguous_database(api, databases, fresh_db, query, message):
    created = api.create(databases.pg_spec(database=fresh_db))
    response = api.post(f"/connections/{created['id']}/schemas", params=query, json="ambiguous")
    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert "ambiguous" not in databases.pg_schemas(fresh_db)


def test_create_schema_is_400_for_mysql(api, databases):
    created = api.create(databases.my_spec())
    response = api.post(f"/connections/{created['id']}/schemas", json="sales")
    assert response.status_code == 400
    assert response.json() == {"error": "schemas can only be created in postgresql connections"}


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        (b'""', "application/json", "schema name must not be empty"),
        (b"", "text/plain", "schema name must not be empty"),
        (("b" * 64).encode(), "text/plain", "schema name must be at most 63 bytes (UTF-8)"),
        (("é" * 32).encode(), "text/plain", "schema name must be at most 63 bytes (UTF-8)"),
        (b"nul\x00byte", "text/plain", "schema name must not contain NUL characters"),
        (b'{"name": "x"}', "application/json", "the JSON body must be a string; send the schema name as a JSON string (application/json) or as text/plain"),
        (b'"unterminated', "application/json", "request body is not valid JSON; send the schema name as a JSON string (application/json) or as text/plain"),
        (b"\xff\xfe", "text/plain", "the schema name must be UTF-8 text"),
        (b"x", "application/xml", "unsupported content type 'application/xml'; send the schema name as a JSON string (application/json) or as text/plain"),
    ],
)
def test_create_schema_rejects_bad_names_and_bodies(api, databases, fresh_db, body, content_type, message):
    before = databases.pg_schemas(fresh_db)
    created = api.create(databases.pg_spec(database=fresh_db))
    response = api.post(f"/connections/{created['id']}/schemas", data=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert databases.pg_schemas(fresh_db) == before


def test_create_schema_with_a_reserved_name_is_400(api, databases, fresh_db):
    created = api.create(databases.pg_spec(database=fresh_db))
    response = api.post(f"/connections/{created['id']}/schemas", json="pg_mine")
    assert response.status_code == 400
    assert "reserved" in response.json()["error"]


def test_create_schema_on_an_unreachable_server_is_503(api, databases, closed):
    created = api.create(databases.pg_spec(port=closed))
    response = api.post(f"/connections/{created['id']}/schemas", json="sales")
    assert response.status_code == 503
    assert set(response.json()) == {"error"}


def test_the_openapi_document_describes_both_schema_body_forms(server):
    import requests

    document = requests.get(server.url + "/openapi.json", timeout=10).json()
    body = document["paths"]["/api/v1/connections/{id}/schemas"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["type"] == "string"
    assert body["content"]["text/plain"]["schema"]["type"] == "string"
