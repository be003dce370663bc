"""2.x connection records: the nested and the flat create, full replace, the list envelope and
?search=, confirmed deletes, clone, every kind, validation and the error shape."""

import time

import pytest

from server_helpers import connection_spec, nested
from test_connections import ID_RE

FILES = {"name": "exports", "type": "files", "spec": {"files": {"basePath": "/srv/exports"}}}
S3 = {
    "name": "lake", "type": "s3",
    "spec": {"s3": {"region": "eu-central-1", "endpoint": "http://minio.internal:9000",
                    "credentials": {"accessKey": "AKIAEXAMPLE", "secretKey": "s3-secret-key", "sessionToken": "s3-token"},
                    "scope": {"bucket": "raw", "prefix": "shop/"}}},
}
SNOWFLAKE = {
    "name": "dwh", "type": "snowflake",
    "spec": {"snowflake": {"account": "xy12345.eu-central-1", "username": "loader", "password": "sf-password",
                           "database": "ANALYTICS", "schema": "PUBLIC", "warehouse": "LOAD_WH", "role": "LOADER"}},
}


def read(api, connection_id):
    response = api.get(f"/connections/{connection_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_create_answers_201_with_only_id_and_created(api2):
    before = int(time.time())
    response = api2.post("/connections", json=nested(connection_spec()))
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "created"}
    assert ID_RE.match(body["id"]) and before <= body["created"] <= int(time.time())


def test_get_answers_the_nested_object_with_its_password(api2):
    sent = nested(connection_spec(type="PostgreSQL", ssl={"mode": "require", "ca": "Q0E=", "client_key": "S0VZ"}))
    created = api2.create(sent)
    assert read(api2, created["id"]) == {**sent, "type": "postgresql", **created}


def test_the_flat_form_of_the_vendor_docs_is_stored_nested(api2):
    flat = {"name": "flat", "type": "mysql", "host": "db.example", "port": 3306, "username": "app",
            "password": "pw", "defaultDatabase": "shop"}
    created = api2.create(flat)
    assert read(api2, created["id"]) == {
        "id": created["id"], "name": "flat", "type": "mysql", "created": created["created"],
        "spec": {"database": {"host": "db.example", "port": 3306, "username": "app", "password": "pw",
                              "database": "shop"}},
    }


def test_when_both_forms_are_sent_spec_wins(api2):
    body = {**nested(connection_spec("both", host="from-spec")), "host": "from-flat", "port": 1, "username": "x",
            "password": "flat-pw", "defaultDatabase": "flat-db"}
    created = api2.create(body)
    stored = read(api2, created["id"])["spec"]["database"]
    assert stored["host"] == "from-spec" and stored["password"] == body["spec"]["database"]["password"]
    assert stored["database"] == "app"


