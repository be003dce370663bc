"""X-API-Key on every route, --strict-configs, and each key seeing only its own connections."""

import pytest

from server_helpers import Api, connection_spec

DUMMY_ID = "conn_" + "7" * 27

# Every authenticated route, with a body that would be valid.
ROUTES = [
    ("GET", "/user", None),
    ("GET", "/user/configs", None),
    ("GET", "/connections", None),
    ("POST", "/connections", "spec"),
    ("GET", "/connections/{id}", None),
    ("PUT", "/connections/{id}", "spec"),
    ("DELETE", "/connections/{id}", None),
    ("POST", "/connections/{id}/ping", None),
    ("PUT", "/connections/{id}/clone", None),
    ("GET", "/connections/{id}/databases", None),
    ("POST", "/connections/{id}/databases", "schema"),
    ("POST", "/connections/{id}/schemas", "schema"),
    ("GET", "/connections/{id}/tables", None),
]
CONNECTION_ROUTES = [r for r in ROUTES if r[1].startswith("/connections")]
ID_ROUTES = [r for r in ROUTES if "{id}" in r[1]]


def send(client: Api, method: str, path: str, body: str | None, id_: str = DUMMY_ID):
    kwargs = {}
    if body == "spec":
        kwargs["json"] = connection_spec()
    elif body == "schema":
        kwargs["json"] = "sales"
    return client.request(method, path.replace("{id}", id_), **kwargs)


@pytest.mark.parametrize("method, path, body", ROUTES)
@pytest.mark.parametrize("key", [None, "wrong-key", ""], ids=["missing", "wrong", "empty"])
def test_every_route_needs_a_valid_key(server, method, path, body, key):
    response = send(Api(server.url, key), method, path, body)
    assert response.status_code == 401
    assert response.json() == {"error": "missing or invalid API key (send it in the X-API-Key header)"}


def test_a_near_miss_key_is_refused(server, api):
    assert Api(server.url, api.key[:-1]).get("/user").status_code == 401
    assert Api(server.url, api.key + "x").get("/user").status_code == 401
    assert Api(server.url, api.key.upper() if api.key.upper() != api.key else api.key.lower()).get("/user").status_code == 401


def test_malformed_body_without_key_is_401_not_400(server):
    response = Api(server.url, None).post(
        "/connections", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


def test_health_and_openapi_need_no_key(server):
    anonymous = Api(server.url, None)
    assert anonymous.get("/health").json() == {"status": "ok"}
    assert anonymous.get("/openapi.json").status_code == 200


def test_user_answers_with_the_key(server, fresh_key):
    response = Api(server.url, fresh_key).get("/user")
    assert response.status_code == 200
    assert response.json() == {"apiKey": fresh_key}


def test_user_configs_counts_the_keys_connections(api):
    assert api.get("/user/configs").json() == {"connections": 0, "streams": []}
    api.create(connection_spec())
    assert api.get("/user/configs").json() == {"connections": 1, "streams": []}


@pytest.mark.parametrize("method, path, body", CONNECTION_ROUTES)
def test_strict_configs_refuses_connection_routes_before_user_configs(server, fresh_key, method, path, body):
    client = Api(server.url, fresh_key)
    response = send(client, method, path, body)
    assert response.status_code == 409
    assert response.json() == {"error": "call /user/configs first"}
    assert client.get("/user").status_code == 200  # not a connection route
    assert client.get("/user/configs").status_code == 200
    assert send(client, method, path, body).status_code != 409


def test_strict_configs_is_per_key(server, api):
    assert api.get("/connections").status_code == 200
    assert Api(server.url, server.take_key()).get("/connections").status_code == 409


def test_strict_configs_comes_before_body_validation(server, fresh_key):
    response = Api(server.url, fresh_key).post("/connections", json={"bad": 1})
    assert response.status_code == 409


def test_without_strict_configs_no_session_is_needed(timeout_server):
    client = timeout_server.api(session=False)
    assert client.get("/connections").status_code == 200


@pytest.mark.parametrize("method, path, body", ID_ROUTES)
def test_another_keys_connection_is_404_on_every_route(api, other_api, method, path, body):
    theirs = other_api.create(connection_spec("theirs"))
    response = send(api, method, path, body, id_=theirs["id"])
    assert response.status_code == 404
    assert response.json() == {"error": f"connection '{theirs['id']}' not found"}
    # ... and nothing happened to it
    assert other_api.get(f"/connections/{theirs['id']}").json()["name"] == "theirs"
    assert [c["name"] for c in other_api.get("/connections").json()] == ["theirs"]


def test_lists_show_only_the_keys_own_connections(api, other_api):
    mine = api.create(connection_spec("mine"))
    other_api.create(connection_spec("theirs"))
    assert [c["id"] for c in api.get("/connections").json()] == [mine["id"]]
