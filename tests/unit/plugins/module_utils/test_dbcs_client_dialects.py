# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the client tells the dialects apart and speaks each, against a scripted server on 127.0.0.1.

The real servers of both dialects are exercised by the integration tests; these pin the per-feature
rules: install id, list envelope and pages, flat or nested connections, delete confirmation, and the
2.x paths with their fallback.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_client import DbcsApiError
from ansible_collections.dbconvert.streams.tests.unit.plugins.module_utils.scripted_server import CONN_ID, client_for

INSTALL_ID = "inst-7f3a"
FLAT = {"id": CONN_ID, "name": "pg", "type": "postgresql", "host": "db", "port": 5432, "username": "u",
        "password": "pw", "database": "app", "created": 1}
NESTED = {"id": CONN_ID, "name": "pg", "type": "PostgreSQL", "created": 1, "cloud_provider": "",
          "spec": {"database": {"host": "db", "port": 5432, "username": "u", "password": "pw", "database": "app"}},
          "ssl": {"mode": "require"}}
BODY = {"name": "pg", "type": "postgresql", "host": "db", "port": 5432, "username": "u", "password": "pw",
        "database": "app", "ssl": {"mode": "require"}}


@pytest.fixture
def v2(server):
    """The scripted server answering as a 2.x server: an install id, an envelope."""
    server.on("GET", "/system/defaults", (200, {"installId": INSTALL_ID, "mode": "server", "defaultExportPath": "/tmp"}))
    server.on("GET", "/connections", (200, {"items": [NESTED], "total": 1, "filtered": 1}))
    return server


def test_a_2x_server_gets_its_install_id_on_every_call_and_no_v1_session_start(v2):
    client = client_for(v2)
    assert client.list_connections()[0]["host"] == "db"
    client.delete_connection(CONN_ID, "pg")
    assert v2.calls() == [("GET", "/api/v1/system/defaults"), ("GET", "/api/v1/connections"),
                          ("DELETE", "/api/v1/connections/%s" % CONN_ID)]
    assert [h.get("X-Install-ID") for h in v2.headers] == [None, INSTALL_ID, INSTALL_ID]
    assert v2.headers[0].get("X-API-Key") is None


def test_a_v1_server_gets_no_install_id_and_its_session_start(server):
    server.on("GET", "/connections", (200, [FLAT]))
    client = client_for(server)
    assert client.list_connections() == [FLAT]
    assert not client.nested and not client.v2_paths
    assert all("X-Install-ID" not in h for h in server.headers)


def test_nested_connections_come_out_flat_and_the_same_as_flat_ones(v2):
    conn = client_for(v2).list_connections()[0]
    assert conn == dict(FLAT, ssl={"mode": "require"}, cloud_provider="")


@pytest.mark.parametrize("list_answer, nested", [
    ({"items": [NESTED], "total": 1, "filtered": 1}, True),
    ([NESTED], True),                                  # 2.x builds of late 2025: spec without the envelope
    ({"items": [], "total": 0, "filtered": 0}, True),  # empty, but the install id says 2.x
])
def test_writes_take_the_form_the_server_showed(v2, list_answer, nested):
    v2.on("GET", "/connections", (200, list_answer))
    v2.on("POST", "/connections", (201, {"id": CONN_ID, "created": 1}))
    client = client_for(v2)
    client.list_connections()
    client.create_connection(BODY)
    client.update_connection(CONN_ID, BODY)
    sent = [json.loads(body) for method, _p, _k, body in v2.requests if method in ("POST", "PUT")]
    expected = {"name": "pg", "type": "postgresql", "ssl": {"mode": "require"},
                "spec": {"database": {"host": "db", "port": 5432, "username": "u", "password": "pw", "database": "app"}}}
    assert sent == [expected, expected] and client.nested is nested


def test_a_server_without_install_id_and_flat_connections_gets_flat_writes(server):
    server.on("GET", "/connections", (200, [FLAT]))
    server.on("POST", "/connections", (201, {"id": CONN_ID, "created": 1}))
    client = client_for(server)
    client.list_connections()
    client.create_connection(BODY)
    assert json.loads(server.requests[-1][3]) == BODY


def test_api_version_1_never_asks_for_the_install_id(v2):
    client = client_for(v2, api_version="1")
    v2.on("GET", "/connections", (200, [FLAT]))
    client.list_connections()
    assert v2.calls() == [("GET", "/api/v1/user/configs"), ("GET", "/api/v1/connections")]
    assert not client.nested


def test_api_version_2_writes_nested_even_without_an_install_id(server):
    client = client_for(server, api_version="2")
    client.list_connections()
    assert client.nested and client.v2_paths
    assert server.calls()[:2] == [("GET", "/api/v1/system/defaults"), ("GET", "/api/v1/user/configs")]


@pytest.mark.parametrize("answer", [{"error": "nope"}, {"connections": []}, '"not a list"', "42"])
def test_a_list_answer_of_another_shape_is_an_error_never_an_empty_list(server, answer):
    server.on("GET", "/connections", (200, answer))
    with pytest.raises(DbcsApiError, match=r"^Could not list connections: the answer is neither a list of connections"):
        client_for(server).list_connections()


