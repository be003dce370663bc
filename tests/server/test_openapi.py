"""The OpenAPI document: served without a key, and a complete description of the API."""

import pytest
import requests

EXPECTED_OPERATIONS = {
    ("get", "/api/v1/health"),
    ("get", "/api/v1/user"),
    ("get", "/api/v1/user/configs"),
    ("get", "/api/v1/connections"),
    ("post", "/api/v1/connections"),
    ("get", "/api/v1/connections/{id}"),
    ("put", "/api/v1/connections/{id}"),
    ("delete", "/api/v1/connections/{id}"),
    ("post", "/api/v1/connections/{id}/ping"),
    ("put", "/api/v1/connections/{id}/clone"),
    ("get", "/api/v1/connections/{id}/databases"),
    ("post", "/api/v1/connections/{id}/databases"),
    ("post", "/api/v1/connections/{id}/schemas"),
    ("get", "/api/v1/connections/{id}/tables"),
}


@pytest.fixture(scope="module")
def document(server):
    response = requests.get(server.url + "/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_route_is_described(document):
    assert {(m, p) for m, p, _op in operations(document)} == EXPECTED_OPERATIONS


def test_the_api_key_scheme_is_declared_and_required_except_for_health(document):
    scheme = document["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-Key"}
    for method, path, operation in operations(document):
        if path == "/api/v1/health":
            assert "security" not in operation
        else:
            assert operation["security"] == [{"ApiKeyAuth": []}], path
            assert "401" in operation["responses"], path


def test_errors_are_documented_with_the_error_schema_and_never_422(document):
    error_ref = "#/components/schemas/ErrorBody"
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert "422" not in responses, path
        expected = set()
        if path.startswith("/api/v1/connections"):
            expected.add("409")
        if "{id}" in path:
            expected.add("404")
        if method in ("post", "put") and not path.endswith(("/ping", "/clone")):
            expected.add("400")
        if path.endswith(("/ping", "/databases", "/tables", "/schemas")):
            expected.add("503")
        assert expected <= set(responses), (method, path, set(responses))
        for status in expected - {"503"} if path.endswith("/ping") else expected:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": error_ref}, (method, path, status)


def test_error_bodies_are_described_as_exactly_error(document):
    # Without additionalProperties false, a conformance check would let {"error", "detail"} through.
    schemas = document["components"]["schemas"]
    error = schemas["ErrorBody"]
    assert (error["type"], error["required"], error["additionalProperties"]) == ("object", ["error"], False)
    assert error["properties"] == {"error": {"type": "string", "title": "Error"}}
    ping = schemas["PingResult"]
    assert set(ping["properties"]) == {"ping", "error"} and ping["additionalProperties"] is False


def test_request_bodies_and_success_responses_are_described(document):
    create = document["paths"]["/api/v1/connections"]["post"]
    body_schema = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    spec = document["components"]["schemas"][body_schema]
    assert set(spec["required"]) == {"name", "type", "host", "port", "username", "password", "database"}
    assert spec["additionalProperties"] is False
    assert spec["properties"]["port"]["minimum"] == 1 and spec["properties"]["port"]["maximum"] == 65535
    assert "201" in create["responses"]
    assert "204" in document["paths"]["/api/v1/connections/{id}"]["delete"]["responses"]
    assert "200" in document["paths"]["/api/v1/connections/{id}/clone"]["put"]["responses"]


def test_swagger_ui_is_served(server):
    response = requests.get(server.url + "/docs", timeout=10)
    assert response.status_code == 200
    assert "swagger" in response.text.lower()
