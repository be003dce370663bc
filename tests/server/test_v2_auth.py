"""2.x auth: X-API-Key and X-Install-ID on every authenticated route, the install id itself, and
each key seeing only its own connections on every route."""

import os
import stat
import uuid

import pytest
import requests

from server_helpers import Api, ServerProcess, connection_spec, nested
from test_storage import run_cli

DUMMY_ID = "conn_" + "7" * 27
CONFIRM = {"X-Confirm-Delete": "true"}

# Every authenticated route of 2.x, with a body that would be valid.
ROUTES = [
    ("GET", "/user", None),
    ("GET", "/user/configs", None),
    ("GET", "/services/status", None),
    ("PUT", "/system/sql-logging", "logging"),
    ("GET", "/connections", None),
    ("POST", "/connections", "spec"),
    ("POST", "/connections/test", "spec"),
    ("GET", "/connections/{id}", None),
    ("PUT", "/connections/{id}", "spec"),
    ("DELETE", "/connections/{id}", None),
    ("POST", "/connections/{id}/ping", None),
    ("PUT", "/connections/{id}/clone", None),
    ("GET", "/connections/{id}/databases", None),
    ("POST", "/connections/{id}/databases", "name"),
    ("GET", "/connections/{id}/databases/{db}/tables", None),
    ("POST", "/connections/{id}/databases/{db}/schemas", "name"),
    ("GET", "/stream-configs", None),
    ("POST", "/stream-configs", "stream"),
    ("GET", "/stream-configs/{id}", None),
    ("PUT", "/stream-configs/{id}", "stream"),
    ("DELETE", "/stream-configs/{id}", None),
    ("PUT", "/stream-configs/{id}/clone", None),
    ("POST", "/stream-configs/{id}/start", None),
    ("GET", "/stream-configs/{id}/history", None),
    ("GET", "/streams", None),
    ("GET", "/streams/{id}/stats", None),
    ("POST", "/streams/{id}/pause", None),
    ("POST", "/streams/{id}/resume", None),
    ("POST", "/streams/{id}/stop", None),
]
PUBLIC = [("GET", "/health"), ("GET", "/ready"), ("GET", "/system/defaults"), ("GET", "/openapi.json")]
# The connection routes with an id (the stream routes' ids: test_streams_isolation.py).
ID_ROUTES = [r for r in ROUTES if r[1].startswith("/connections/{id}")]


def send(client: Api, method: str, path: str, body: str | None, id_: str = DUMMY_ID, database: str = "app"):
    kwargs: dict = {"headers": dict(CONFIRM)}
    if body == "spec":
        kwargs["json"] = nested(connection_spec())
    elif body == "name":
        kwargs["json"] = "sales"
    elif body == "logging":
        kwargs["json"] = {"sqlCaptureMode": "minimal"}
    elif body == "stream":
        kwargs["json"] = {"name": "s", "mode": "load", "source": {"connections": [{"connectionId": id_}]},
                          "target": {"id": id_, "spec": {"db": {"database": database}}}}
    return client.request(method, path.replace("{id}", id_).replace("{db}", database), **kwargs)


def test_the_route_list_is_every_authenticated_route_of_the_document(server2):
    document = requests.get(server2.url + "/openapi.json", timeout=10).json()
    secured = {(m.upper(), p.removeprefix("/api/v1")) for p, item in document["paths"].items()
               for m, op in item.items() if op.get("security")}
    assert secured == {(m, p) for m, p, _b in ROUTES}


@pytest.mark.parametrize("method, path, body", ROUTES)
@pytest.mark.parametrize("key", [None, "wrong-key", ""], ids=["missing", "wrong", "empty"])
def test_every_route_needs_a_valid_key_even_with_the_install_id(server2, method, path, body, key):
    response = send(Api(server2.url, key, install_id=server2.install_id), method, path, body)
    assert response.status_code == 401
    assert response.json() == {"error": "missing or invalid API key (send it in the X-API-Key header)",
                               "code": "UNAUTHORIZED"}


