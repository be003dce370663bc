# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the API client's retry and error rules, against a scripted HTTP server on 127.0.0.1.

The faults (503s, non-JSON answers, refused connections) are produced for real by a small server in
a thread that answers from a script; the real Connection API server is exercised by the integration
tests.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import socket
import ssl
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_client import (
    DbcsApiError, DbcsCheckModeWrite, DbcsClient, DbcsOutcomeUnknown)
from ansible_collections.dbconvert.streams.tests.unit.plugins.module_utils.scripted_server import CONN_ID, client_for


def test_the_session_starts_once_before_anything_else(server):
    client = client_for(server)
    client.list_connections()
    client.list_connections()
    assert server.calls() == [("GET", "/api/v1/system/defaults"), ("GET", "/api/v1/user/configs"),
                              ("GET", "/api/v1/connections"), ("GET", "/api/v1/connections")]
    # The defaults are read without the key (a 2.x server serves them to anyone); everything else carries it.
    assert [key for _m, _p, key, _b in server.requests] == [None, "the-key", "the-key", "the-key"]


def test_get_is_retried_on_503_then_succeeds(server):
    server.on("GET", "/connections", (503, {"error": "busy"}), (503, {"error": "busy"}), (200, [{"id": CONN_ID}]))
    assert client_for(server).list_connections() == [{"id": CONN_ID}]
    assert server.calls("GET").count(("GET", "/api/v1/connections")) == 3


def test_retries_are_bounded_and_the_error_is_clear(server):
    server.on("GET", "/connections", (502, {"error": "bad gateway"}))
    with pytest.raises(DbcsApiError) as caught:
        client_for(server, retries=2).list_connections()
    assert caught.value.message == "Could not list connections: HTTP 502: bad gateway"
    assert server.calls("GET").count(("GET", "/api/v1/connections")) == 3


def test_failed_ping_is_a_result_and_is_not_retried(server):
    server.on("POST", "/connections/%s/ping" % CONN_ID, (503, {"ping": "failed", "error": "password authentication failed"}))
    assert client_for(server).ping_connection(CONN_ID) == (False, "password authentication failed")
    assert server.calls("POST") == [("POST", "/api/v1/connections/%s/ping" % CONN_ID)]


def test_ping_with_ok_body(server):
    server.on("POST", "/connections/%s/ping" % CONN_ID, (200, {"ping": "ok"}))
    assert client_for(server).ping_connection(CONN_ID) == (True, None)


def test_ping_200_with_failed_body_is_a_failure(server):
    server.on("POST", "/connections/%s/ping" % CONN_ID, (200, {"ping": "failed", "error": "timeout"}))
    assert client_for(server).ping_connection(CONN_ID) == (False, "timeout")


def test_create_with_unknown_outcome_reads_back_instead_of_resending(server):
    server.on("POST", "/connections", (502, {"error": "bad gateway"}))
    server.on("GET", "/connections", (200, [{"id": CONN_ID, "name": "pg"}]))
    assert client_for(server).create_connection({"name": "pg"}) == CONN_ID
    assert server.calls("POST") == [("POST", "/api/v1/connections")]


def test_create_is_resent_only_when_the_read_back_finds_nothing(server):
    server.on("POST", "/connections", (503, {"error": "unavailable"}), (201, {"id": CONN_ID, "created": 1}))
    server.on("GET", "/connections", (200, []))
    assert client_for(server).create_connection({"name": "pg"}) == CONN_ID
    assert server.calls("POST") == [("POST", "/api/v1/connections")] * 2


def test_create_accepts_the_vendor_id_only_answer(server):
    server.on("POST", "/connections", (200, {"id": CONN_ID, "created": 1735689600}))
    assert client_for(server).create_connection({"name": "pg"}) == CONN_ID


def test_create_client_error_is_not_retried(server):
    server.on("POST", "/connections", (409, {"error": "a connection named 'pg' already exists"}))
    with pytest.raises(DbcsApiError) as caught:
        client_for(server).create_connection({"name": "pg"})
    assert caught.value.message == "Could not create connection 'pg': HTTP 409: a connection named 'pg' already exists"
    assert not isinstance(caught.value, DbcsOutcomeUnknown)
    assert server.calls("POST") == [("POST", "/api/v1/connections")]


