"""The 2.x OpenAPI document: exactly the 2.x routes, both auth headers as one requirement, the
2.x error shape, and the request bodies as the server takes them."""

import pytest
import requests

from test_openapi import operations

EXPECTED_OPERATIONS = {
    ("get", "/api/v1/health"),
    ("get", "/api/v1/ready"),
    ("get", "/api/v1/system/defaults"),
    ("get", "/api/v1/logs/stream"),
    ("get", "/api/v1/user"),
    ("get", "/api/v1/user/configs"),
    ("get", "/api/v1/services/status"),
    ("put", "/api/v1/system/sql-logging"),
    ("get", "/api/v1/connections"),
    ("post", "/api/v1/connections"),
    ("post", "/api/v1/connections/test"),
    ("get", "/api/v1/connections/{id}"),
    ("put", "/api/v1/connections/{id}"),
    ("delete", "/api/v1/connections/{id}"),
    ("post", "/api/v1/connections/{id}/ping"),
    ("put", "/api/v1/connections/{id}/clone"),
    ("get", "/api/v1/connections/{id}/databases"),
    ("post", "/api/v1/connections/{id}/databases"),
    ("get", "/api/v1/connections/{id}/databases/{db}/tables"),
    ("post", "/api/v1/connections/{id}/databases/{db}/schemas"),
    ("get", "/api/v1/stream-configs"),
    ("post", "/api/v1/stream-configs"),
    ("get", "/api/v1/stream-configs/{id}"),
    ("put", "/api/v1/stream-configs/{id}"),
    ("delete", "/api/v1/stream-configs/{id}"),
    ("put", "/api/v1/stream-configs/{id}/clone"),
    ("post", "/api/v1/stream-configs/{id}/start"),
    ("get", "/api/v1/stream-configs/{id}/history"),
    ("get", "/api/v1/streams"),
    ("get", "/api/v1/streams/{id}/stats"),
    ("post", "/api/v1/streams/{id}/pause"),
    ("post", "/api/v1/streams/{id}/resume"),
    ("post", "/api/v1/streams/{id}/stop"),
}
PUBLIC = {"/api/v1/health", "/api/v1/ready", "/api/v1/system/defaults", "/api/v1/logs/stream"}


@pytest.fixture(scope="module")
def document(server2):
    response = requests.get(server2.url + "/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()


def schema_of(document, reference):
    return document["components"]["schemas"][reference["$ref"].rsplit("/", 1)[1]]


def test_every_2x_route_is_described_and_no_v1_only_one(document):
    assert {(m, p) for m, p, _op in operations(document)} == EXPECTED_OPERATIONS


def test_authenticated_routes_need_both_headers_at_once(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["InstallIdAuth"] == {**schemes["InstallIdAuth"], "type": "apiKey", "in": "header",
                                        "name": "X-Install-ID"}
    for _method, path, operation in operations(document):
        if path in PUBLIC:
            assert "security" not in operation, path
        else:
            assert operation["security"] == [{"ApiKeyAuth": [], "InstallIdAuth": []}], path
            assert "401" in operation["responses"], path


def test_errors_are_described_in_the_2x_shape(document):
    error = document["components"]["schemas"]["ErrorBodyV2"]
    assert (error["required"], error["additionalProperties"]) == (["error"], False)
    assert set(error["properties"]) == {"error", "code", "details"}
    assert "ErrorBody" not in document["components"]["schemas"]
    for _method, path, operation in operations(document):
        assert "422" not in operation["responses"], path
        for status, answer in operation["responses"].items():
            if status.startswith("4"):
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBodyV2"}


def test_delete_declares_the_confirmation_header(document):
    parameters = document["paths"]["/api/v1/connections/{id}"]["delete"]["parameters"]
    confirm = next(p for p in parameters if p["name"] == "X-Confirm-Delete")
    assert (confirm["in"], confirm["required"], confirm["schema"]) == ("header", True, {"type": "string", "enum": ["true"]})


def test_create_takes_the_nested_or_the_flat_form_and_replace_the_nested_one(document):
    create = schema_of(document, document["paths"]["/api/v1/connections"]["post"]["requestBody"]["content"]
                       ["application/json"]["schema"])
    assert create["required"] == ["name", "type"] and create["additionalProperties"] is False
    assert {"spec", "host", "port", "username", "password", "defaultDatabase"} <= set(create["properties"])
    flat = create["anyOf"][-1]
    assert flat["required"] == ["host", "port", "username", "password"]
    replace = schema_of(document, document["paths"]["/api/v1/connections/{id}"]["put"]["requestBody"]["content"]
                        ["application/json"]["schema"])
    assert set(replace["required"]) == {"name", "type", "spec"}
    assert not {"host", "defaultDatabase", "schema"} & set(replace["properties"])
    spec = document["components"]["schemas"]["SpecIn"]
    assert (spec["minProperties"], spec["maxProperties"]) == (1, 1)
    assert set(spec["properties"]) == {"database", "files", "s3", "snowflake"}


def test_the_log_stream_is_described_as_server_sent_events(document):
    answer = document["paths"]["/api/v1/logs/stream"]["get"]["responses"]["200"]
    assert "text/event-stream" in answer["content"]


def test_tables_take_schemas_as_a_repeated_parameter(document):
    parameters = {p["name"]: p for p in document["paths"]["/api/v1/connections/{id}/databases/{db}/tables"]["get"]
                  ["parameters"]}
    assert parameters["schemas"]["schema"]["type"] == "array"
    assert parameters["include_system"]["schema"]["type"] == "boolean"
    assert parameters["db"]["schema"]["minLength"] == 1
