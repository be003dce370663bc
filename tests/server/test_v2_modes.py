"""2.x with --hide-passwords, every kind's secrets at rest, choosing the dialect, the v1-only
options, and one data directory served by both dialects."""

import base64
import secrets

import pytest

from server_helpers import ServerProcess, connection_spec, items, nested
from test_modes import self_signed
from test_storage import all_bytes, run_cli


def with_secrets():
    """One connection of every kind, each secret a fresh value; and the secrets."""
    token = secrets.token_hex(6)
    client_key = base64.b64encode(b"-----BEGIN PRIVATE KEY-----" + secrets.token_bytes(24)).decode()
    bodies = [
        nested(connection_spec("pg", password="pg-pw-" + token,
                               ssl={"mode": "verify-full", "ca": "Q0E=", "client_key": client_key})),
        {"name": "files", "type": "files", "spec": {"files": {"basePath": "/srv"}}},
        {"name": "s3", "type": "s3", "spec": {"s3": {"region": "r", "credentials": {
            "accessKey": "AK", "secretKey": "s3-secret-" + token, "sessionToken": "s3-token-" + token}}}},
        {"name": "sf", "type": "snowflake", "spec": {"snowflake": {"account": "a", "username": "u",
                                                                   "password": "sf-pw-" + token}}},
    ]
    return bodies, ["pg-pw-" + token, client_key, "s3-secret-" + token, "s3-token-" + token, "sf-pw-" + token]


@pytest.fixture(scope="module")
def hidden2(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("hidden2"), key_count=10, api_version=2, args=["--hide-passwords"])
    proc.start()
    yield proc
    proc.stop()


def test_hide_passwords_keeps_every_kinds_secrets_out_of_every_answer(hidden2):
    client = hidden2.api(session=False)
    bodies, hidden = with_secrets()
    answers = []
    for body in bodies:
        created = client.post("/connections", json=body)
        clone = client.put(f"/connections/{created.json()['id']}/clone")
        answers += [created, clone, client.get(f"/connections/{created.json()['id']}"),
                    client.get(f"/connections/{clone.json()['id']}"),
                    client.put(f"/connections/{created.json()['id']}", json=body)]
    answers.append(client.get("/connections"))
    for answer in answers:
        assert answer.status_code in (200, 201), answer.text
        for secret in hidden:
            assert secret not in answer.text
    listed = {c["name"]: c for c in items(answers[-1].json())}
    assert listed["pg"]["spec"]["database"] == {k: v for k, v in bodies[0]["spec"]["database"].items() if k != "password"}
    assert listed["pg"]["ssl"] == {"mode": "verify-full", "ca": "Q0E="}
    assert listed["s3"]["spec"]["s3"]["credentials"] == {"accessKey": "AK"}
    assert "password" not in listed["sf"]["spec"]["snowflake"]


def test_hide_passwords_still_uses_the_password_for_probes(hidden2, databases):
    client = hidden2.api(session=False)
    created = client.create(nested(databases.pg_spec()))
    assert client.post(f"/connections/{created['id']}/ping").json() == {"ping": "ok"}


def test_every_kinds_secrets_are_sealed_at_rest(server2):
    client = server2.api(session=False)
    bodies, hidden = with_secrets()
    for body in bodies:
        created = client.create(body)
        client.put(f"/connections/{created['id']}/clone")
    assert len(items(client.get("/connections").json())) == 8
    for path, content in all_bytes(server2.data_dir).items():
        for secret in hidden + [client.key]:
            assert secret.encode() not in content, f"{secret[:6]}... found in {path}"


def test_the_default_dialect_is_2x(tmp_path, monkeypatch):
    monkeypatch.delenv("DBCS_API_VERSION", raising=False)
    default = ServerProcess(tmp_path, key_count=1, api_version=None)
    default.start()
    try:
        assert default.install_id is not None  # /system/defaults answered: 2.x
        assert default.api(session=False).get("/connections").json() == {"items": [], "total": 0, "filtered": 0}
    finally:
        default.stop()