def test_clone_is_never_repeated(server):
    server.on("PUT", "/connections/%s/clone" % CONN_ID, (503, {"error": "unavailable"}))
    with pytest.raises(DbcsApiError):
        client_for(server).clone_connection(CONN_ID)
    assert server.calls("PUT") == [("PUT", "/api/v1/connections/%s/clone" % CONN_ID)]


def test_delete_of_a_connection_already_gone_is_not_a_failure(server):
    server.on("DELETE", "/connections/%s" % CONN_ID, (404, {"error": "not found"}))
    client_for(server).delete_connection(CONN_ID)


def test_401_says_which_option_supplies_the_key(server):
    server.on("GET", "/user/configs", (401, {"error": "invalid API key"}))
    with pytest.raises(DbcsApiError) as caught:
        client_for(server).list_connections()
    assert caught.value.status == 401
    assert "invalid API key" in caught.value.message
    assert "api_key option or the DBCS_API_KEY environment variable" in caught.value.message


def test_fastapi_detail_shape_is_understood(server):
    server.on("GET", "/connections/%s" % CONN_ID, (400, {"detail": "bad thing"}))
    with pytest.raises(DbcsApiError, match=r"HTTP 400: bad thing$"):
        client_for(server).get_connection(CONN_ID)


def test_missing_connection_is_none_when_allowed(server):
    server.on("GET", "/connections/%s" % CONN_ID, (404, {"error": "no connection"}))
    assert client_for(server).get_connection(CONN_ID, missing_ok=True) is None
    with pytest.raises(DbcsApiError, match=r"HTTP 404: no connection$"):
        client_for(server).get_connection(CONN_ID)


def test_html_answer_points_at_api_url(server):
    server.on("GET", "/connections", (200, "<html>login</html>", "text/html"))
    with pytest.raises(DbcsApiError) as caught:
        client_for(server).list_connections()
    assert "is text/html, not JSON" in caught.value.message and "api_url" in caught.value.message


def test_connection_refused_names_the_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = "http://127.0.0.1:%d/api/v1" % port
    with pytest.raises(DbcsApiError) as caught:
        DbcsClient(url, "k", retries=1, backoff=0.001).list_connections()
    assert url in caught.value.message and "refused" in caught.value.message.lower()
    assert "DBCS_API_URL" in caught.value.message


def test_read_only_client_refuses_every_write(server):
    client = client_for(server, read_only=True)
    client.list_connections()
    for call in (lambda: client.create_connection({"name": "x"}), lambda: client.update_connection(CONN_ID, {}),
                 lambda: client.delete_connection(CONN_ID), lambda: client.ping_connection(CONN_ID)):
        with pytest.raises(DbcsCheckModeWrite):
            call()
    assert server.calls("POST") == server.calls("PUT") == server.calls("DELETE") == []


def test_schema_body_is_a_json_string_and_database_a_query_value(server):
    server.on("POST", "/connections/%s/schemas" % CONN_ID, (201, {"status": "success"}))
    client_for(server).create_schema(CONN_ID, "appdb", "sales")
    method, path, _key, body = server.requests[-1]
    assert (method, path, json.loads(body)) == ("POST", "/api/v1/connections/%s/schemas" % CONN_ID, "sales")


def test_resent_create_that_meets_its_first_attempt_takes_it(server):
    # The first POST timed out at a gateway but landed; the read-back ran before it was stored.
    server.on("POST", "/connections", (504, {"error": "gateway timeout"}), (409, {"error": "a connection named 'pg' already exists"}))
    server.on("GET", "/connections", (200, []), (200, [{"id": CONN_ID, "name": "pg"}]))
    assert client_for(server).create_connection({"name": "pg"}) == CONN_ID
    assert server.calls("POST") == [("POST", "/api/v1/connections")] * 2


@pytest.mark.parametrize("reader, part", [("list_databases", "databases"), ("list_tables", "tables")])
def test_a_database_read_that_the_database_refuses_is_not_retried(server, reader, part):
    # The server logged in to the database and failed: repeating failed logins could lock the account.
    server.on("GET", "/connections/%s/%s" % (CONN_ID, part), (503, {"error": "password authentication failed"}))
    with pytest.raises(DbcsApiError) as caught:
        getattr(client_for(server), reader)(CONN_ID, "warehouse")
    assert caught.value.status == 503
    assert caught.value.message == "Could not list %s of connection 'warehouse' (%s): HTTP 503: password authentication failed" % (
        part, CONN_ID)
    assert server.calls("GET").count(("GET", "/api/v1/connections/%s/%s" % (CONN_ID, part))) == 1


