"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by schemathesis_runner): the error shape as a check.

The OpenAPI document describes the error bodies, but a document cannot say "and nothing else" for
an answer it does not list; this check holds every error answer to the contract of API.md:
exactly {"error": "<text>"}, as JSON. The one documented exception is a failed ping, whose 503
answer is {"ping": "failed", "error": "<text>"}.
"""

import json

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
