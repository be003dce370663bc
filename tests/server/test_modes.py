"""The options that imitate other servers: --hide-passwords, --list-summary, --sparse-create;
and how the server is reached: CORS and TLS."""

import datetime
import ipaddress
import json
import socket

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server_helpers import ServerProcess, connection_spec

SSL = {"mode": "verify-full", "ca": "Q0E=", "client_cert": "Q0VSVA==", "client_key": "S0VZX1NFQ1JFVA=="}


@pytest.fixture(scope="module")
def vendor_like(tmp_path_factory):
    """All three imitation options at once; each test looks at one of them."""
    proc = ServerProcess(tmp_path_factory.mktemp("modes"), key_count=20,
                         args=["--hide-passwords", "--list-summary", "--sparse-create"])
    proc.start()
    yield proc
    proc.stop()


def test_hide_passwords_keeps_secrets_out_of_every_answer(vendor_like):
    client = vendor_like.api()
    spec = connection_spec(ssl=SSL)
    created = client.post("/connections", json=spec)
    clone = client.put(f"/connections/{created.json()['id']}/clone")
    answers = [
        created,
        clone,
        client.get("/connections"),
        client.get(f"/connections/{created.json()['id']}"),
        client.get(f"/connections/{clone.json()['id']}"),
        client.put(f"/connections/{created.json()['id']}", json=spec),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.text
        assert spec["password"] not in answer.text
        assert SSL["client_key"] not in answer.text
    single = answers[3].json()
    assert "password" not in single
    assert single["ssl"] == {k: v for k, v in SSL.items() if k != "client_key"}
    assert single["username"] == spec["username"]


def test_hide_passwords_still_uses_the_password_for_probes(vendor_like, databases):
    client = vendor_like.api()
    created = client.post("/connections", json=databases.pg_spec()).json()
    assert client.post(f"/connections/{created['id']}/ping").json() == {"ping": "ok"}


def test_list_summary_returns_only_the_documented_fields(vendor_like):
    client = vendor_like.api()
    spec = connection_spec(schema="s", ssl={"mode": "require"})
    created = client.post("/connections", json=spec).json()
    items = client.get("/connections").json()
    assert items == [{k: v for k, v in {**spec, "id": created["id"]}.items() if k in ("id", "name", "type", "host", "port")}]
    full = client.get(f"/connections/{created['id']}").json()
    assert full["username"] == spec["username"] and full["schema"] == "s"


def test_sparse_create_answers_only_id_and_created(vendor_like):
    client = vendor_like.api()
    response = client.post("/connections", json=connection_spec("sparse"))
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "created"}
    clone = client.put(f"/connections/{body['id']}/clone")
    assert clone.status_code == 200
    assert set(clone.json()) == {"id", "created"}
    assert client.get(f"/connections/{clone.json()['id']}").json()["name"] == "sparse-copy"


def test_default_list_includes_passwords(api):
    spec = connection_spec()
    api.create(spec)
    assert api.get("/connections").json()[0]["password"] == spec["password"]


# -- CORS -----------------------------------------------------------------------------------

ORIGIN = "http://ui.example"


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("cors"), key_count=5, args=["--cors-origin", ORIGIN])
    proc.start()
    yield proc
    proc.stop()


def preflight(url, origin, headers="content-type,x-api-key", method="POST"):
    return requests.options(url, timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers,
    })


def test_cors_preflight_from_a_trusted_origin_needs_no_key(cors_server):
    response = preflight(cors_server.url + "/connections", ORIGIN)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "x-api-key" in allowed and "content-type" in allowed


def test_cors_preflight_from_another_origin_is_refused_in_the_error_shape(cors_server):
    response = preflight(cors_server.url + "/connections", "http://evil.example")
    assert response.status_code == 400
    assert response.json() == {"error": "Disallowed CORS origin"}
    assert "access-control-allow-origin" not in response.headers


def test_cors_headers_on_real_requests_from_the_trusted_origin(cors_server):
    response = requests.get(cors_server.url + "/user", timeout=10,
                            headers={"Origin": ORIGIN, "X-API-Key": cors_server.key})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_no_cors_without_cors_origin(server):
    response = preflight(server.url + "/connections", ORIGIN)
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code in (401, 405)


# -- TLS ------------------------------------------------------------------------------------


def self_signed(workdir):
    """A certificate for 127.0.0.1 and its key, as files in workdir."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = workdir / "cert.pem", workdir / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tls")
    cert_file, key_file = self_signed(workdir)
    proc = ServerProcess(workdir, key_count=3, args=["--tls-cert", str(cert_file), "--tls-key", str(key_file)],
                         verify=str(cert_file))
    proc.start()
    yield proc, cert_file
    proc.stop()


def test_tls_serves_https_with_the_given_certificate(tls_server):
    proc, cert_file = tls_server
    with requests.Session() as session:
        response = session.get(proc.url + "/user", headers={"X-API-Key": proc.key}, verify=str(cert_file), timeout=10)
    assert response.status_code == 200
    assert response.json() == {"apiKey": proc.key}
    # Plain HTTP to the TLS port gets no HTTP answer.
    with socket.create_connection(("127.0.0.1", proc.port), 5) as plain:
        plain.settimeout(5)
        plain.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            answer = plain.recv(100)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"HTTP/")


def test_request_log_lines_are_json(vendor_like):
    entries = vendor_like.log_entries()
    assert entries and all(set(e) == {"time", "method", "path", "status", "duration_ms"} for e in entries)
    json.dumps(entries)
