"""Key isolation on every stream route: another key's configuration or run is unknown (404, the
same answer as an id nobody has), nothing of it is changed or shown, lists show only the key's own."""

import pytest
import requests

from streams_helpers import CONFIRM, Pair, config_body, create_source, run_config, sample_rows

STREAM_PATHS = ("/stream-configs", "/streams")


def stream_operations(server):
    document = requests.get(server.url + "/openapi.json", timeout=10).json()
    return sorted((method.upper(), path.removeprefix("/api/v1")) for path, item in document["paths"].items()
                  for method in item if path.removeprefix("/api/v1").startswith(STREAM_PATHS))


def test_every_stream_route_is_covered_here(server2):
    assert set(stream_operations(server2)) == set(ID_ROUTES) | {
        ("GET", "/stream-configs"), ("POST", "/stream-configs"), ("GET", "/streams")}


ID_ROUTES = [
    ("GET", "/stream-configs/{id}"), ("PUT", "/stream-configs/{id}"), ("DELETE", "/stream-configs/{id}"),
    ("PUT", "/stream-configs/{id}/clone"), ("POST", "/stream-configs/{id}/start"),
    ("GET", "/stream-configs/{id}/history"), ("GET", "/streams/{id}/stats"), ("POST", "/streams/{id}/pause"),
    ("POST", "/streams/{id}/resume"), ("POST", "/streams/{id}/stop"),
]


@pytest.fixture
def victim(api2, databases, fresh_db):
    """The victim key: a configuration with a finished run."""
    create_source(databases, "mysql", fresh_db, "items", sample_rows(5))
    pair = Pair(api2, databases, fresh_db)
    config, stats = run_config(api2, config_body("victim-config", pair.my, pair.pg, fresh_db, tables=["items"]))
    return pair, config, stats


def snapshot(api, config, stats):
    return (api.get("/stream-configs").json(), api.get(f"/stream-configs/{config['id']}/history").json(),
            api.get("/streams").json(), api.get(f"/streams/{stats['id']}/stats").json())


@pytest.mark.parametrize("method, path", ID_ROUTES)
def test_another_keys_configuration_or_run_is_404_on_every_route(victim, other_api2, databases, method, path):
    pair, config, stats = victim
    before = snapshot(pair.api, config, stats)
    # The attacker's own connections, in a body that would be valid for them.
    attacker = Pair(other_api2, databases, pair.database)
    body = config_body("attacker", attacker.my, attacker.pg, pair.database, tables=["items"])
    target = config["id"] if path.startswith("/stream-configs") else stats["id"]
    response = other_api2.request(method, path.replace("{id}", target), headers=CONFIRM,
                                  json=body if method == "PUT" and path.endswith("{id}") else None)
    what = "stream configuration" if path.startswith("/stream-configs") else "stream"
    assert response.status_code == 404
    assert response.json() == {"error": f"{what} '{target}' not found", "code": "NOT_FOUND"}
    assert snapshot(pair.api, config, stats) == before
    assert other_api2.get("/stream-configs").json() == {"items": [], "total": 0, "filtered": 0}


def test_lists_show_only_the_keys_own(victim, other_api2):
    pair, config, stats = victim
    assert other_api2.get("/streams").json() == []
    assert other_api2.get("/stream-configs", params={"search": "victim"}).json() == {
        "items": [], "total": 0, "filtered": 0, "search": "victim"}
    assert [c["id"] for c in pair.api.get("/stream-configs").json()["items"]] == [config["id"]]
    assert [s["id"] for s in pair.api.get("/streams").json()] == [stats["id"]]


def test_names_are_unique_per_key_only(victim, other_api2, databases):
    pair, _config, _stats = victim
    attacker = Pair(other_api2, databases, pair.database)
    body = config_body("victim-config", attacker.my, attacker.pg, pair.database, tables=["items"])
    response = other_api2.post("/stream-configs", json=body)
    assert response.status_code == 201
