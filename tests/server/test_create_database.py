"""POST /connections/{id}/databases in both dialects, against the real PostgreSQL and MariaDB: the
name is data (quoted as an identifier), 409 when it exists, 400 for a bad name, 503 unreachable."""

import secrets

import psycopg
import pytest
from psycopg import sql

from server_helpers import nested

KINDS = ["postgresql", "mysql"]
CLOSED_PORT = 1  # nothing listens on 127.0.0.1:1: the login is refused at once
HOSTILE = ['x"; DROP DATABASE postgres; --', "it's", "a`b", "with space", "Ünïcödé", "UPPER", "semi;colon"]


@pytest.fixture(params=[1, 2], ids=["v1", "v2"])
def flavour(request):
    """(client, wire): a v1 or a 2.x client with a fresh key, and how to write a connection for it."""
    if request.param == 1:
        return request.getfixturevalue("api"), lambda spec: spec
    return request.getfixturevalue("api2"), nested


@pytest.fixture
def made(databases):
    """Names of databases a test makes; dropped afterwards in both servers."""
    names: list[str] = []
    yield names
    for name in names:
        with databases.pg() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        with databases.mysql() as conn, conn.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS `%s`" % name.replace("`", "``"))


def exists(databases, kind, name):
    if kind == "postgresql":
        with databases.pg() as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    with databases.mysql() as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (name,))
        return cur.fetchone() is not None


def connection(flavour, databases, kind, **overrides):
    client, wire = flavour
    spec = databases.pg_spec(**overrides) if kind == "postgresql" else databases.my_spec(**overrides)
    return client.create(wire(spec))["id"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("as_text", [True, False], ids=["text", "json"])
def test_create_database_then_409(flavour, databases, made, kind, as_text):
    client, _wire = flavour
    connection_id = connection(flavour, databases, kind)
    name = "dbcs_new_" + secrets.token_hex(4)
    made.append(name)
    if as_text:  # what the vendor's web client sends
        response = client.post(f"/connections/{connection_id}/databases", data=name.encode(),
                               headers={"Content-Type": "text/plain"})
    else:
        response = client.post(f"/connections/{connection_id}/databases", json=name)
    assert response.status_code == 201, response.text
    assert response.json() == {"status": "success"}
    assert exists(databases, kind, name)
    again = client.post(f"/connections/{connection_id}/databases", json=name)
    assert again.status_code == 409
    assert again.json()["error"] == f"database '{name}' already exists"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_name_makes_exactly_that_database(flavour, databases, made, kind, name):
    client, _wire = flavour
    connection_id = connection(flavour, databases, kind)
    name = f"{name}-{secrets.token_hex(2)}"
    made.append(name)
    response = client.post(f"/connections/{connection_id}/databases", data=name.encode(),
                           headers={"Content-Type": "text/plain; charset=utf-8"})
    assert response.status_code == 201, response.text
    assert exists(databases, kind, name)
    assert exists(databases, kind, "postgres" if kind == "postgresql" else "mysql")


@pytest.mark.parametrize("kind, body, message", [
    ("postgresql", b"", "database name must not be empty"),
    ("mysql", b"", "database name must not be empty"),
    ("postgresql", b"nul\x00byte", "database name must not contain NUL characters"),
    ("postgresql", ("e" * 64).encode(), "database name must be at most 63 bytes (UTF-8)"),
    ("postgresql", ("é" * 32).encode(), "database name must be at most 63 bytes (UTF-8)"),
    ("mysql", ("m" * 65).encode(), "database name must be at most 64 characters"),
    ("mysql", b"trailing space ", "Incorrect database name 'trailing space '"),
    ("postgresql", b"\xff\xfe", "the database name must be UTF-8 text"),
])
def test_a_bad_name_is_400(flavour, databases, kind, body, message):
    client, _wire = flavour
    connection_id = connection(flavour, databases, kind)
    response = client.post(f"/connections/{connection_id}/databases", data=body,
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert response.json()["error"] == message


@pytest.mark.parametrize("kind", KINDS)
def test_an_unreachable_server_is_503(flavour, databases, kind):
    client, _wire = flavour
    connection_id = connection(flavour, databases, kind, port=CLOSED_PORT)
    response = client.post(f"/connections/{connection_id}/databases", json="dbcs_never")
    assert response.status_code == 503
    assert "refused" in response.json()["error"].lower()


def test_another_keys_connection_is_404_and_no_database_is_made(flavour, databases, request):
    client, wire = flavour
    other = request.getfixturevalue("other_api" if wire is not nested else "other_api2")
    theirs = other.create(wire(databases.pg_spec()))
    name = "dbcs_iso_" + secrets.token_hex(4)
    response = client.post(f"/connections/{theirs['id']}/databases", json=name)
    assert response.status_code == 404
    assert not exists(databases, "postgresql", name)


def test_a_user_without_the_privilege_is_refused_with_400(flavour, databases, made):
    client, wire = flavour
    user, password = "dbcs_weak_" + secrets.token_hex(3), secrets.token_hex(8)
    with databases.pg() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))
    try:
        connection_id = client.create(wire(databases.pg_spec(username=user, password=password)))["id"]
        name = "dbcs_denied_" + secrets.token_hex(3)
        made.append(name)
        response = client.post(f"/connections/{connection_id}/databases", json=name)
        assert response.status_code == 400
        assert "permission denied" in response.json()["error"]
        assert password not in response.text
    finally:
        with databases.pg() as conn:
            try:
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))
            except psycopg.Error:
                pass