@pytest.mark.parametrize("body, message", [
    ({"name": "f", "type": "mysql", "host": "h", "port": 3306, "username": "u"},
     "spec is required, or the flat form's host, port, username and password at the top level (missing: password)"),
    ({"name": "f", "type": "s3", "host": "h", "port": 1, "username": "u", "password": "p"},
     "spec is required for type 's3' (spec.s3)"),
    ({"name": "f", "type": "postgresql"},
     "spec is required, or the flat form's host, port, username and password at the top level"
     " (missing: host, port, username, password)"),
])
def test_the_flat_form_needs_its_fields_and_a_database_type(api2, body, message):
    response = api2.post("/connections", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": message, "code": "VALIDATION_ERROR"}


@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
@pytest.mark.parametrize("database", [None, "", "absent"])
def test_the_default_database_is_optional_for_both_database_types(api2, kind, database):
    body = nested(connection_spec(type=kind))
    if database == "absent":
        del body["spec"]["database"]["database"]
    else:
        body["spec"]["database"]["database"] = database
    created = api2.create(body)
    assert "database" not in read(api2, created["id"])["spec"]["database"]


def test_put_replaces_the_full_nested_object_and_answers_it_without_secrets(api2):
    created = api2.create(nested(connection_spec("old", ssl={"mode": "require"})))
    new = nested(connection_spec("renamed", type="mysql", host="db.example", port=3306))
    response = api2.put(f"/connections/{created['id']}", json=new)
    assert response.status_code == 200
    answer = response.json()
    assert "password" not in answer["spec"]["database"]
    assert answer["id"] == created["id"] and answer["created"] == created["created"]
    assert read(api2, created["id"]) == {**new, **created}  # ssl was not sent: it is gone


def test_put_takes_only_the_nested_form(api2):
    created = api2.create(nested(connection_spec()))
    flat = {"name": "n", "type": "mysql", "host": "h", "port": 3306, "username": "u", "password": "p"}
    response = api2.put(f"/connections/{created['id']}", json=flat)
    assert response.status_code == 400
    assert response.json()["error"].startswith("spec is required; unknown field 'host'")


@pytest.mark.parametrize("method", ["post", "put"])
def test_a_connection_level_schema_is_refused_with_a_clear_message(api2, method):
    created = api2.create(nested(connection_spec()))
    body = {**nested(connection_spec()), "schema": "sales"}
    response = api2.request(method, "/connections" + (f"/{created['id']}" if method == "put" else ""), json=body)
    assert response.status_code == 400
    assert response.json() == {
        "error": "schema is not a connection field in this API (2.x): name the schema where it is used"
                 " (a stream's target, ?schemas= of the tables route)",
        "code": "VALIDATION_ERROR",
    }


def test_fields_the_web_client_sends_back_are_ignored(api2):
    body = {**nested(connection_spec()), "id": "conn_fake", "created": 1, "databasesInfo": [{"name": "x"}],
            "status": "ok", "cloud_provider": "aws"}
    created = api2.create(body)
    stored = read(api2, created["id"])
    assert stored["id"] != "conn_fake" and stored["created"] != 1
    assert not {"databasesInfo", "status", "cloud_provider"} & set(stored)
    assert api2.put(f"/connections/{created['id']}", json=body).status_code == 200


@pytest.mark.parametrize("body", [FILES, S3, SNOWFLAKE], ids=["files", "s3", "snowflake"])
def test_every_kind_is_stored_listed_and_read_back(api2, body):
    created = api2.create(body)
    assert read(api2, created["id"]) == {**body, **created}
    listed = api2.get("/connections").json()["items"]
    assert listed == [{**body, **created}]


def test_unset_optional_fields_are_left_out(api2):
    body = {"name": "bare", "type": "s3", "spec": {"s3": {
        "region": "us-east-1", "endpoint": "", "credentials": {"accessKey": "", "secretKey": None}, "scope": {}}}}
    created = api2.create(body)
    assert read(api2, created["id"])["spec"] == {"s3": {"region": "us-east-1"}}


def test_type_is_accepted_in_any_case_and_answered_lowercase(api2):
    created = api2.create({**SNOWFLAKE, "type": "SnowFlake"})
    assert read(api2, created["id"])["type"] == "snowflake"


def test_list_is_an_envelope_in_creation_order(api2):
    assert api2.get("/connections").json() == {"items": [], "total": 0, "filtered": 0}
    first = api2.create(nested(connection_spec("first")))
    second = api2.create(FILES)
    body = api2.get("/connections").json()
    assert [c["id"] for c in body["items"]] == [first["id"], second["id"]]
    assert (body["total"], body["filtered"]) == (2, 2)
    assert body["items"][0]["spec"]["database"]["password"]  # full objects, password included


@pytest.mark.parametrize("search, names", [
    ("PROD", ["prod-eu", "Prod-US"]),
    ("db.internal", ["prod-eu"]),
    ("INTERNAL", ["prod-eu"]),
    ("exports", ["exports"]),  # files has no host: the name only
    ("srv", []),  # ... so its basePath is not searched
    ("nothing", []),
    ("", ["prod-eu", "Prod-US", "test", "exports"]),
])
def test_search_keeps_names_and_hosts_that_contain_the_text(api2, search, names):
    api2.create(nested(connection_spec("prod-eu", host="db.internal")))
    api2.create(nested(connection_spec("Prod-US", host="10.0.0.1")))
    api2.create(nested(connection_spec("test", host="test.example")))
    api2.create(FILES)
    body = api2.get("/connections", params={"search": search}).json()
    assert [c["name"] for c in body["items"]] == names
    assert (body["total"], body["filtered"]) == (4, len(names))


@pytest.mark.parametrize("headers", [{}, {"X-Confirm-Delete": "false"}, {"X-Confirm-Delete": "yes"}],
                         ids=["missing", "false", "yes"])
def test_delete_without_confirmation_is_400_and_deletes_nothing(api2, headers):
    created = api2.create(nested(connection_spec()))
    response = api2.delete(f"/connections/{created['id']}", headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "error": "deleting needs the header X-Confirm-Delete: true (nothing was deleted)",
        "code": "CONFIRMATION_REQUIRED",
    }
    assert read(api2, created["id"])["id"] == created["id"]
    assert api2.get("/connections").json()["total"] == 1


def test_a_confirmed_delete_answers_204_then_404(api2):
    created = api2.create(nested(connection_spec()))
    confirmed = {"X-Confirm-Delete": "true"}
    response = api2.delete(f"/connections/{created['id']}", headers=confirmed)
    assert response.status_code == 204 and response.content == b""
    again = api2.delete(f"/connections/{created['id']}", headers=confirmed)
    assert again.status_code == 404
    assert again.json() == {"error": f"connection '{created['id']}' not found", "code": "NOT_FOUND"}


def test_clone_copies_every_field_under_a_new_id_and_name(api2):
    created = api2.create(S3)
    response = api2.put(f"/connections/{created['id']}/clone")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "created", "name"} and body["name"] == "lake-copy"
    assert read(api2, body["id"]) == {**S3, **body}


