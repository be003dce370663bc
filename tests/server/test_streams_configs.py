"""Stream configuration records (2.x): create, read, list (envelope, search, paging), full replace
(updated), clone, confirmed delete, unique names, validation against the connections and the
source database, and the v1 dialect without stream routes."""

import time

import pytest

from server_helpers import nested
from streams_helpers import CONFIRM, Pair, config_body, create_source, sample_rows

CONFIG_ID = "config_" + "7" * 27


@pytest.fixture
def pair(api2, databases, fresh_db):
    create_source(databases, "mysql", fresh_db, "items", sample_rows(2))
    create_source(databases, "mysql", fresh_db, "nokey", sample_rows(2), key=False)
    create_source(databases, "postgresql", fresh_db, "orders", sample_rows(2), schema="sales")
    return Pair(api2, databases, fresh_db)


def body(pair, name="shop-to-warehouse", **options):
    return config_body(name, pair.my, pair.pg, pair.database, tables=["items"], **options)


def create(pair, sent):
    response = pair.api.post("/stream-configs", json=sent)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_answers_the_full_configuration_as_sent(pair):
    sent = body(pair, schema="sales", policy="drop_and_recreate", write="truncate_and_load", bundle=500,
                limits={"numberOfEvents": 10, "elapsedTime": 60})
    sent.update(description="nightly copy", reportingInterval=5)
    before = int(time.time())
    created = create(pair, sent)
    assert created == {**sent, "id": created["id"], "created": created["created"], "updated": created["created"]}
    assert created["id"].startswith("config_") and len(created["id"]) == len("config_") + 27
    assert before <= created["created"] <= time.time()
    assert pair.api.get(f"/stream-configs/{created['id']}").json() == created


def test_unset_fields_are_left_out_and_read_only_ones_ignored(pair):
    sent = {**body(pair), "description": None, "limits": None, "id": "config_x", "created": 1, "updated": 2}
    created = create(pair, sent)
    assert set(created) == {"id", "name", "mode", "source", "target", "created", "updated"}
    assert created["id"] != "config_x" and created["created"] > 2


def test_put_replaces_the_configuration_and_moves_updated(pair):
    created = create(pair, body(pair))
    changed = {**body(pair, "renamed", write="upsert"), "description": "now an upsert"}
    response = pair.api.put(f"/stream-configs/{created['id']}", json=changed)
    assert response.status_code == 200
    replaced = response.json()
    assert replaced == {**changed, "id": created["id"], "created": created["created"], "updated": replaced["updated"]}
    assert replaced["updated"] > created["updated"]
    again = pair.api.put(f"/stream-configs/{created['id']}", json=changed).json()
    assert again["updated"] > replaced["updated"]  # every PUT, also an identical one
    assert pair.api.get(f"/stream-configs/{created['id']}").json() == again


def test_list_is_an_envelope_with_search_and_paging(pair):
    names = ["alpha-copy", "beta-copy", "gamma", "Delta-COPY"]
    made = [create(pair, body(pair, name)) for name in names]
    listed = pair.api.get("/stream-configs").json()
    assert listed == {"items": made, "total": 4, "filtered": 4}
    found = pair.api.get("/stream-configs", params={"search": "copy"}).json()
    assert [c["name"] for c in found["items"]] == ["alpha-copy", "beta-copy", "Delta-COPY"]
    assert (found["total"], found["filtered"], found["search"]) == (4, 3, "copy")
    page = pair.api.get("/stream-configs", params={"search": "copy", "limit": 2, "offset": 1}).json()
    assert [c["name"] for c in page["items"]] == ["beta-copy", "Delta-COPY"]
    assert (page["total"], page["filtered"], page["limit"], page["offset"]) == (4, 3, 2, 1)
    described = create(pair, {**body(pair, "epsilon"), "description": "The NIGHTLY one"})
    assert pair.api.get("/stream-configs", params={"search": "nightly"}).json()["items"] == [described]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"offset": -1}, {"limit": "x"}])