def test_a_database_read_is_still_retried_after_a_gateway_error(server):
    server.on("GET", "/connections/%s/databases" % CONN_ID, (502, {"error": "bad gateway"}), (200, [{"name": "appdb"}]))
    assert client_for(server).list_databases(CONN_ID) == [{"name": "appdb"}]


GATEWAY_PAGE = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
                "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def test_a_gateway_html_page_becomes_its_title(server):
    server.on("GET", "/connections", (502, GATEWAY_PAGE, "text/html"))
    with pytest.raises(DbcsApiError) as caught:
        client_for(server, retries=1).list_connections()
    assert caught.value.message == ("Could not list connections: HTTP 502: Bad Gateway "
                                    "(an HTML page, not an answer of the Connection API)")


def test_an_html_page_without_a_title_gives_the_reason(server):
    server.on("POST", "/connections", (500, "<!DOCTYPE html><html><body><p>oops</p></body></html>", "text/html"))
    server.on("GET", "/connections", (200, [{"id": CONN_ID, "name": "other"}]))
    with pytest.raises(DbcsApiError) as caught:
        client_for(server, retries=0).create_connection({"name": "pg"})
    assert caught.value.message == ("Could not create connection 'pg': HTTP 500: Internal Server Error "
                                    "(an HTML page, not an answer of the Connection API)")


def test_a_plain_text_error_is_one_line(server):
    server.on("GET", "/connections", (400, "bad\r\n  request\nbody", "text/plain"))
    with pytest.raises(DbcsApiError, match=r"HTTP 400: bad request body$"):
        client_for(server).list_connections()


def test_a_gateway_503_on_a_ping_is_a_failure_not_a_test_result(server):
    # The API's failed test is a JSON 503; a gateway's HTML 503 says nothing about the database.
    page = GATEWAY_PAGE.replace("502 Bad Gateway", "503 Service Unavailable")
    server.on("POST", "/connections/%s/ping" % CONN_ID, (503, page, "text/html"))
    with pytest.raises(DbcsApiError) as caught:
        client_for(server).ping_connection(CONN_ID, "pg")
    assert caught.value.status == 503
    assert caught.value.message == ("Could not test connection 'pg' (%s): HTTP 503: Service Unavailable "
                                    "(an HTML page, not an answer of the Connection API)" % CONN_ID)


def test_a_404_on_the_session_start_points_at_api_url_even_in_json(server):
    # The local server without /api/v1 in api_url answers every path with a JSON 404.
    server.on("GET", "/user/configs", (404, {"error": "not found"}))
    with pytest.raises(DbcsApiError) as caught:
        client_for(server).list_connections()
    assert caught.value.message == ("Could not start an API session (GET /user/configs): HTTP 404: not found. "
                                    "Check that api_url is the Connection API base URL, e.g. http://HOST:8020/api/v1")


class RawServer(object):
    """Accepts connections on 127.0.0.1 and either resets each one or holds it without answering."""

    def __init__(self, reset):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d/api/v1" % self.sock.getsockname()[1]
        self.held = []
        self.accepted = 0
        self.reset = reset
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.recv(65536)
            if self.reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_reset_connection_is_named_in_plain_words():
    raw = RawServer(reset=True)
    try:
        with pytest.raises(DbcsApiError) as caught:
            DbcsClient(raw.url, "k", retries=1, backoff=0.001).list_connections()
    finally:
        raw.close()
    assert caught.value.message == (
        "Could not start an API session (GET /system/defaults): no answer from %s: connection reset by peer. "
        "Check api_url (or DBCS_API_URL) and that the server is running and reachable" % raw.url)
    assert raw.accepted == 2


def test_a_read_timeout_names_the_timeout_option():
    raw = RawServer(reset=False)
    try:
        with pytest.raises(DbcsApiError) as caught:
            DbcsClient(raw.url, "k", retries=0, timeout=0.2).list_connections()
    finally:
        raw.close()
    assert caught.value.message == (
        "Could not start an API session (GET /system/defaults): no answer from %s within 0.2 s. "
        "Raise the timeout option if the server needs longer, and check that it is working" % raw.url)


