# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one HTTP client of the DBConvert Streams Connection API.

Every request of every module goes through DbcsClient.call(): one requests session per module run,
the X-API-Key header, GET /user/configs once before anything else, retries that know which requests
are safe to repeat, and every failure turned into one DbcsApiError whose message says what was being
done, the HTTP status and the server's own error text. The client knows URLs and HTTP, not the
connection model (that is module_utils/connection.py).
"""

from __future__ import annotations

import re
import ssl
import threading
import time
import traceback
from html import unescape as html_unescape

try:
    import requests
    from requests.adapters import HTTPAdapter
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

WRITE_METHODS = frozenset(("POST", "PUT", "DELETE"))
# Methods whose repetition cannot create a second object. Clone is a PUT that creates: it opts out.
REPEATABLE_METHODS = frozenset(("GET", "PUT", "DELETE"))
RETRY_STATUSES = frozenset((502, 503, 504))
# For reads that make the server log in to the database, a 503 is the database's answer, not a fault.
DATABASE_READ_RETRY_STATUSES = frozenset((502, 504))
SESSION_PATH = "/user/configs"
# Statuses after which a create may or may not have happened on the server.
UNKNOWN_OUTCOME_STATUSES = frozenset((500, 502, 503, 504))


class DbcsApiError(Exception):
    """A request that did not succeed: what was being done, the HTTP status, the server's error."""

    def __init__(self, action, status=None, error="", hint=""):
        self.action = action
        self.status = status
        self.error = error
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self):
        text = "Could not %s" % self.action
        if self.status is not None:
            text += ": HTTP %s" % self.status
        if self.error:
            text += ": %s" % self.error
        if self.hint:
            text += ". %s" % self.hint
        return text


class DbcsOutcomeUnknown(DbcsApiError):
    """The request may or may not have reached the server (reset, timeout, gateway error)."""


class DbcsCheckModeWrite(RuntimeError):
    """A write was attempted by a client built for check mode: a bug, never a user error."""


