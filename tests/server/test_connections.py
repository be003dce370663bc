"""Connection records: create, list, get, replace, delete, clone, and their validation."""

import re
import threading
import time

import pytest

from dbcs_server import ksuid
from server_helpers import connection_spec

ID_RE = re.compile(r"^conn_[0-9A-Za-z]{27}$")


def test_create_answers_201_with_the_object_without_password(api):
    spec = connection_spec(schema="sales", ssl={"mode": "require", "ca": "Q0E=", "client_key": "S0VZ"})
    before = int(time.time())
    response = api.post("/connections", json=spec)
    assert response.status_code == 201
    body = response.json()
    assert ID_RE.match(body["id"])
    assert before <= body["created"] <= int(time.time())
    assert "password" not in body
    assert body["ssl"] == {"mode": "require", "ca": "Q0E="}  # no client_key in write answers
    expected = {k: v for k, v in spec.items() if k not in ("password", "ssl")}
    assert {k: body[k] for k in expected} == expected


def test_id_is_a_real_ksuid_with_the_creation_time(api):
    body = api.create(connection_spec())
    raw = ksuid.decode(body["id"].removeprefix("conn_"))
    assert len(raw) == 20
    assert abs(ksuid.timestamp(body["id"].removeprefix("conn_")) - body["created"]) <= 1
    assert ksuid.encode(raw) == body["id"].removeprefix("conn_")


def test_ksuid_encoding_is_fixed_width_base62():
    assert ksuid.encode(bytes(20)) == "0" * 27
    assert ksuid.encode(b"\xff" * 20) == "aWgEPTl1tmebfsQzFP4bxwgy80V"  # the reference maximum
    assert len({ksuid.new() for _i in range(1000)}) == 1000


