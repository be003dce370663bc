"""2.x routes that reach a connection's service, against the real PostgreSQL and MariaDB: databases
with system ones flagged, database-scoped tables and schemas, testing unsaved connections, and
what the other kinds answer (files: a real check of basePath; s3: the bucket listed on a real
S3-compatible server, moto_server; snowflake: not tested yet)."""

import secrets
import time
from urllib.parse import quote

import pytest
from psycopg import sql

from server_helpers import nested

KINDS = ["postgresql", "mysql"]
CLOSED_PORT = 1  # nothing listens on 127.0.0.1:1: the login is refused at once


def spec_for(databases, kind, **overrides):
    return nested(databases.pg_spec(**overrides) if kind == "postgresql" else databases.my_spec(**overrides))


# -- databases ------------------------------------------------------------------------------


def test_postgresql_databases_include_system_ones_flagged(api2, databases, fresh_db):
    with databases.pg(fresh_db) as conn:
        conn.execute("CREATE SCHEMA sales")
    created = api2.create(spec_for(databases, "postgresql"))
    response = api2.get(f"/connections/{created['id']}/databases")
    assert response.status_code == 200
    by_name = {d["name"]: d for d in response.json()}
    fresh = by_name[fresh_db]
    assert (fresh["isSystem"], "systemReason" in fresh) == (False, False)
    schemas = {s["name"]: s for s in fresh["schemas"]}
    assert schemas["sales"] == {"name": "sales", "isSystem": False}
    assert schemas["public"] == {"name": "public", "isSystem": False}
    assert schemas["pg_catalog"] == {"name": "pg_catalog", "isSystem": True, "systemReason": "PostgreSQL system catalog"}
    assert schemas["information_schema"]["isSystem"] is True
    for template in ("template0", "template1"):
        assert by_name[template]["isSystem"] is True
        assert by_name[template]["systemReason"] == "PostgreSQL template database"
    assert by_name["template0"]["schemas"] == []  # no connections allowed: its schemas are unknown
    assert [d["name"] for d in response.json()] == sorted(by_name)


def test_mysql_databases_include_system_ones_flagged(api2, databases, fresh_db):
    created = api2.create(spec_for(databases, "mysql"))
    response = api2.get(f"/connections/{created['id']}/databases")
    assert response.status_code == 200
    by_name = {d["name"]: d for d in response.json()}
    assert by_name[fresh_db] == {"name": fresh_db, "isSystem": False, "schemas": []}
    for system in ("information_schema", "performance_schema", "mysql"):
        assert by_name[system]["isSystem"] is True
        assert by_name[system]["systemReason"].startswith("MySQL system database")


# -- tables ---------------------------------------------------------------------------------


@pytest.fixture
def pg_tables(databases, fresh_db):
    with databases.pg(fresh_db) as conn:
        conn.execute("CREATE SCHEMA sales")
        conn.execute("CREATE SCHEMA hr")
        conn.execute("CREATE TABLE users (id int)")
        conn.execute("CREATE TABLE sales.orders (id int)")
        conn.execute("CREATE TABLE hr.staff (id int)")
        conn.execute("CREATE VIEW user_view AS SELECT * FROM users")
    return fresh_db


@pytest.mark.parametrize("query, expected", [
    ([], ["hr.staff", "sales.orders", "users"]),
    ([("schemas", "sales,public")], ["sales.orders", "users"]),
    ([("schemas", "sales"), ("schemas", "public")], ["sales.orders", "users"]),  # repeated, as the web client sends
    ([("schemas", " hr , "), ("include_system", "false")], ["hr.staff"]),
    ([("schemas", "nothing")], []),
])
def test_postgresql_tables_of_a_database_by_schema(api2, databases, pg_tables, query, expected):
    created = api2.create(spec_for(databases, "postgresql"))  # its own database is another one
    response = api2.get(f"/connections/{created['id']}/databases/{pg_tables}/tables", params=query)
    assert response.status_code == 200, response.text
    assert response.json() == expected


def test_include_system_adds_the_tables_of_system_schemas(api2, databases, pg_tables):
    created = api2.create(spec_for(databases, "postgresql"))
    response = api2.get(f"/connections/{created['id']}/databases/{pg_tables}/tables",
                        params={"include_system": "true", "schemas": "pg_catalog"})
    assert response.status_code == 200
    assert "pg_catalog.pg_class" in response.json()
    plain = api2.get(f"/connections/{created['id']}/databases/{pg_tables}/tables", params={"schemas": "pg_catalog"})
    assert plain.json() == []


