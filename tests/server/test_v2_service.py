"""2.x service routes the vendor's web client calls when it starts, the log stream (server-sent
events), and CORS for browsers that send the 2.x headers."""

import json
import time

import pytest
import requests

from server_helpers import Api, ServerProcess

ORIGIN = "http://ui.example"
V2_HEADERS = ["content-type", "x-api-key", "x-install-id", "x-confirm-delete", "idempotency-key"]


def test_health_and_ready_need_nothing(server2):
    anonymous = Api(server2.url, None)
    assert anonymous.get("/health").json() == {"status": "ok"}
    assert anonymous.get("/ready").json() == {"status": "ready"}


def test_user_answers_the_fields_the_web_client_reads(api2):
    body = api2.get("/user").json()
    assert body["apiKey"] == api2.key
    assert set(body) == {"userID", "email", "name", "apiKey", "subscription", "subscriptionStatus"}
    assert body["userID"].startswith("user_") and api2.key not in body["userID"]
    assert body["subscriptionStatus"] == "active" and body["subscription"]["status"] == "active"


def test_user_ids_differ_per_key(api2, other_api2):
    assert api2.get("/user").json()["userID"] != other_api2.get("/user").json()["userID"]


def test_services_status_lists_this_server_as_passing(api2):
    assert api2.get("/services/status").json() == {"services": [{"name": "stream-api", "status": "passing"}]}


@pytest.mark.parametrize("sent, answer", [
    ({"sqlCaptureMode": "verbose", "forwardSQLLogs": True}, {"sqlCaptureMode": "verbose", "forwardSQLLogs": True}),
    ({"forwardSQLLogs": True}, {"sqlCaptureMode": "off", "forwardSQLLogs": True}),
    ({}, {"sqlCaptureMode": "off", "forwardSQLLogs": False}),
])
def test_sql_logging_answers_the_settings_as_sent(api2, sent, answer):
    response = api2.put("/system/sql-logging", json=sent)
    assert response.status_code == 200
    assert response.json() == answer


@pytest.mark.parametrize("sent, error", [
    ({"sqlCaptureMode": "all"}, "sqlCaptureMode must be one of 'off', 'minimal' or 'verbose'"),
    ({"forwardSQLLogs": "maybe"}, "forwardSQLLogs must be true or false"),
    ({"forwardSQLLogs": 1}, "forwardSQLLogs must be true or false"),
    ({"other": 1}, "unknown field 'other'"),
])
def test_sql_logging_refuses_what_it_does_not_know(api2, sent, error):
    response = api2.put("/system/sql-logging", json=sent)
    assert response.status_code == 400
    assert response.json()["error"] == error


# -- the log stream -------------------------------------------------------------------------


def events(response, count):
    """The first `count` events of an SSE answer, as (event, data) pairs."""
    found, current = [], {}
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            found.append((current.get("event"), current.get("data")))
            current = {}
            if len(found) == count:
                return found
        else:
            name, _sep, value = line.partition(": ")
            current[name] = value
    return found


@pytest.fixture(scope="module")
def quick_heartbeat(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("sse"), key_count=2, api_version=2,
                         args=["--sse-heartbeat", "0.2", "--cors-origin", ORIGIN])
    proc.start()
    yield proc
    proc.stop()


def test_the_log_stream_needs_no_key_and_sends_a_heartbeat_at_once(server2):
    started = time.monotonic()
    with requests.get(server2.url + "/logs/stream", stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        [(event, data)] = events(response, 1)
    assert event == "heartbeat" and data.startswith('{"time":"')
    assert time.monotonic() - started < 5  # the default interval is 15 s: this one came at once


def test_heartbeats_keep_coming_and_carry_nothing_else(quick_heartbeat):
    with requests.get(quick_heartbeat.url + "/logs/stream", stream=True, timeout=10) as response:
        received = events(response, 4)
    assert [event for event, _data in received] == ["heartbeat"] * 4
    assert all(set(json.loads(data)) == {"time"} for _event, data in received)


def test_a_server_with_an_open_log_stream_stops_promptly(tmp_path):
    proc = ServerProcess(tmp_path, key_count=1, api_version=2)
    proc.start()
    with requests.get(proc.url + "/logs/stream", stream=True, timeout=10) as response:
        assert events(response, 1)[0][0] == "heartbeat"
        started = time.monotonic()
        proc.stop()
        assert time.monotonic() - started < 4  # not the 5 s graceful timeout: the stream was ended


# -- CORS -----------------------------------------------------------------------------------


def test_cors_preflight_allows_the_2x_headers(quick_heartbeat):
    response = requests.options(quick_heartbeat.url + "/connections/conn_x", timeout=10, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": ",".join(V2_HEADERS),
    })
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    allowed = [h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")]
    assert set(V2_HEADERS) <= set(allowed)


def test_cors_preflight_from_another_origin_is_refused_in_the_2x_error_shape(quick_heartbeat):
    response = requests.options(quick_heartbeat.url + "/connections", timeout=10, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "GET",
    })
    assert response.status_code == 400
    assert response.json() == {"error": "Disallowed CORS origin", "code": "BAD_REQUEST"}