@pytest.mark.parametrize("method, path, body", ROUTES)
@pytest.mark.parametrize("install_id", [None, "", "wrong", str(uuid.uuid4())], ids=["missing", "empty", "wrong", "other"])
def test_every_route_needs_the_install_id(server2, method, path, body, install_id):
    client = Api(server2.url, server2.take_key(), install_id=install_id)
    before = server2.api(client.key, session=False).get("/connections").json()
    response = send(client, method, path, body)
    assert response.status_code == 401
    assert response.json() == {
        "error": "missing or wrong X-Install-ID header: send the installId that GET /system/defaults answers",
        "code": "INSTALL_ID_REQUIRED",
    }
    assert server2.api(client.key, session=False).get("/connections").json() == before  # nothing was written


def test_a_malformed_body_without_the_install_id_is_401_not_400(server2):
    client = Api(server2.url, server2.take_key())
    response = client.post("/connections", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 401 and response.json()["code"] == "INSTALL_ID_REQUIRED"


@pytest.mark.parametrize("method, path", PUBLIC)
def test_public_routes_need_neither_header(server2, method, path):
    assert Api(server2.url, None).request(method, path).status_code == 200


def test_system_defaults_gives_the_install_id(server2):
    body = Api(server2.url, None).get("/system/defaults").json()
    assert body == {"installId": server2.install_id, "mode": "server",
                    "defaultExportPath": str(server2.data_dir / "exports")}
    uuid.UUID(body["installId"])
    assert server2.api(session=False).get("/user").status_code == 200  # with it, a key is in


def test_the_install_id_is_kept_in_the_data_directory_and_stable_across_restarts(tmp_path):
    proc = ServerProcess(tmp_path, key_count=1, api_version=2)
    proc.start()
    try:
        first = proc.install_id
        client = proc.api(session=False)
        created = client.create(nested(connection_spec()))
        path = proc.data_dir / "install-id"
        assert path.read_text().strip() == first
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        proc.restart()
        assert proc.install_id == first
        again = Api(proc.url, client.key, install_id=first)  # what a client read before the restart still works
        assert again.get(f"/connections/{created['id']}").status_code == 200
    finally:
        proc.stop()
    (tmp_path / "other").mkdir()
    other = ServerProcess(tmp_path / "other", key_count=1, api_version=2)
    other.start()
    try:
        assert other.install_id != first  # made per data directory
        assert Api(other.url, other.key, install_id=first).get("/user").status_code == 401
    finally:
        other.stop()


def test_a_damaged_install_id_file_is_refused_at_start(tmp_path):
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    (data / "install-id").write_text("not an id\n")
    result = run_cli("--data-dir", str(data), env={"DBCS_API_KEYS": "k"})
    assert result.returncode == 2
    assert f"the install id file {data / 'install-id'} does not hold an install id; remove it" in result.stderr


@pytest.mark.parametrize("method, path, body", ID_ROUTES)
def test_another_keys_connection_is_404_on_every_route(api2, other_api2, method, path, body):
    theirs = other_api2.create(nested(connection_spec("theirs")))
    before = other_api2.get("/connections").json()
    response = send(api2, method, path, body, id_=theirs["id"])
    assert response.status_code == 404
    assert response.json() == {"error": f"connection '{theirs['id']}' not found", "code": "NOT_FOUND"}
    assert other_api2.get("/connections").json() == before  # ... and nothing happened to it


def test_lists_and_counts_show_only_the_keys_own_connections(api2, other_api2):
    mine = api2.create(nested(connection_spec("shared-name")))
    other_api2.create(nested(connection_spec("shared-name")))
    other_api2.create(nested(connection_spec("theirs-only")))
    body = api2.get("/connections", params={"search": "theirs"}).json()
    assert body == {"items": [], "total": 1, "filtered": 0}
    assert [c["id"] for c in api2.get("/connections").json()["items"]] == [mine["id"]]
    assert api2.get("/user/configs").json() == {"connections": 1, "streams": []}
    assert api2.get("/user").json()["apiKey"] == api2.key