def test_mysql_tables_of_a_database(api2, databases, fresh_db):
    with databases.mysql(fresh_db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE users (id int)")
        cur.execute("CREATE TABLE orders (id int)")
    created = api2.create(spec_for(databases, "mysql"))  # no database of its own
    response = api2.get(f"/connections/{created['id']}/databases/{fresh_db}/tables", params={"schemas": "ignored"})
    assert response.status_code == 200
    assert response.json() == ["orders", "users"]


@pytest.mark.parametrize("kind", KINDS)
def test_tables_of_a_database_that_does_not_exist_is_404(api2, databases, kind):
    created = api2.create(spec_for(databases, kind))
    missing = "dbcs_missing_" + secrets.token_hex(4)
    response = api2.get(f"/connections/{created['id']}/databases/{missing}/tables")
    assert response.status_code == 404
    assert response.json() == {"error": f"database '{missing}' not found", "code": "NOT_FOUND"}


@pytest.mark.parametrize("kind", KINDS)
def test_tables_of_an_unreachable_server_is_503(api2, databases, kind):
    created = api2.create(spec_for(databases, kind, port=CLOSED_PORT))
    response = api2.get(f"/connections/{created['id']}/databases/x/tables")
    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"


# -- schemas --------------------------------------------------------------------------------


@pytest.mark.parametrize("as_text", [True, False], ids=["text", "json"])
def test_create_schema_in_the_database_of_the_path(api2, databases, fresh_db, as_text):
    created = api2.create(spec_for(databases, "postgresql"))
    name = 'x"; DROP SCHEMA public; --'
    url = f"/connections/{created['id']}/databases/{fresh_db}/schemas"
    if as_text:
        response = api2.post(url, data=name.encode(), headers={"Content-Type": "text/plain"})
    else:
        response = api2.post(url, json=name)
    assert response.status_code == 201, response.text
    assert response.json() == {"status": "success"}
    assert {name, "public"} <= databases.pg_schemas(fresh_db)
    again = api2.post(url, json=name)
    assert again.status_code == 409
    assert again.json() == {"error": f"schema '{name}' already exists in database '{fresh_db}'", "code": "CONFLICT"}


def test_a_database_name_with_a_slash_is_one_path_segment(api2, databases):
    odd = "dbcs_t_" + secrets.token_hex(3) + "/odd"
    with databases.pg() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(odd)))
    try:
        created = api2.create(spec_for(databases, "postgresql"))
        response = api2.post(f"/connections/{created['id']}/databases/{quote(odd, safe='')}/schemas", json="s")
        assert response.status_code == 201, response.text
        assert "s" in databases.pg_schemas(odd)
        tables = api2.get(f"/connections/{created['id']}/databases/{quote(odd, safe='')}/tables")
        assert tables.status_code == 200 and tables.json() == []
    finally:
        with databases.pg() as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(odd)))


def test_create_schema_in_a_database_that_does_not_exist_is_404(api2, databases):
    created = api2.create(spec_for(databases, "postgresql"))
    response = api2.post(f"/connections/{created['id']}/databases/dbcs_missing_x/schemas", json="s")
    assert response.status_code == 404
    assert response.json() == {"error": "database 'dbcs_missing_x' not found", "code": "NOT_FOUND"}


def test_create_schema_is_400_for_mysql(api2, databases, fresh_db):
    created = api2.create(spec_for(databases, "mysql"))
    response = api2.post(f"/connections/{created['id']}/databases/{fresh_db}/schemas", json="s")
    assert response.status_code == 400
    assert response.json() == {"error": "schemas can only be created in postgresql connections", "code": "BAD_REQUEST"}


