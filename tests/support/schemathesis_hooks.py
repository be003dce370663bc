"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by schemathesis_runner): two checks of our own.

- error_body_is_exactly_error: the document describes the error bodies, but it cannot say "and
  nothing else" for an answer it does not list; this holds every error answer to the contract of
  API.md: exactly {"error": "<text>"}, as JSON. The one documented exception is a failed ping,
  whose 503 answer is {"ping": "failed", "error": "<text>"}.
- stored_as_sent: no built-in check reads a write back; this one reads every accepted create and
  full replace and compares it with what was sent (normalised as documented).
"""

import json

import requests
import schemathesis


def _problem(response, case) -> str | None:
    if not response.headers.get("content-type", [""])[0].startswith("application/json"):
        return "error answer is not application/json"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "error answer is not JSON"
    if response.status_code == 503 and case.path.endswith("/ping"):
        if not isinstance(body, dict) or set(body) != {"ping", "error"} or body["ping"] != "failed":
            return 'failed ping answer is not exactly {"ping": "failed", "error": "<text>"}'
    elif not isinstance(body, dict) or set(body) != {"error"}:
        return 'error answer is not exactly {"error": "<text>"}'
    if not isinstance(body["error"], str) or not body["error"].strip():
        return "the error text is not a non-empty string"
    return None


@schemathesis.check
def error_body_is_exactly_error(ctx, response, case):  # pylint: disable=unused-argument
    """Every 4xx/5xx answer is exactly {"error": "<text>"} (a failed ping: {"ping": "failed", "error"})."""
    if response.status_code < 400:
        return None
    problem = _problem(response, case)
    if problem:
        raise AssertionError(f"{problem}: {response.status_code} {response.content[:300]!r}")
    return None


IGNORED_FIELDS = ("id", "created", "databasesInfo", "status", "cloud_provider")


def as_stored(sent: dict) -> dict:
    """What GET must answer for an accepted connection body, by the rules of API.md and server/README.md."""
    stored = {k: v for k, v in sent.items() if k not in IGNORED_FIELDS and v is not None}
    stored["type"] = stored["type"].lower()
    stored["port"] = int(stored["port"])
    if stored.get("schema") == "":
        del stored["schema"]
    if "ssl" in stored:
        stored["ssl"] = {k: v for k, v in stored["ssl"].items() if v not in (None, "")}
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
    key = response.request.headers.get("X-API-Key")
    read = requests.get(url, headers={"X-API-Key": key}, timeout=15)
    if read.status_code != 200:
        raise AssertionError(f"the connection just written is not readable: {read.status_code} {read.text[:300]}")
    got = {k: v for k, v in read.json().items() if k not in ("id", "created")}
    want = as_stored(case.body)
    if got != want:
        fields = sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
        raise AssertionError(f"the stored connection differs from what was sent in: {', '.join(fields)}")
    return None