def test_get_returns_the_full_object_with_password(api):
    spec = connection_spec(ssl={"mode": "verify-full", "ca": "Q0E=", "client_cert": "Q0VSVA==", "client_key": "S0VZ"})
    created = api.create(spec)
    response = api.get(f"/connections/{created['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["password"] == spec["password"]
    assert body["ssl"] == spec["ssl"]
    assert body["id"] == created["id"] and body["created"] == created["created"]
    assert "schema" not in body


def test_list_returns_full_objects_in_creation_order(api):
    first = api.create(connection_spec("first"))
    second = api.create(connection_spec("second", type="mysql", database=""))
    response = api.get("/connections")
    assert response.status_code == 200
    items = response.json()
    assert [item["id"] for item in items] == [first["id"], second["id"]]
    assert items[1]["type"] == "mysql" and items[1]["database"] == ""
    assert all("password" in item and "username" in item for item in items)


def test_list_is_empty_for_a_new_key(api):
    assert api.get("/connections").json() == []


def test_type_is_accepted_in_any_case_and_stored_lowercase(api):
    created = api.create(connection_spec(type="PostgreSQL"))
    assert created["type"] == "postgresql"
    created = api.create(connection_spec(type="MYSQL", database=""))
    assert api.get(f"/connections/{created['id']}").json()["type"] == "mysql"


def test_ignored_fields_from_the_web_client_are_accepted_and_dropped(api):
    spec = connection_spec(id="conn_fake", created=1, databasesInfo=[{"name": "x"}], status="ok", cloud_provider="aws")
    created = api.create(spec)
    assert created["id"] != "conn_fake" and created["created"] != 1
    body = api.get(f"/connections/{created['id']}").json()
    assert not {"databasesInfo", "status", "cloud_provider"} & set(body)


def test_empty_schema_means_none(api):
    created = api.create(connection_spec(schema=""))
    assert "schema" not in api.get(f"/connections/{created['id']}").json()


def test_empty_password_is_allowed(api):
    created = api.create(connection_spec(password=""))
    assert api.get(f"/connections/{created['id']}").json()["password"] == ""


def test_get_unknown_id_is_404(api):
    response = api.get("/connections/conn_" + "0" * 27)
    assert response.status_code == 404
    assert response.json() == {"error": f"connection 'conn_{'0' * 27}' not found"}


def test_put_replaces_every_field_and_keeps_id_and_created(api):
    created = api.create(connection_spec(schema="old", ssl={"mode": "require"}))
    new = connection_spec("renamed", type="mysql", host="db.example", port=3306, database="")
    response = api.put(f"/connections/{created['id']}", json=new)
    assert response.status_code == 200
    body = response.json()
    assert "password" not in body
    assert body["id"] == created["id"] and body["created"] == created["created"]
    stored = api.get(f"/connections/{created['id']}").json()
    assert {k: stored[k] for k in new} == new
    assert "schema" not in stored and "ssl" not in stored  # full replace drops what was not sent


@pytest.mark.parametrize("field", ["name", "type", "host", "port", "username", "password", "database"])
def test_put_without_a_required_field_is_400_naming_it(api, field):
    created = api.create(connection_spec())
    spec = connection_spec()
    del spec[field]
    response = api.put(f"/connections/{created['id']}", json=spec)
    assert response.status_code == 400
    assert response.json() == {"error": f"{field} is required"}


def test_put_unknown_id_is_404(api):
    response = api.put("/connections/conn_" + "1" * 27, json=connection_spec())
    assert response.status_code == 404
    assert "not found" in response.json()["error"]


def test_put_to_a_taken_name_is_409_and_to_its_own_name_is_fine(api):
    api.create(connection_spec("taken"))
    mine = api.create(connection_spec("mine"))
    response = api.put(f"/connections/{mine['id']}", json=connection_spec("taken"))
    assert response.status_code == 409
    assert response.json() == {"error": "a connection named 'taken' already exists"}
    assert api.put(f"/connections/{mine['id']}", json=connection_spec("mine")).status_code == 200


def test_delete_answers_204_with_an_empty_body_then_404(api):
    created = api.create(connection_spec())
    response = api.delete(f"/connections/{created['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert api.get(f"/connections/{created['id']}").status_code == 404
    again = api.delete(f"/connections/{created['id']}")
    assert again.status_code == 404 and "error" in again.json()


def test_duplicate_name_is_409(api):
    api.create(connection_spec("dup"))
    response = api.post("/connections", json=connection_spec("dup"))
    assert response.status_code == 409
    assert response.json() == {"error": "a connection named 'dup' already exists"}


def test_names_are_case_sensitive(api):
    api.create(connection_spec("Prod"))
    assert api.post("/connections", json=connection_spec("prod")).status_code == 201


def test_same_name_under_another_key_is_fine(api, other_api):
    api.create(connection_spec("shared-name"))
    other_api.create(connection_spec("shared-name"))


def test_twenty_concurrent_creates_of_one_name_make_exactly_one(api):
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def create() -> None:
        barrier.wait()
        statuses.append(api.post("/connections", json=connection_spec("race")).status_code)

    threads = [threading.Thread(target=create) for _i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 19
    assert [c["name"] for c in api.get("/connections").json()] == ["race"]


def test_clone_copies_every_field_under_a_new_id_and_name(api):
    spec = connection_spec("orig", schema="s", ssl={"mode": "verify-ca", "ca": "Q0E=", "client_key": "S0VZ"})
    created = api.create(spec)
    response = api.put(f"/connections/{created['id']}/clone")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "created", "name"}
    assert ID_RE.match(body["id"]) and body["id"] != created["id"]
    assert body["name"] == "orig-copy"
    copy = api.get(f"/connections/{body['id']}").json()
    assert copy == {**spec, "id": body["id"], "created": body["created"], "name": "orig-copy"}


def test_clone_names_take_the_first_free_suffix(api):
    created = api.create(connection_spec("db"))
    names = [api.put(f"/connections/{created['id']}/clone").json()["name"] for _i in range(3)]
    assert names == ["db-copy", "db-copy-2", "db-copy-3"]
    api.delete(f"/connections/{api.get('/connections').json()[2]['id']}")  # frees db-copy-2
    assert api.put(f"/connections/{created['id']}/clone").json()["name"] == "db-copy-2"


def test_clone_name_is_cut_to_fit_255_characters(api):
    created = api.create(connection_spec("x" * 255))
    name = api.put(f"/connections/{created['id']}/clone").json()["name"]
    assert name == "x" * 250 + "-copy" and len(name) == 255


def test_clone_unknown_id_is_404(api):
    response = api.put("/connections/conn_" + "2" * 27 + "/clone")
    assert response.status_code == 404 and "error" in response.json()


VALID_SSL = {"mode": "require"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"name": ""}, "name must not be empty"),
        ({"name": "n" * 256}, "name must be at most 255 characters"),
        ({"name": 5}, "name must be a string"),
        ({"type": "oracle"}, "type must be 'mysql' or 'postgresql' (any case)"),
        ({"host": ""}, "host must not be empty"),
        ({"port": 0}, "port must be an integer between 1 and 65535"),
        ({"port": 65536}, "port must be an integer between 1 and 65535"),
        ({"port": True}, "port must be an integer between 1 and 65535"),
        ({"port": "5432"}, "port must be an integer between 1 and 65535"),
        ({"port": 5432.5}, "port must be an integer between 1 and 65535"),
        ({"username": ""}, "username must not be empty"),
        ({"password": None}, "password must be a string"),
        ({"database": ""}, "database must not be empty for postgresql connections"),
        ({"type": "mysql", "database": "", "schema": "s"}, "schema is only supported for postgresql connections"),
        ({"ssl": {"mode": "sometimes"}}, "ssl.mode must be one of 'disabled', 'require', 'verify-ca' or 'verify-full'"),
        ({"ssl": {}}, "ssl.mode is required"),
        ({"ssl": "require"}, "ssl must be an object"),
        ({"ssl": {"mode": "require", "ca": "not base64!"}}, "ssl.ca must be base64 (of the PEM file contents, no line breaks)"),
        ({"ssl": {"mode": "require", "client_key": "QUJD\nRA=="}}, "ssl.client_key must be base64 (of the PEM file contents, no line breaks)"),
        ({"ssl": {"mode": "require", "crl": "x"}}, "unknown field 'ssl.crl'"),
        ({"colour": "blue"}, "unknown field 'colour'"),
    ],
)
def test_validation_errors_are_400_and_name_the_field(api, change, message):
    response = api.post("/connections", json=connection_spec(**change))
    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_every_missing_field_is_named(api):
    response = api.post("/connections", json={"name": "only"})
    assert response.status_code == 400
    assert response.json()["error"] == (
        "type is required; host is required; port is required; username is required;"
        " password is required; database is required"
    )