def test_every_page_of_a_paged_list_is_read(v2):
    first = [dict(NESTED, id="conn_%027d" % i, name="c%d" % i) for i in range(2)]
    second = [dict(NESTED, id="conn_%027d" % i, name="c%d" % i) for i in range(2, 3)]
    v2.on("GET", "/connections", (200, {"items": first, "total": 3, "filtered": 3}),
          (200, {"items": second, "total": 3, "filtered": 3}))
    names = [conn["name"] for conn in client_for(v2).list_connections()]
    assert names == ["c0", "c1", "c2"]
    assert [r[1] for r in v2.requests].count("/api/v1/connections") == 2


def test_a_server_that_ignores_the_offset_is_an_error_not_a_short_list(v2):
    v2.on("GET", "/connections", (200, {"items": [NESTED], "total": 5, "filtered": 5}))
    with pytest.raises(DbcsApiError, match=r"listed 1 of the 5 connections"):
        client_for(v2).list_connections()


def test_every_delete_carries_the_confirmation_header(server):
    server.on("DELETE", "/connections/%s" % CONN_ID, (204, ""))
    client_for(server).delete_connection(CONN_ID)
    assert server.headers[-1].get("X-Confirm-Delete") == "true"


def test_2x_databases_come_out_in_the_v1_shape_without_system_entries(v2):
    v2.on("GET", "/connections/%s/databases" % CONN_ID, (200, [
        {"name": "app", "isSystem": False, "schemas": [{"name": "public", "isSystem": False},
                                                       {"name": "pg_catalog", "isSystem": True, "systemReason": "system"}]},
        {"name": "postgres", "isSystem": True, "systemReason": "maintenance database", "schemas": []}]))
    assert client_for(v2).list_databases(CONN_ID) == [{"name": "app", "schemas": ["public"]}]


def test_2x_schema_and_tables_use_the_2x_paths(v2):
    v2.on("POST", "/connections/%s/databases/my%%20db/schemas" % CONN_ID, (201, {"status": "success"}))
    v2.on("GET", "/connections/%s/databases/my%%20db/tables" % CONN_ID, (200, ["orders"]))
    client = client_for(v2)
    client.create_schema(CONN_ID, "my db", "sales")
    assert client.list_tables(CONN_ID, "pg", "my db") == ["orders"]
    method, path, _key, body = v2.requests[-2]
    assert (method, path, body) == ("POST", "/api/v1/connections/%s/databases/my%%20db/schemas" % CONN_ID, b"sales")
    assert v2.headers[-2]["Content-Type"].startswith("text/plain")


def test_a_404_on_a_2x_path_falls_back_to_the_v1_path(v2):
    v2.on("POST", "/connections/%s/databases/app/schemas" % CONN_ID, (404, {"error": "not found"}))
    v2.on("POST", "/connections/%s/schemas" % CONN_ID, (201, {"status": "success"}))
    v2.on("GET", "/connections/%s/databases/app/tables" % CONN_ID, (404, {"error": "not found"}))
    v2.on("GET", "/connections/%s/tables" % CONN_ID, (200, ["t"]))
    client = client_for(v2)
    client.create_schema(CONN_ID, "app", "sales")
    assert client.list_tables(CONN_ID, "pg", "app") == ["t"]
    assert [path for _m, path, _k, _b in v2.requests][-4:] == [
        "/api/v1/connections/%s/databases/app/schemas" % CONN_ID, "/api/v1/connections/%s/schemas" % CONN_ID,
        "/api/v1/connections/%s/databases/app/tables" % CONN_ID, "/api/v1/connections/%s/tables" % CONN_ID]


def test_a_v1_server_never_sees_a_2x_path(server):
    server.on("POST", "/connections/%s/schemas" % CONN_ID, (201, {"status": "success"}))
    server.on("GET", "/connections/%s/tables" % CONN_ID, (200, []))
    client = client_for(server)
    client.create_schema(CONN_ID, "app", "sales")
    client.list_tables(CONN_ID, "pg", "app")
    assert not [path for _m, path, _k, _b in server.requests if "/databases/" in path]


def test_create_database_sends_the_name_as_text(server):
    server.on("POST", "/connections/%s/databases" % CONN_ID, (201, {"status": "success"}))
    client_for(server).create_database(CONN_ID, "analytics_ü", "pg")
    method, _path, _key, body = server.requests[-1]
    assert (method, body.decode("utf-8")) == ("POST", "analytics_ü")
    assert server.headers[-1]["Content-Type"] == "text/plain; charset=utf-8"


def test_a_connection_of_an_unmanaged_kind_keeps_its_spec(v2):
    snow = {"id": CONN_ID, "name": "wh", "type": "snowflake", "created": 1,
            "spec": {"snowflake": {"account": "acme", "username": "u", "password": "snow-pw"}}}
    v2.on("GET", "/connections", (200, {"items": [snow], "total": 1, "filtered": 1}))
    assert client_for(v2).list_connections() == [snow]


def test_streams_on_a_server_without_an_install_id_fail_before_any_stream_request(server):
    """2.x servers tell their install id: without it (and without connections seen in the 2.x form) the server is v1,
    and the stream modules fail with the clear message before any stream request - even before any connection was
    listed, which is when they ask."""
    client = client_for(server)
    with pytest.raises(DbcsApiError, match="this server speaks the v1 API, which has no stream configurations"):
        client.require_streams()
    assert [path for _method, path in server.calls() if "stream" in path] == []


def test_a_pinned_2x_client_reports_a_missing_stream_route_as_it_is(server):
    server.on("GET", "/stream-configs", (404, {"error": "not found"}))
    with pytest.raises(DbcsApiError) as failure:
        client_for(server, api_version="2").list_stream_configs()
    assert failure.value.status == 404 and "v1 API" not in str(failure.value)