def test_duplicate_name_is_409_with_a_code(api2):
    api2.create(nested(connection_spec("dup")))
    response = api2.post("/connections", json=FILES | {"name": "dup"})
    assert response.status_code == 409
    assert response.json() == {"error": "a connection named 'dup' already exists", "code": "CONFLICT"}


@pytest.mark.parametrize("body, error, details", [
    ({**FILES, "spec": {}}, "spec must hold exactly one of database, files, s3, snowflake, as an object",
     {"field": "spec"}),
    ({**FILES, "spec": {"files": {"basePath": "/a"}, "s3": {"region": "r"}}},
     "spec must hold exactly one of database, files, s3, snowflake, as an object", {"field": "spec"}),
    ({**FILES, "spec": {"files": None}}, "spec must hold exactly one of database, files, s3, snowflake, as an object",
     {"field": "spec"}),
    ({**FILES, "spec": {"gcs": {"bucket": "b"}}}, "unknown field 'spec.gcs'", {"field": "spec.gcs"}),
    ({**FILES, "type": "mysql"}, "type 'mysql' needs spec.database, not spec.files", None),
    ({**FILES, "type": "oracle"}, "type must be 'mysql', 'postgresql', 'files', 's3' or 'snowflake' (any case)",
     {"field": "type", "value": "oracle"}),
    ({**FILES, "spec": {"files": {"basePath": "relative/dir"}}},
     "spec.files.basePath must be an absolute path (starting with /)",
     {"field": "spec.files.basePath", "value": "relative/dir"}),
    ({**S3, "spec": {"s3": {"region": ""}}}, "spec.s3.region must not be empty", {"field": "spec.s3.region", "value": ""}),
    ({**SNOWFLAKE, "spec": {"snowflake": {"account": "a", "username": "u"}}}, "spec.snowflake.password is required",
     {"field": "spec.snowflake.password"}),
    (nested(connection_spec(port=70000)), "spec.database.port must be an integer between 1 and 65535",
     {"field": "spec.database.port", "value": 70000}),
    ({**nested(connection_spec()), "colour": "blue"}, "unknown field 'colour'", {"field": "colour", "value": "blue"}),
])
def test_validation_errors_are_400_with_code_and_details(api2, body, error, details):
    response = api2.post("/connections", json=body)
    assert response.status_code == 400
    expected = {"error": error, "code": "VALIDATION_ERROR"}
    if details:
        expected["details"] = details
    assert response.json() == expected


@pytest.mark.parametrize("field, spec", [
    ("password", {"database": {"host": "h", "port": 1, "username": "u", "password": 12345}}),
    ("secretKey", {"s3": {"region": "r", "credentials": {"secretKey": 424242}}}),
])
def test_a_refused_secret_is_never_echoed(api2, field, spec):
    kind = {"database": "mysql", "s3": "s3"}[next(iter(spec))]
    response = api2.post("/connections", json={"name": "n", "type": kind, "spec": spec})
    assert response.status_code == 400
    assert response.json()["details"]["field"].endswith(field)
    assert "value" not in response.json()["details"]
    assert "12345" not in response.text and "424242" not in response.text


def test_errors_of_the_framework_have_the_2x_shape(api2):
    response = api2.get("/no/such/route")
    assert response.json() == {"error": "not found", "code": "NOT_FOUND"}
    response = api2.request("PATCH", "/connections")
    assert response.status_code == 405
    assert response.json() == {"error": "method not allowed", "code": "METHOD_NOT_ALLOWED"}
    assert response.headers["Allow"] == "GET, POST"
    response = api2.post("/connections", data=b"{", headers={"Content-Type": "application/json"})
    assert response.json() == {"error": "request body is not valid JSON", "code": "VALIDATION_ERROR"}
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = api2.post("/connections", data=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large: the limit is 1048576 bytes", "code": "PAYLOAD_TOO_LARGE"}


@pytest.mark.parametrize("method, path", [
    ("GET", "/connections/{id}/tables"),
    ("POST", "/connections/{id}/schemas"),
])
def test_the_v1_only_paths_are_404_on_2x(api2, method, path):
    created = api2.create(nested(connection_spec()))
    response = api2.request(method, path.replace("{id}", created["id"]), json="sales")
    assert response.status_code == 404
    assert response.json() == {"error": "not found", "code": "NOT_FOUND"}