def test_bad_paging_is_400(pair, params):
    response = pair.api.get("/stream-configs", params=params)
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"


def test_clone_copies_under_a_new_id_and_name(pair):
    created = create(pair, body(pair))
    first = pair.api.put(f"/stream-configs/{created['id']}/clone").json()
    second = pair.api.put(f"/stream-configs/{created['id']}/clone").json()
    assert first["name"] == "shop-to-warehouse-copy" and second["name"] == "shop-to-warehouse-copy-2"
    for copy in (first, second):
        assert copy["id"] != created["id"]
        assert {k: v for k, v in copy.items() if k not in ("id", "name", "created", "updated")} == {
            k: v for k, v in created.items() if k not in ("id", "name", "created", "updated")}
    assert pair.api.get("/stream-configs").json()["total"] == 3


@pytest.mark.parametrize("headers", [{}, {"X-Confirm-Delete": "false"}])
def test_delete_needs_the_confirmation_and_then_answers_204(pair, headers):
    created = create(pair, body(pair))
    refused = pair.api.delete(f"/stream-configs/{created['id']}", headers=headers)
    assert refused.status_code == 400
    assert refused.json() == {"error": "deleting needs the header X-Confirm-Delete: true (nothing was deleted)",
                              "code": "CONFIRMATION_REQUIRED"}
    assert pair.api.delete(f"/stream-configs/{created['id']}", headers=CONFIRM).status_code == 204
    assert pair.api.get(f"/stream-configs/{created['id']}").status_code == 404
    assert pair.api.delete(f"/stream-configs/{created['id']}", headers=CONFIRM).status_code == 404


def test_a_duplicate_name_is_409(pair):
    created = create(pair, body(pair))
    response = pair.api.post("/stream-configs", json=body(pair))
    assert response.status_code == 409
    assert response.json() == {"error": "a stream configuration named 'shop-to-warehouse' already exists",
                               "code": "CONFLICT"}
    other = create(pair, body(pair, "other"))
    renamed = pair.api.put(f"/stream-configs/{other['id']}", json=body(pair))
    assert renamed.status_code == 409
    assert pair.api.get(f"/stream-configs/{created['id']}").json() == created


@pytest.mark.parametrize("route", ["", "/clone", "/start", "/history"])
def test_unknown_configurations_are_404(pair, route):
    method = {"": "GET", "/clone": "PUT", "/start": "POST", "/history": "GET"}[route]
    response = pair.api.request(method, f"/stream-configs/{CONFIG_ID}{route}")
    assert response.status_code == 404
    assert response.json() == {"error": f"stream configuration '{CONFIG_ID}' not found", "code": "NOT_FOUND"}


@pytest.mark.parametrize("route", ["/stats", "/pause", "/resume", "/stop"])
def test_unknown_streams_are_404(pair, route):
    stream = "stream_" + "7" * 27
    response = pair.api.request("GET" if route == "/stats" else "POST", f"/streams/{stream}{route}")
    assert response.status_code == 404
    assert response.json() == {"error": f"stream '{stream}' not found", "code": "NOT_FOUND"}


# -- validation -------------------------------------------------------------------------------


def refusal(pair, sent, error, field, value=None, status=400):
    response = pair.api.post("/stream-configs", json=sent)
    assert response.status_code == status, response.text
    expected = {"error": error, "code": "VALIDATION_ERROR", "details": {"field": field}}
    if value is not None:
        expected["details"]["value"] = value
    assert response.json() == expected
    assert pair.api.get("/stream-configs").json()["total"] == 0


def test_an_unknown_source_or_target_connection_is_400(pair):
    unknown = "conn_" + "1" * 27
    sent = body(pair)
    sent["source"]["connections"][0]["connectionId"] = unknown
    refusal(pair, sent, f"connection '{unknown}' not found", "source.connections.0.connectionId", unknown)
    sent = body(pair)
    sent["target"]["id"] = unknown
    refusal(pair, sent, f"connection '{unknown}' not found", "target.id", unknown)