def _error_text(response):
    """The server's error text: {"error": ...} per the API, else FastAPI's detail, else the raw text.

    An HTML page (a gateway's error page, a web server that is not the API) is reduced to its title:
    the markup would bury the one line that matters.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "detail", "message"):
            if body.get(key):
                value = body[key]
                return value if isinstance(value, str) else str(value)
    text = (response.text or "").strip()
    if _is_html(response, text):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        summary = " ".join(html_unescape(title.group(1)).split()) if title else ""
        summary = re.sub(r"^%d\s*" % response.status_code, "", summary) or response.reason or "no title"
        return "%s (an HTML page, not an answer of the Connection API)" % summary
    if not text:
        return response.reason or ""
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:200] + "..."


def _is_html(response, text):
    kind = response.headers.get("Content-Type", "").lower()
    return "html" in kind or text[:100].lstrip().lower().startswith(("<!doctype html", "<html"))


class DbcsClient(object):
    """One session to one DBConvert Streams server, for one module run."""

    def __init__(self, api_url, api_key, validate_certs=True, ca_path=None, timeout=30,
                 retries=4, backoff=0.5, read_only=False, pool_size=10):
        if not HAS_REQUESTS:
            raise RuntimeError("the requests library is required")
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.read_only = read_only
        self._session_started = False
        self._session_lock = threading.Lock()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(pool_size, 1))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"X-API-Key": api_key, "Accept": "application/json"})
        # What to verify the server's certificate with: the ca_path bundle, else the default trust (which
        # honours REQUESTS_CA_BUNDLE), or nothing. Passed with every request: requests lets
        # REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE override a session's verify, so ca_path and
        # validate_certs=false would otherwise be ignored wherever those variables are set.
        self.verify = ca_path if (validate_certs and ca_path) else bool(validate_certs)
        self.session.verify = self.verify
        self.session.trust_env = True  # proxies from HTTPS_PROXY/NO_PROXY, as every HTTP client of Ansible

    # -- transport ---------------------------------------------------------------------------------

    def start_session(self):
        """GET /user/configs, once per client: the server loads the key owner's connections on it."""
        with self._session_lock:
            if not self._session_started:
                self._request("GET", SESSION_PATH, "start an API session (GET /user/configs)")
                self._session_started = True

    def call(self, method, path, action, json=None, data=None, params=None, expect=(200, 201, 204),
             repeatable=None, retry_statuses=RETRY_STATUSES):
        """Send one API request and return its decoded JSON body (None when empty).

        `expect` lists the statuses that are answers rather than failures (a failed ping's 503 is one).
        `repeatable` overrides whether the method may be retried after a transient failure.
        `retry_statuses` are the statuses that count as transient for this request.
        """
        self.start_session()
        return self._request(method, path, action, json=json, data=data, params=params,
                             expect=expect, repeatable=repeatable, retry_statuses=retry_statuses)

    def _request(self, method, path, action, json=None, data=None, params=None,
                 expect=(200, 201, 204), repeatable=None, retry_statuses=RETRY_STATUSES):
        if self.read_only and method in WRITE_METHODS:
            raise DbcsCheckModeWrite("check mode: refusing to send %s %s" % (method, path))
        if repeatable is None:
            repeatable = method in REPEATABLE_METHODS
        url = self.api_url + path
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, json=json, data=data, params=params,
                                                timeout=self.timeout, verify=self.verify,
                                                headers={"Content-Type": "text/plain"} if data is not None else None)
            except requests.exceptions.SSLError as exc:
                error, hint = _tls_failure(exc, self.api_url)
                raise DbcsApiError(action, error=error, hint=hint)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                not_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or _is_refused(exc)
                if attempt < self.retries and (repeatable or not_sent):
                    attempt += 1
                    self._pause(attempt)
                    continue
                error_class = DbcsApiError if not_sent else DbcsOutcomeUnknown
                hint = "Check api_url (or DBCS_API_URL) and that the server is running and reachable"
                if isinstance(exc, requests.exceptions.ConnectTimeout):
                    error = "no connection to %s within %s s" % (self.api_url, self.timeout)
                elif isinstance(exc, requests.exceptions.ReadTimeout):
                    error = "no answer from %s within %s s" % (self.api_url, self.timeout)
                    hint = "Raise the timeout option if the server needs longer, and check that it is working"
                else:
                    error = "no answer from %s: %s" % (self.api_url, _reason(exc))
                raise error_class(action, error=error, hint=hint)
            status = response.status_code
            if status in expect:
                return self._decode(response, action, method, path)
            if status in retry_statuses and repeatable and attempt < self.retries:
                attempt += 1
                self._pause(attempt, response.headers.get("Retry-After"))
                continue
            raise self._failure(response, action, method, path)

    def _pause(self, attempt, retry_after=None):
        delay = min(self.backoff * (2 ** (attempt - 1)), 8.0)
        if retry_after and retry_after.isdigit():
            delay = min(max(delay, float(retry_after)), 30.0)
        time.sleep(delay)

    def _decode(self, response, action, method, path):
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            if response.status_code >= 300:
                # An error status that is an answer when the API sends it (a failed ping's 503) comes
                # from something else when its body is not JSON: a gateway's page is a failure.
                raise self._failure(response, action, method, path)
            kind = response.headers.get("Content-Type", "no content type")
            raise DbcsApiError(action, response.status_code,
                               "the answer from %s is %s, not JSON" % (self.api_url, kind.split(";")[0]),
                               hint="Check that api_url is the Connection API base URL, e.g. http://HOST:8020/api/v1")

    def _failure(self, response, action, method, path):
        status = response.status_code
        hint = ""
        if status == 401:
            hint = "The API key was rejected: set the api_key option or the DBCS_API_KEY environment variable to a valid key"
        elif status in (404, 405) and (path == SESSION_PATH or "json" not in response.headers.get("Content-Type", "")):
            # Every Connection API answers the session start: a 404 there means api_url points elsewhere.
            hint = "Check that api_url is the Connection API base URL, e.g. http://HOST:8020/api/v1"
        error_class = DbcsOutcomeUnknown if (method == "POST" and status in UNKNOWN_OUTCOME_STATUSES) else DbcsApiError
        return error_class(action, status, _error_text(response), hint)

    # -- the Connection API --------------------------------------------------------------------------

    def list_connections(self):
        body = self.call("GET", "/connections", "list connections")
        return body if isinstance(body, list) else []

    def get_connection(self, conn_id, missing_ok=False):
        try:
            return self.call("GET", "/connections/%s" % conn_id, "read connection %s" % conn_id, expect=(200,))
        except DbcsApiError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise

    def create_connection(self, body):
        """POST a new connection and return its id.

        A POST is never repeated blindly: when its outcome is unknown, the name is looked up, and
        the POST is sent again only if the server has no connection of that name. A re-sent POST
        that meets a 409 finds its first attempt landed after all, and takes that connection.
        """
        action = "create connection '%s'" % body.get("name")
        attempt = 0
        while True:
            try:
                return _id_of(self.call("POST", "/connections", action, json=body), action)
            except DbcsOutcomeUnknown as unknown:
                found = self._read_back(body.get("name"), unknown)
                if len(found) == 1:
                    return found[0]
                if found or attempt >= self.retries:
                    raise
            except DbcsApiError as exc:
                if attempt and exc.status == 409:
                    found = self._ids_named(body.get("name"))
                    if len(found) == 1:
                        return found[0]
                raise
            attempt += 1
            self._pause(attempt)

    def _read_back(self, name, unknown):
        """The ids of the connections named `name`, after a create whose outcome is unknown. When they cannot
        be read either, the create's own error is raised, saying that its outcome is unknown."""
        try:
            return self._ids_named(name)
        except DbcsApiError as exc:
            failure = "HTTP %s: %s" % (exc.status, exc.error) if exc.status is not None else exc.error
            unknown.hint = ("Whether it was created is unknown: reading the connections back failed too (%s). "
                            "Run the task again: it finds the connection if it was created" % failure)
            raise unknown

    def _ids_named(self, name):
        return [conn.get("id") for conn in self.list_connections() if conn.get("name") == name]

    def update_connection(self, conn_id, body):
        self.call("PUT", "/connections/%s" % conn_id, "update connection '%s' (%s)" % (body.get("name"), conn_id), json=body)

    def delete_connection(self, conn_id, name=None):
        """DELETE a connection; a 404 (already gone, e.g. deleted by an earlier attempt) is not a failure."""
        action = "delete connection '%s' (%s)" % (name, conn_id) if name else "delete connection %s" % conn_id
        self.call("DELETE", "/connections/%s" % conn_id, action, expect=(200, 202, 204, 404))

    def clone_connection(self, conn_id, name=None):
        action = "clone connection '%s' (%s)" % (name, conn_id) if name else "clone connection %s" % conn_id
        answer = self.call("PUT", "/connections/%s/clone" % conn_id, action, repeatable=False)
        return _id_of(answer, action)

    def ping_connection(self, conn_id, name=None):
        """Test a connection; return (ok, error). A failed test (503) is a result, never retried."""
        action = "test connection '%s' (%s)" % (name, conn_id) if name else "test connection %s" % conn_id
        body = self.call("POST", "/connections/%s/ping" % conn_id, action, expect=(200, 503))
        body = body if isinstance(body, dict) else {}
        if body.get("ping") == "ok":
            return True, None
        return False, str(body.get("error") or body.get("ping") or "the server reported the test as failed")

    # These two make the server log in to the database; their 503 is the database's answer (down, login
    # refused), as a failed ping's is, so it is not retried: repeating failed logins can lock an account.
    # A gateway's 502 or 504 still is.
    def list_databases(self, conn_id, name=None):
        action = "list databases of connection '%s' (%s)" % (name, conn_id) if name else "list databases of connection %s" % conn_id
        return self.call("GET", "/connections/%s/databases" % conn_id, action, retry_statuses=DATABASE_READ_RETRY_STATUSES) or []

    def list_tables(self, conn_id, name=None):
        action = "list tables of connection '%s' (%s)" % (name, conn_id) if name else "list tables of connection %s" % conn_id
        return self.call("GET", "/connections/%s/tables" % conn_id, action, retry_statuses=DATABASE_READ_RETRY_STATUSES) or []

    def create_schema(self, conn_id, database, name):
        self.call("POST", "/connections/%s/schemas" % conn_id,
                  "create schema '%s' in database '%s' of connection %s" % (name, database, conn_id),
                  json=name, params={"database": database} if database else None)