@pytest.mark.parametrize("option", ["--strict-configs", "--list-summary", "--sparse-create"])
def test_v1_only_options_are_refused_with_api_version_2(tmp_path, option):
    result = run_cli("--api-version", "2", option, "--data-dir", str(tmp_path / "d"), env={"DBCS_API_KEYS": "k"})
    assert result.returncode == 2
    assert f"{option} imitates the v1 API; it has no meaning with --api-version 2" in result.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was made


@pytest.mark.parametrize("args, env", [(["--api-version", "3"], {}), ([], {"DBCS_API_VERSION": "auto"})])
def test_an_unknown_api_version_is_refused(tmp_path, args, env):
    result = run_cli(*args, "--data-dir", str(tmp_path / "d"), env={"DBCS_API_KEYS": "k", **env})
    assert result.returncode == 2
    assert "--api-version (or DBCS_API_VERSION) must be 1 or 2" in result.stderr


def test_dbcs_api_version_1_in_the_environment_serves_v1(tmp_path, monkeypatch):
    monkeypatch.setenv("DBCS_API_VERSION", "1")
    proc = ServerProcess(tmp_path, key_count=1, api_version=None)
    proc.start()
    try:
        assert proc.client(None).get("/system/defaults").status_code == 404
        assert proc.api(proc.key).get("/connections").json() == []
    finally:
        proc.stop()


def test_one_data_directory_served_by_both_dialects(tmp_path):
    """A v1 server on a directory a 2.x server wrote shows what v1 can carry, and keeps the rest."""
    proc2 = ServerProcess(tmp_path, key_count=1, api_version=2)
    proc2.start()
    try:
        client = proc2.api(proc2.key, session=False)
        pg = client.create(nested(connection_spec("pg")))
        lake = client.create({"name": "lake", "type": "s3", "spec": {"s3": {"region": "r"}}})
    finally:
        proc2.stop()
    proc1 = ServerProcess(tmp_path, key_count=0, api_version=1, data_dir=proc2.data_dir)
    proc1.keys = proc2.keys
    proc1.start()
    try:
        v1 = proc1.api(proc1.key)
        assert [c["id"] for c in v1.get("/connections").json()] == [pg["id"]]
        assert v1.get("/user/configs").json()["connections"] == 1
        assert v1.get(f"/connections/{lake['id']}").status_code == 404
        assert v1.delete(f"/connections/{lake['id']}").status_code == 404
        assert v1.put(f"/connections/{lake['id']}/clone").status_code == 404
        assert v1.post("/connections", json=connection_spec("lake")).status_code == 409  # the name is still taken
    finally:
        proc1.stop()
    proc2.start()
    try:
        names = [c["name"] for c in items(proc2.api(proc2.key, session=False).get("/connections").json())]
        assert names == ["pg", "lake"]
    finally:
        proc2.stop()


def test_tls_serves_2x_too(tmp_path):
    cert_file, key_file = self_signed(tmp_path)
    proc = ServerProcess(tmp_path, key_count=1, api_version=2, verify=str(cert_file),
                         args=["--tls-cert", str(cert_file), "--tls-key", str(key_file)])
    proc.start()
    try:
        assert proc.install_id  # read over HTTPS, verified against the certificate
        assert proc.api(session=False).get("/connections").json()["total"] == 0
    finally:
        proc.stop()


def test_the_request_log_of_2x_has_five_keys_and_no_secret(server2):
    client = server2.api(session=False)
    bodies, hidden = with_secrets()
    for body in bodies:
        client.post("/connections", json=body)
    client.get("/connections", params={"search": "q-" + secrets.token_hex(6)})
    client.post("/connections/test", json=bodies[0])
    for entry in server2.log_entries():
        assert set(entry) == {"time", "method", "path", "status", "duration_ms"} and "?" not in entry["path"]
    logged = server2.request_log.read_text() + server2.stderr()
    for secret in hidden + [client.key]:
        assert secret not in logged
    assert ("/api/v1/connections/test", 503) in {(e["path"], e["status"]) for e in server2.log_entries()}