def test_integral_float_port_is_an_integer(api):
    created = api.create(connection_spec(port=5432.0))
    assert api.get(f"/connections/{created['id']}").json()["port"] == 5432


@pytest.mark.parametrize(
    "body, headers, message",
    [
        (b'{"name": ', {"Content-Type": "application/json"}, "request body is not valid JSON"),
        (b"[1, 2]", {"Content-Type": "application/json"}, "request body must be a JSON object"),
        (b'"text"', {"Content-Type": "application/json"}, "request body must be a JSON object"),
        (b"", {"Content-Type": "application/json"}, "request body is required"),
        (b"name=x", {"Content-Type": "application/x-www-form-urlencoded"},
         "request body must be a JSON object (send it with Content-Type: application/json)"),
    ],
)
def test_malformed_bodies_are_400(api, body, headers, message):
    response = api.post("/connections", data=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_json_without_content_type_is_read_as_json(api):
    import json

    spec = connection_spec()
    response = api.post("/connections", data=json.dumps(spec).encode(), headers={"Content-Type": ""})
    assert response.status_code == 201, response.text


def test_unknown_route_and_wrong_method_use_the_error_shape(api):
    response = api.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}
    response = api.request("PATCH", "/connections")
    assert response.status_code == 405
    assert response.json() == {"error": "method not allowed"}
    assert response.headers["Allow"] == "GET, POST"
    created = api.create(connection_spec())
    response = api.post(f"/connections/{created['id']}")
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET, PUT"


def test_no_answer_ever_has_the_fastapi_detail_shape(api):
    responses = [
        api.post("/connections", json={"port": "x"}),
        api.post("/connections", data=b"{", headers={"Content-Type": "application/json"}),
        api.get("/nothing"),
        api.request("PATCH", "/user"),
    ]
    for response in responses:
        assert set(response.json()) == {"error"}, response.text
        assert response.status_code != 422


def test_a_body_over_the_limit_is_refused_before_it_is_read(api):
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    answer = api.post("/connections", data=big, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json() == {"error": "request body too large: the limit is 1048576 bytes"}

    def chunks():  # no Content-Length: the limit holds while the body streams in
        yield b'{"name": "'
        for _i in range(40):
            yield b"y" * 65536
        yield b'"}'

    answer = api.post("/connections", data=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json() == {"error": "request body too large: the limit is 1048576 bytes"}
    assert api.get("/connections").json() == []