def _id_of(answer, action):
    if isinstance(answer, dict) and answer.get("id"):
        return answer["id"]
    raise DbcsApiError(action, error="the server's answer carries no connection id")


def _reason(exc):
    """Why a request got no answer, in words a person can act on, e.g. 'connection refused'.

    requests wraps the socket's error in urllib3's, whose text carries object reprs and tuples; the
    innermost OS error (refused, reset, name not known) is what matters.
    """
    found = _innermost(exc, lambda e: isinstance(e, OSError) and isinstance(e.strerror, str) and e.strerror)
    last = _innermost(exc, lambda e: True)
    if found is not None:
        text = found.strerror
    else:
        text = str(last)
        # urllib3 prefixes the connection object's repr; keep what a person can act on.
        for marker in ("Failed to establish a new connection: ", "): "):
            if marker in text:
                text = text.split(marker, 1)[1]
                break
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _tls_failure(exc, api_url):
    """(error, hint) for a TLS failure: an untrusted certificate, a server that does not speak TLS, or another
    handshake failure. Each needs a different fix, so each says its own."""
    inner = _innermost(exc, lambda e: isinstance(e, ssl.SSLError)) or exc
    if isinstance(inner, ssl.SSLCertVerificationError):
        return ("TLS verification of %s failed: certificate verify failed: %s" % (api_url, inner.verify_message or inner.reason),
                "Set ca_path to the CA that signed the server's certificate (or validate_certs: false for a server you trust)")
    reason = getattr(inner, "reason", None) or str(inner)
    text = str(reason).replace("_", " ").lower()
    if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"):
        return ("%s does not answer in TLS (%s)" % (api_url, text), "Check the scheme of api_url: http:// or https://")
    return ("the TLS handshake with %s failed: %s" % (api_url, text),
            "Check api_url and that the server's TLS settings accept this client")


def _innermost(exc, test):
    """The innermost exception that passes `test` among exc, its causes, contexts, reasons and arguments."""
    found, todo, seen = None, [exc], set()
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if test(current):
            found = current
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__]
        inner += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
        todo.extend(item for item in inner if isinstance(item, BaseException))
    return found


def _is_refused(exc):
    """True when the TCP connection was refused, so the request was certainly never sent."""
    return "refused" in str(exc).lower()