def test_another_keys_connection_is_answered_as_unknown(pair, other_api2, databases):
    theirs = other_api2.create(nested(databases.pg_spec(database=pair.database)))
    sent = body(pair)
    sent["target"]["id"] = theirs["id"]
    refusal(pair, sent, f"connection '{theirs['id']}' not found", "target.id", theirs["id"])
    sent = config_body("theirs", theirs, pair.my, pair.database, tables=["orders"], source_schema="sales")
    refusal(pair, sent, f"connection '{theirs['id']}' not found", "source.connections.0.connectionId", theirs["id"])


def test_a_table_the_source_does_not_have_is_400(pair):
    sent = config_body("x", pair.my, pair.pg, pair.database, tables=["items", "missing"])
    refusal(pair, sent, f"table 'missing' not found in database '{pair.database}'",
            "source.connections.0.tables.1.name", "missing")
    sent = config_body("x", pair.pg, pair.my, pair.database, tables=["orders"])  # in sales, not public
    refusal(pair, sent, f"table 'orders' not found in database '{pair.database}'",
            "source.connections.0.tables.0.name", "orders")
    qualified = config_body("y", pair.pg, pair.my, pair.database, tables=["orders"], source_schema="sales")
    assert pair.api.post("/stream-configs", json=qualified).status_code == 201


def test_a_source_database_that_does_not_exist_is_400(pair):
    sent = config_body("x", pair.my, pair.pg, pair.database, tables=["items"], source_database="no_such_db")
    refusal(pair, sent, f"database 'no_such_db' not found in connection '{pair.my['name']}'",
            "source.connections.0.database", "no_such_db")


def test_a_source_without_a_database_is_400(pair, databases):
    bare = pair.connect(nested(databases.my_spec(database="")))
    sent = config_body("x", bare, pair.pg, pair.database, tables=["items"])
    del sent["source"]["connections"][0]["database"]
    refusal(pair, sent, f"source.connections.0.database is required: connection '{bare['name']}' has no default"
                        " database", "source.connections.0.database")


def test_a_schema_on_a_mysql_target_or_source_is_400(pair):
    sent = config_body("x", pair.pg, pair.my, pair.database, tables=["orders"], source_schema="sales", schema="sales")
    refusal(pair, sent, "a mysql target has no schemas: leave schema out (the database is the target's)",
            "target.spec.db.schema")
    sent = config_body("x", pair.my, pair.pg, pair.database, tables=["items"], source_schema="sales")
    refusal(pair, sent, "a mysql source has no schemas: leave schema out (the database is the source's)",
            "source.connections.0.schema")


@pytest.mark.parametrize("kind, spec", [
    ("files", {"files": {"basePath": "/tmp"}}),
    ("s3", {"s3": {"region": "eu-central-1"}}),
    ("snowflake", {"snowflake": {"account": "a", "username": "u", "password": "p"}}),
])
def test_a_connection_that_is_no_database_is_refused_as_source_and_target(pair, kind, spec):
    other = pair.api.create({"name": f"{kind}-conn", "type": kind, "spec": spec})
    sent = body(pair)
    sent["target"]["id"] = other["id"]
    refusal(pair, sent, f"a {kind} connection cannot be a stream target: the local server writes to mysql and"
                        " postgresql (files and object storage targets are not supported yet)", "target.id")
    sent = config_body("x", other, pair.pg, pair.database, tables=["items"])
    refusal(pair, sent, f"a {kind} connection cannot be a stream source: the local server reads from mysql and"
                        " postgresql", "source.connections.0.connectionId")