def test_a_timeout_that_was_retried_says_how_long_it_took_in_all():
    # timeout bounds each attempt; with retries a request takes longer, and the message says so.
    raw = RawServer(reset=False)
    try:
        with pytest.raises(DbcsApiError) as caught:
            DbcsClient(raw.url, "k", retries=2, backoff=0.01, timeout=0.2).list_connections()
    finally:
        raw.close()
    found = re.search(r"no answer from \S+ within 0.2 s \(3 attempts, ([0-9.]+) s in all\)\. Raise the timeout", caught.value.message)
    assert found, caught.value.message
    assert float(found.group(1)) >= 0.6


@pytest.mark.parametrize("options, expected", [
    (dict(validate_certs=False), False),
    (dict(validate_certs=False, ca_path="/etc/dbcs/ca.pem"), False),
    (dict(ca_path="/etc/dbcs/ca.pem"), "/etc/dbcs/ca.pem"),
    (dict(), "/etc/ssl/bundle-from-env.pem"),  # the default trust honours REQUESTS_CA_BUNDLE
])
def test_certificate_verification_is_what_the_options_say_whatever_the_bundle_variables(monkeypatch, options, expected):
    # requests lets these variables override a session's verify; the options must win over them.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle-from-env.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/bundle-from-env.pem")
    seen = []

    class Recording(requests.adapters.HTTPAdapter):
        """Records what the transport is asked to verify with, and answers {} (no TLS is spoken)."""

        def send(self, request, **kwargs):  # pylint: disable=arguments-differ
            seen.append(kwargs.get("verify"))
            response = requests.Response()
            response.status_code, response._content, response.request = 200, b"[]", request  # pylint: disable=protected-access
            response.headers["Content-Type"] = "application/json"
            return response

    client = DbcsClient("https://127.0.0.1:8020/api/v1", "k", **options)
    client.session.mount("https://", Recording())
    client.list_connections()
    assert seen == [expected] * 3  # /system/defaults, /user/configs, /connections


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a fresh self-signed certificate; answers every GET with []."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, u"127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(u"127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # pylint: disable=invalid-name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")

    class Quiet(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # the refused handshakes are the point of these tests

    httpd = Quiet(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_path), str(key_path))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield "https://127.0.0.1:%d/api/v1" % httpd.server_address[1], str(cert_path)
    httpd.shutdown()
    httpd.server_close()


def test_an_untrusted_certificate_says_to_set_ca_path(tls_server):
    url, _ca = tls_server
    with pytest.raises(DbcsApiError) as caught:
        DbcsClient(url, "k").list_connections()
    assert re.match(r"^Could not start an API session \(GET /system/defaults\): TLS verification of %s failed: certificate "
                    r"verify failed: self[- ]signed certificate\. Set ca_path to the CA that signed the server's certificate "
                    r"\(or validate_certs: false for a server you trust\)$" % re.escape(url), caught.value.message)


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_the_ca_in_ca_path_is_trusted_and_validate_certs_false_trusts_anything(tls_server):
    url, ca = tls_server
    assert DbcsClient(url, "k", ca_path=ca).list_connections() == []
    assert DbcsClient(url, "k", validate_certs=False).list_connections() == []


def test_https_to_a_plain_http_server_says_to_check_the_scheme(server):
    url = server.url.replace("http://", "https://")
    with pytest.raises(DbcsApiError) as caught:
        DbcsClient(url, "k").list_connections()
    assert caught.value.message == ("Could not start an API session (GET /system/defaults): %s does not answer in TLS "
                                    "(wrong version number). Check the scheme of api_url: http:// or https://" % url)


def test_a_create_whose_read_back_fails_too_names_the_connection_and_says_its_fate_is_unknown(server):
    server.on("POST", "/connections", (502, GATEWAY_PAGE, "text/html"))
    server.on("GET", "/connections", (503, {"error": "unavailable"}))
    with pytest.raises(DbcsOutcomeUnknown) as caught:
        client_for(server, retries=1).create_connection({"name": "pg"})
    assert caught.value.message == (
        "Could not create connection 'pg': HTTP 502: Bad Gateway (an HTML page, not an answer of the Connection API). "
        "Whether it was created is unknown: reading the connections back failed too (HTTP 503: unavailable). "
        "Run the task again: it finds the connection if it was created")
    assert server.calls("POST") == [("POST", "/api/v1/connections")]  # never re-sent without a read-back