# -- testing unsaved connections -------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_an_unsaved_connection_is_tested_and_not_stored(api2, databases, kind):
    body = spec_for(databases, kind)
    del body["name"]  # not needed to test
    response = api2.post("/connections/test", json=body)
    assert response.status_code == 200
    assert response.json() == {"ping": "ok"}
    assert api2.get("/connections").json()["total"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_an_unsaved_connection_with_a_wrong_password_fails_without_echoing_it(api2, server2, databases, kind):
    wrong = "wrong-" + secrets.token_hex(8)
    response = api2.post("/connections/test", json=spec_for(databases, kind, password=wrong))
    assert response.status_code == 503
    assert response.json()["ping"] == "failed"
    assert wrong not in response.text and wrong not in server2.stderr()


def test_an_unsaved_connection_in_the_flat_form_is_tested(api2, databases):
    flat = {"type": "postgresql", "host": databases.pg_host, "port": databases.pg_port, "username": databases.pg_user,
            "password": databases.pg_password, "defaultDatabase": databases.pg_database}
    assert api2.post("/connections/test", json=flat).json() == {"ping": "ok"}


def test_an_invalid_unsaved_connection_is_400(api2):
    response = api2.post("/connections/test", json={"type": "files", "spec": {"files": {"basePath": "rel"}}})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


# -- the other kinds ------------------------------------------------------------------------


def files(base_path):
    return {"name": "files-" + secrets.token_hex(3), "type": "files", "spec": {"files": {"basePath": str(base_path)}}}


def test_files_ping_is_ok_for_a_writable_directory(api2, tmp_path):
    created = api2.create(files(tmp_path))
    assert api2.post(f"/connections/{created['id']}/ping").json() == {"ping": "ok"}
    assert list(tmp_path.iterdir()) == []  # the test write leaves nothing behind


@pytest.mark.parametrize("where, error", [
    ("missing", "basePath {path} does not exist"),
    ("file", "basePath {path} is not a directory"),
    ("proc", "basePath {path} is not writable by the server: "),  # not even root can write there
])
def test_files_ping_fails_with_the_reason(api2, tmp_path, where, error):
    path = {"missing": tmp_path / "nope", "file": tmp_path / "a-file", "proc": "/proc"}[where]
    if where == "file":
        path.write_text("x")
    for answer in (api2.post(f"/connections/{api2.create(files(path))['id']}/ping"),
                   api2.post("/connections/test", json=files(path))):
        assert answer.status_code == 503
        assert answer.json()["ping"] == "failed"
        assert answer.json()["error"].startswith(error.format(path=path))


def ping_both_ways(api2, body):
    """The saved connection's ping and the unsaved test of the same body: both answers."""
    created = api2.create(body)
    return [api2.post(f"/connections/{created['id']}/ping"), api2.post("/connections/test", json=body)]


def test_s3_ping_lists_the_bucket_of_its_scope(api2, s3):
    # A prefix without "/": moto 5.0's signature check encodes "/" in a query string unlike botocore.
    for body in (s3.connection(), s3.connection(scope={"bucket": s3.bucket, "prefix": "somewhere"}),
                 s3.connection(scope={})):  # no bucket: the buckets the key sees are listed
        for answer in ping_both_ways(api2, body):
            assert answer.json() == {"ping": "ok"}, answer.text


@pytest.mark.parametrize("case, error", [
    ("missing bucket", "bucket 'dbcs-missing-{token}' does not exist"),
    ("wrong secret", "access denied to bucket '{bucket}' (SignatureDoesNotMatch): check the credentials and the"
                     " bucket's policy"),
    ("unknown key", "access denied to bucket '{bucket}' (InvalidAccessKeyId): check the credentials and the"
                    " bucket's policy"),
    ("half a key", "credentials: accessKey and secretKey go together (give both, or neither for anonymous"
                   " requests)"),
])
def test_s3_ping_fails_with_the_reason_and_no_secret(api2, s3, case, error):
    token = secrets.token_hex(4)
    secret = "wrong-secret-" + token
    body = {
        "missing bucket": lambda: s3.connection(scope={"bucket": f"dbcs-missing-{token}"}),
        "wrong secret": lambda: s3.connection(secretKey=secret),
        "unknown key": lambda: s3.connection(accessKey="AKIA" + token.upper(), secretKey=secret),
        "half a key": lambda: s3.connection(secretKey=None),
    }[case]()
    for answer in ping_both_ways(api2, body):
        assert answer.status_code == 503
        assert answer.json() == {"ping": "failed", "error": error.format(token=token, bucket=s3.bucket)}


def test_s3_ping_of_an_unreachable_endpoint_fails_at_once(api2, s3, closed):
    body = s3.connection()
    body["spec"]["s3"]["endpoint"] = f"http://127.0.0.1:{closed}"
    started = time.monotonic()
    for answer in ping_both_ways(api2, body):
        assert answer.status_code == 503
        assert answer.json()["error"].startswith(f"endpoint http://127.0.0.1:{closed} is unreachable: ")
    assert time.monotonic() - started < 10  # one attempt each, no retries


def test_snowflake_ping_is_a_failed_result_saying_so(api2):
    body = {"type": "snowflake", "spec": {"snowflake": {"account": "a", "username": "u", "password": "sf-123"}}}
    for answer in ping_both_ways(api2, {**body, "name": "sf"}):
        assert answer.status_code == 503
        assert answer.json() == {"ping": "failed", "error": "the local server does not test snowflake connections yet"}


@pytest.mark.parametrize("method, path", [
    ("GET", "/connections/{id}/databases"),
    ("POST", "/connections/{id}/databases"),
    ("GET", "/connections/{id}/databases/x/tables"),
    ("POST", "/connections/{id}/databases/x/schemas"),
])
@pytest.mark.parametrize("kind", ["files", "s3", "snowflake"])
def test_database_routes_of_other_kinds_are_400(api2, tmp_path, method, path, kind):
    bodies = {
        "files": files(tmp_path),
        "s3": {"name": "s3", "type": "s3", "spec": {"s3": {"region": "r"}}},
        "snowflake": {"name": "sf", "type": "snowflake",
                      "spec": {"snowflake": {"account": "a", "username": "u", "password": "p"}}},
    }
    created = api2.create(bodies[kind])
    response = api2.request(method, path.replace("{id}", created["id"]), json="sales")
    assert response.status_code == 400
    expected = (
        "schemas can only be created in postgresql connections" if path.endswith("/schemas") else
        f"a {kind} connection has no databases: databases, tables and schemas exist in mysql and postgresql"
        " connections only"
    )
    assert response.json() == {"error": expected, "code": "BAD_REQUEST"}


def test_ping_of_a_2x_connection_without_a_default_database(api2, databases):
    body = spec_for(databases, "postgresql")
    del body["spec"]["database"]["database"]  # PostgreSQL then logs in to the postgres database
    created = api2.create(body)
    assert api2.post(f"/connections/{created['id']}/ping").json() == {"ping": "ok"}