def test_two_tables_for_one_target_table_are_400(pair):
    sent = body(pair)
    sent["source"]["connections"].append({"connectionId": pair.pg["id"], "database": pair.database,
                                          "schema": "sales", "tables": [{"name": "orders"}, {"name": "orders"}]})
    refusal(pair, sent, "tables 'orders' and 'orders' would both be written to the target table 'orders'",
            "source.connections.1.tables.1.name", "orders")


def test_an_unreachable_source_is_503(pair, databases, closed):
    down = pair.connect(nested(databases.my_spec(database=pair.database, port=closed)))
    response = pair.api.post("/stream-configs", json=config_body("x", down, pair.pg, pair.database, tables=["items"]))
    assert response.status_code == 503
    assert response.json()["error"].startswith(
        f"cannot check the tables of source.connections.0 (connection '{down['name']}'): ")
    assert databases.my_password not in response.text


@pytest.mark.parametrize("change, error, field, value", [
    (lambda b: b["limits"].update(numberOfEvents=-1), "limits.numberOfEvents must be 0 or more",
     "limits.numberOfEvents", -1),
    (lambda b: b["limits"].update(elapsedTime=-5), "limits.elapsedTime must be 0 or more", "limits.elapsedTime", -5),
    (lambda b: b["limits"].update(elapsedTime="5"), "limits.elapsedTime must be a whole number",
     "limits.elapsedTime", "5"),
    (lambda b: b["limits"].update(numberOfEvents=True), "limits.numberOfEvents must be a whole number",
     "limits.numberOfEvents", True),
    (lambda b: b["limits"].update(numberOfEvents=1.5), "limits.numberOfEvents must be a whole number",
     "limits.numberOfEvents", 1.5),
    (lambda b: b.update(source={**b["source"], "options": {"dataBundleSize": 0}}),
     "source.options.dataBundleSize must be between 1 and 100000", "source.options.dataBundleSize", 0),
    (lambda b: b.update(mode="sync"), "mode must be one of 'load', 'cdc' or 'convert'", "mode", "sync"),
    (lambda b: b["target"]["spec"]["db"].update(writeMode="merge"),
     "target.spec.db.writeMode must be one of 'fail_if_not_empty', 'append', 'truncate_and_load' or 'upsert'",
     "target.spec.db.writeMode", "merge"),
    (lambda b: b["target"]["spec"]["db"].update(schemaPolicy="maybe"),
     "target.spec.db.schemaPolicy must be one of 'fail_if_exists', 'validate_existing', 'create_missing_only' or"
     " 'drop_and_recreate'", "target.spec.db.schemaPolicy", "maybe"),
    (lambda b: b["source"].update(connections=[]), "source.connections must not be empty", "source.connections",
     None),
    (lambda b: b.update(extra=1), "unknown field 'extra'", "extra", 1),
    (lambda b: b["target"]["spec"].update(files={"fileFormat": "csv"}), "unknown field 'target.spec.files'",
     "target.spec.files", None),
    (lambda b: b.pop("name"), "name is required", "name", None),
])
def test_invalid_bodies_are_400_naming_the_field(pair, change, error, field, value):
    sent = body(pair, limits={"numberOfEvents": 0, "elapsedTime": 0})
    change(sent)
    refusal(pair, sent, error, field, value)


def test_whole_numbers_may_be_written_with_a_fraction_of_zero(pair):
    created = create(pair, body(pair, limits={"numberOfEvents": 10.0, "elapsedTime": 0}))
    assert created["limits"] == {"numberOfEvents": 10, "elapsedTime": 0}


def test_the_v1_dialect_has_no_stream_routes(api):
    for method, path in (("GET", "/stream-configs"), ("POST", "/stream-configs"), ("GET", "/streams"),
                         ("GET", f"/stream-configs/{CONFIG_ID}"), ("POST", f"/stream-configs/{CONFIG_ID}/start")):
        response = api.request(method, path, json={})
        assert response.status_code == 404, (method, path)
        assert response.json() == {"error": "not found"}
    assert api.get("/user/configs").status_code == 200
