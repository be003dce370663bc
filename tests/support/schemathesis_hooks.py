"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by schemathesis_runner): two checks of our own,
for the dialect in DBCS_FUZZ_API_VERSION (1 or 2).

- error_body_is_exactly_error: the document describes the error bodies, but it cannot say "and
  nothing else" for an answer it does not list; this holds every error answer to the dialect's
  shape, as JSON: v1 exactly {"error": "<text>"}; 2.x {"error", "code"?, "details"?: {"field",
  "value"?}}. The one documented exception is a failed ping (or /connections/test), whose 503
  answer is {"ping": "failed", "error": "<text>"}.
- stored_as_sent: no built-in check reads a write back; this one reads every accepted create and
  full replace (with the same X-API-Key and X-Install-ID) and compares it with what was sent,
  normalised by the rules server/README.md states for the dialect.
"""

import json
import os

import requests
import schemathesis

API_VERSION = int(os.environ.get("DBCS_FUZZ_API_VERSION", "1"))
IGNORED_FIELDS = ("id", "created", "databasesInfo", "status", "cloud_provider")
FLAT_FIELDS = ("host", "port", "username", "password")
PING_PATHS = ("/ping", "/connections/test")


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


@schemathesis.check
def stored_as_sent(ctx, response, case):  # pylint: disable=unused-argument
    """An accepted create or full replace is read back exactly as sent (normalised as documented)."""
    if case.method not in ("POST", "PUT") or response.status_code not in (200, 201) or not isinstance(case.body, dict):
        return None
    if case.method == "POST" and case.path.endswith("/connections"):
        url = response.request.url.rstrip("/") + "/" + response.json()["id"]
    elif case.method == "PUT" and case.path.endswith("/connections/{id}"):
        url = response.request.url
    else:
        return None
    headers = {h: response.request.headers[h] for h in ("X-API-Key", "X-Install-ID") if h in response.request.headers}
    read = requests.get(url, headers=headers, timeout=15)
    if read.status_code != 200:
        raise AssertionError(f"the connection just written is not readable: {read.status_code} {read.text[:300]}")
    got = {k: v for k, v in read.json().items() if k not in ("id", "created")}
    want = as_stored(case.body) if API_VERSION == 1 else as_stored_v2(case.body)
    if got != want:
        fields = sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
        raise AssertionError(f"the stored connection differs from what was sent in: {', '.join(fields)}")
    return None
