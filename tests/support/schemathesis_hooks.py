"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by schemathesis_runner): two checks of our own,
for the dialect in DBCS_FUZZ_API_VERSION (1 or 2), and the generated stream configurations pointed at a
real source (DBCS_FUZZ_STREAM_SOURCE).

- error_body_is_exactly_error: the document describes the error bodies, but it cannot say "and
  nothing else" for an answer it does not list; this holds every error answer to the dialect's
  shape, as JSON: v1 exactly {"error": "<text>"}; 2.x {"error", "code"?, "details"?: {"field",
  "value"?}}. The one documented exception is a failed ping (or /connections/test), whose 503
  answer is {"ping": "failed", "error": "<text>"}.
- stored_as_sent: no built-in check reads a write back; this one reads every accepted create and
  full replace of a connection or a stream configuration (with the same X-API-Key and X-Install-ID)
  and compares it with what was sent, normalised by the rules server/README.md states for the dialect.
- point_streams_at_the_source (map_body of POST and PUT /stream-configs): when DBCS_FUZZ_STREAM_SOURCE
  holds {"connection", "database", "schema", "table"} (the stream-routes run), the generated
  configuration's connections become that real PostgreSQL connection, its source database, schema and
  target database those (a target schema equal to the source's becomes fuzz_copy), and the tables it
  lists that table (only values of the right type are replaced: negative cases stay negative), so that fuzzing gets past "unknown connection" into the
  checks against the source database, and the configurations it writes really run when started.
- wait_for_the_last_run (before_call of POST /stream-configs/{id}/start in that run): waits, up to 10 s,
  until the configuration under test has no active run. Every start of the run targets that one
  configuration, and a start while its last run is still going is answered 409: on a fast server the
  fuzzer's starts would otherwise follow each other too closely to reach the start's logic.
"""

import json
import os
import time

import requests
import schemathesis

API_VERSION = int(os.environ.get("DBCS_FUZZ_API_VERSION", "1"))
IGNORED_FIELDS = ("id", "created", "databasesInfo", "status", "cloud_provider")
FLAT_FIELDS = ("host", "port", "username", "password")
PING_PATHS = ("/ping", "/connections/test")
STREAM_SOURCE = json.loads(os.environ.get("DBCS_FUZZ_STREAM_SOURCE") or "null")
STREAM_IGNORED = ("id", "created", "updated")
STREAM_NUMBERS = ("dataBundleSize", "numberOfEvents", "elapsedTime", "reportingInterval")
STREAM_OPTIONAL_TEXT = ("description", "database", "schema")
ACTIVE = ("READY", "RUNNING", "PAUSED")


def _shape_problem(body) -> str | None:
    if not isinstance(body, dict) or "error" not in body:
        return "no error member"
    extra = set(body) - ({"error"} if API_VERSION == 1 else {"error", "code", "details"})
    if extra:
        return f"members beyond the {'v1' if API_VERSION == 1 else '2.x'} error shape: {sorted(extra)}"
    if "code" in body and (not isinstance(body["code"], str) or not body["code"]):
        return "code is not a non-empty string"
    details = body.get("details")
    if details is not None and (not isinstance(details, dict) or not isinstance(details.get("field"), str)
                                or set(details) - {"field", "value"}):
        return "details is not {field, value?}"
    return None


def _problem(response, case) -> str | None:
    if not response.headers.get("content-type", [""])[0].startswith("application/json"):
        return "error answer is not application/json"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "error answer is not JSON"
    if response.status_code == 503 and case.path.endswith(PING_PATHS):
        if not isinstance(body, dict) or set(body) != {"ping", "error"} or body["ping"] != "failed":
            return 'failed ping answer is not exactly {"ping": "failed", "error": "<text>"}'
    else:
        problem = _shape_problem(body)
        if problem:
            return f"error answer: {problem}"
    if not isinstance(body["error"], str) or not body["error"].strip():
        return "the error text is not a non-empty string"
    return None


@schemathesis.check
def error_body_is_exactly_error(ctx, response, case):  # pylint: disable=unused-argument
    """Every 4xx/5xx answer has exactly the dialect's error shape (a failed ping: {"ping": "failed", "error"})."""
    if response.status_code < 400:
        return None
    problem = _problem(response, case)
    if problem:
        raise AssertionError(f"{problem}: {response.status_code} {response.content[:300]!r}")
    return None


def _unset(key, value) -> bool:
    """Null and (but for a password, which may be empty) "" mean "not set": left out of answers."""
    return value is None or (value == "" and key != "password")


def _pruned(value):
    if not isinstance(value, dict):
        return value
    kept = {k: _pruned(v) for k, v in value.items() if not _unset(k, v)}
    return {k: v for k, v in kept.items() if v != {}}


def _ssl(sent: dict) -> dict:
    return {k: v for k, v in sent.items() if v not in (None, "")}


def as_stored(sent: dict) -> dict:
    """What a v1 GET must answer for an accepted connection body."""
    stored = {k: v for k, v in sent.items() if k not in IGNORED_FIELDS and v is not None}
    stored["type"] = stored["type"].lower()
    stored["port"] = int(stored["port"])
    if stored.get("schema") == "":
        del stored["schema"]
    if "ssl" in stored:
        stored["ssl"] = _ssl(stored["ssl"])
    return stored


def as_stored_v2(sent: dict) -> dict:
    """What a 2.x GET must answer for an accepted connection body (nested, or flat: spec wins)."""
    spec = sent.get("spec")
    if spec is None:
        spec = {"database": {**{k: sent.get(k) for k in FLAT_FIELDS}, "database": sent.get("defaultDatabase")}}
    (member, fields), = spec.items()
    fields = _pruned(fields)
    if "port" in fields:
        fields["port"] = int(fields["port"])
    stored = {"name": sent["name"], "type": sent["type"].lower(), "spec": {member: fields}}
    if sent.get("ssl"):
        stored["ssl"] = _ssl(sent["ssl"])
    return stored


def as_stored_stream(sent):
    """What GET /stream-configs/{id} must answer for an accepted configuration: nulls and empty optional
    text left out at every depth, whole numbers as integers, the read-only members ignored."""
    def normal(value, key=None):
        if isinstance(value, dict):
            kept = {k: normal(v, k) for k, v in value.items()
                    if v is not None and not (k in STREAM_OPTIONAL_TEXT and v == "")}
            return kept
        if isinstance(value, list):
            return [normal(v) for v in value]
        if key in STREAM_NUMBERS and isinstance(value, float):
            return int(value)
        return value

    return normal({k: v for k, v in sent.items() if k not in STREAM_IGNORED})


def _written(case, response):
    """(url to read back, what it should answer, what) of an accepted create or full replace, or None."""
    path = case.path
    if case.method == "POST" and path.endswith(("/connections", "/stream-configs")):
        url = response.request.url.rstrip("/") + "/" + response.json()["id"]
    elif case.method == "PUT" and path.endswith(("/connections/{id}", "/stream-configs/{id}")):
        url = response.request.url
    else:
        return None
    if "/stream-configs" in path:
        return url, as_stored_stream(case.body), "stream configuration", ("id", "created", "updated")
    return url, as_stored(case.body) if API_VERSION == 1 else as_stored_v2(case.body), "connection", ("id", "created")


@schemathesis.check
def stored_as_sent(ctx, response, case):  # pylint: disable=unused-argument
    """An accepted create or full replace is read back exactly as sent (normalised as documented)."""
    if case.method not in ("POST", "PUT") or response.status_code not in (200, 201) or not isinstance(case.body, dict):
        return None
    written = _written(case, response)
    if written is None:
        return None
    url, want, what, identity = written
    headers = {h: response.request.headers[h] for h in ("X-API-Key", "X-Install-ID") if h in response.request.headers}
    read = requests.get(url, headers=headers, timeout=15)
    if read.status_code != 200:
        raise AssertionError(f"the {what} just written is not readable: {read.status_code} {read.text[:300]}")
    got = {k: v for k, v in read.json().items() if k not in identity}
    if got != want:
        fields = sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
        raise AssertionError(f"the stored {what} differs from what was sent in: {', '.join(fields)}")
    return None


def _real(node, key, value):
    """Set node[key] to value when it holds a non-empty string: a value the schema refuses (another type,
    an empty string, a missing required member) stays, so that negative cases stay negative."""
    if isinstance(node, dict) and isinstance(node.get(key), str) and node[key]:
        node[key] = value


@schemathesis.hook("map_body")
def point_streams_at_the_source(ctx, body):
    """POST and PUT /stream-configs of the stream-routes run: the real source instead of generated ids."""
    operation = ctx.operation
    if (STREAM_SOURCE is None or operation is None or operation.method.upper() not in ("POST", "PUT")
            or not operation.path.endswith(("/stream-configs", "/stream-configs/{id}")) or not isinstance(body, dict)):
        return body
    source = body.get("source")
    connections = source.get("connections") if isinstance(source, dict) else None
    for mapping in connections if isinstance(connections, list) else []:
        _real(mapping, "connectionId", STREAM_SOURCE["connection"])
        _real(mapping, "database", STREAM_SOURCE["database"])
        _real(mapping, "schema", STREAM_SOURCE["schema"])
        tables = mapping.get("tables") if isinstance(mapping, dict) else None
        for table in tables if isinstance(tables, list) else []:
            _real(table, "name", STREAM_SOURCE["table"])
    target = body.get("target")
    _real(target, "id", STREAM_SOURCE["connection"])
    spec = target.get("spec") if isinstance(target, dict) else None
    database = spec.get("db") if isinstance(spec, dict) else None
    _real(database, "database", STREAM_SOURCE["database"])
    if isinstance(database, dict) and database.get("schema") == STREAM_SOURCE["schema"]:
        database["schema"] = "fuzz_copy"  # never the source table itself
    return body


@schemathesis.hook
def before_call(ctx, case, kwargs):  # pylint: disable=unused-argument
    """wait_for_the_last_run (see the module's doc)."""
    if STREAM_SOURCE is None or case.method.upper() != "POST" or not case.path.endswith("/stream-configs/{id}/start"):
        return
    config = (case.path_parameters or {}).get("id")
    headers = {"X-API-Key": STREAM_SOURCE["key"]}
    if STREAM_SOURCE.get("install_id"):
        headers["X-Install-ID"] = STREAM_SOURCE["install_id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = requests.get(STREAM_SOURCE["url"] + "/streams", headers=headers, timeout=15).json()
        with open(STREAM_SOURCE["polls"], "a", encoding="utf-8") as polls:  # not fuzzing: the runner leaves them out
            polls.write("GET /streams\n")
        runs = runs.get("items", []) if isinstance(runs, dict) else runs
        if not any(run.get("configId") == config and run.get("status") in ACTIVE for run in runs):
            return
        time.sleep(0.05)
