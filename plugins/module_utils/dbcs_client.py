# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one HTTP client of the DBConvert Streams API.

Every request of every module goes through DbcsClient.call(): one requests session per module run,
the X-API-Key header, the session start once before anything else, retries that know which requests
are safe to repeat, and every failure turned into one DbcsApiError whose message says what was being
done, the HTTP status and the server's own error text.

The client speaks both dialects of the API and decides per feature, from what the server shows:
an install id from GET /system/defaults (then sent as X-Install-ID on every call), lists as a bare
array or as {"items": [...]}, connections flat (v1) or under `spec` (2.x), the 2.x paths for tables
and schemas (falling back to the v1 path on a 404), and X-Confirm-Delete on every delete. What it
returns and takes is always the flat form (module_utils/kinds.py holds the mapping), so nothing
above it knows which dialect the server speaks. It knows URLs and HTTP, not the connection model
(that is module_utils/connection.py).
"""

from __future__ import annotations

import re
import ssl
import threading
import time
import traceback
from html import unescape as html_unescape
from urllib.parse import quote

from ansible_collections.dbconvert.streams.plugins.module_utils.kinds import from_wire, is_nested, to_wire

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
DEFAULTS_PATH = "/system/defaults"
API_VERSIONS = ("auto", "1", "2")
# Statuses after which a create may or may not have happened on the server.
UNKNOWN_OUTCOME_STATUSES = frozenset((500, 502, 503, 504))


class DbcsApiError(Exception):
    """A request that did not succeed: what was being done, the HTTP status, the server's error."""

    def __init__(self, action, status=None, error="", hint="", details=None):
        self.action = action
        self.status = status
        self.error = error
        self.hint = hint
        self.details = details if isinstance(details, dict) else {}  # a 2.x error's {"field", "value"}
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


def _error_details(response):
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("details") if isinstance(body, dict) else None


def _is_html(response, text):
    kind = response.headers.get("Content-Type", "").lower()
    return "html" in kind or text[:100].lstrip().lower().startswith(("<!doctype html", "<html"))


class DbcsClient(object):
    """One session to one DBConvert Streams server, for one module run."""

    def __init__(self, api_url, api_key, validate_certs=True, ca_path=None, timeout=30,
                 retries=4, backoff=0.5, read_only=False, pool_size=10, api_version="auto"):
        if not HAS_REQUESTS:
            raise RuntimeError("the requests library is required")
        if api_version not in API_VERSIONS:
            raise ValueError("api_version must be one of %s" % ", ".join(API_VERSIONS))
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.read_only = read_only
        self.api_version = api_version
        self.install_id = None      # the server's install id (2.x), once the session has started
        self._nested_seen = None    # whether the listed connections were in the 2.x form (None: none listed)
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
        """Once per client: learn the install id of a 2.x server, or start a v1 session.

        GET /system/defaults (no API key) gives a 2.x server's install id, sent as X-Install-ID from then
        on. A server without it (v1, or a 2.x build before the install id) gets GET /user/configs, on which
        a v1 server loads the key owner's connections; a 2.x server needs no session start.
        """
        with self._session_lock:
            if self._session_started:
                return
            if self.api_version != "1":
                self.install_id = self._install_id()
                if self.install_id:
                    self.session.headers["X-Install-ID"] = self.install_id
            if not self.install_id:
                self._request("GET", SESSION_PATH, "start an API session (GET /user/configs)")
            self._session_started = True

    def _install_id(self):
        """The install id GET /system/defaults answers, or None (a 404 or an answer that is not JSON)."""
        try:
            body = self._request("GET", DEFAULTS_PATH, "start an API session (GET /system/defaults)",
                                 expect=(200,), headers={"X-API-Key": None})
        except DbcsApiError as exc:
            # A 2.x server answers this route, without auth, with JSON; anything else is a server without one.
            if exc.status in (400, 401, 403, 404, 405) or (exc.status == 200 and exc.error.endswith("not JSON")):
                return None
            raise
        install_id = body.get("installId") if isinstance(body, dict) else None
        return install_id if isinstance(install_id, str) and install_id else None

    @property
    def nested(self):
        """Whether connections are written in the 2.x form (`spec`): pinned by api_version, else as the server
        showed them (any listed connection in that form; an empty server with an install id)."""
        if self.api_version != "auto":
            return self.api_version == "2"
        if self._nested_seen is not None:
            return self._nested_seen
        return bool(self.install_id)

    @property
    def nested_known(self):
        """Whether `nested` is settled before any connection is listed (pinned, or a 2.x install id)."""
        return self.api_version != "auto" or bool(self.install_id)

    @property
    def v2_paths(self):
        """Whether to use the 2.x paths for tables and schemas (falling back to the v1 path on a 404)."""
        return self.api_version == "2" or (self.api_version == "auto" and (bool(self.install_id) or bool(self._nested_seen)))

    def call(self, method, path, action, json=None, data=None, params=None, expect=(200, 201, 204),
             repeatable=None, retry_statuses=RETRY_STATUSES, headers=None):
        """Send one API request and return its decoded JSON body (None when empty).

        `expect` lists the statuses that are answers rather than failures (a failed ping's 503 is one).
        `repeatable` overrides whether the method may be retried after a transient failure.
        `retry_statuses` are the statuses that count as transient for this request.
        """
        self.start_session()
        return self._request(method, path, action, json=json, data=data, params=params,
                             expect=expect, repeatable=repeatable, retry_statuses=retry_statuses, headers=headers)

    def _request(self, method, path, action, json=None, data=None, params=None,
                 expect=(200, 201, 204), repeatable=None, retry_statuses=RETRY_STATUSES, headers=None):
        if self.read_only and method in WRITE_METHODS:
            raise DbcsCheckModeWrite("check mode: refusing to send %s %s" % (method, path))
        if repeatable is None:
            repeatable = method in REPEATABLE_METHODS
        url = self.api_url + path
        headers = dict(headers or {})
        if data is not None:
            headers["Content-Type"] = "text/plain; charset=utf-8"
            data = data.encode("utf-8") if isinstance(data, str) else data
        if method == "DELETE":
            headers["X-Confirm-Delete"] = "true"  # 2.x deletes nothing without it; v1 ignores it
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                response = self.session.request(method, url, json=json, data=data, params=params,
                                                timeout=self.timeout, verify=self.verify, headers=headers or None)
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
                if attempt and isinstance(exc, requests.exceptions.Timeout):
                    # timeout bounds each attempt: say how long the whole request took.
                    error += " (%d attempts, %.1f s in all)" % (attempt + 1, time.monotonic() - started)
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
        return error_class(action, status, _error_text(response), hint, details=_error_details(response))

    # -- connections -------------------------------------------------------------------------------

    def list_connections(self):
        """Every connection of the key, in the flat form: a bare array (v1) or {"items": [...]} (2.x), all pages.

        An answer that is neither is an error, never an empty list: a module that saw no connections would
        create duplicates, and purge would delete nothing while reporting success.
        """
        items = self._list_all("/connections", "list connections", "connections")
        if items:
            self._nested_seen = any(is_nested(item) for item in items)
        return [from_wire(item) for item in items]

    def _list_all(self, path, action, what):
        """Every item of a list route: a bare array, or an envelope {"items", "total"} read page by page."""
        items, total = self._page(self.call("GET", path, action), action, what)
        while total is not None and len(items) < total:
            more, _total = self._page(self.call("GET", path, action, params={"offset": len(items)}), action, what)
            known = set(item.get("id") for item in items)
            more = [item for item in more if item.get("id") not in known]
            if not more:
                raise DbcsApiError(action, error="the server listed %d of the %d %s it counts, and no more "
                                                 "with ?offset=" % (len(items), total, what))
            items.extend(more)
        return items

    def _page(self, body, action, what):
        if isinstance(body, list):
            return [item for item in body if isinstance(item, dict)], None
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            total = body.get("total")
            return ([item for item in body["items"] if isinstance(item, dict)],
                    total if isinstance(total, int) and not isinstance(total, bool) else None)
        raise DbcsApiError(action, error="the answer is neither a list of %s nor {\"items\": [...]}" % what,
                           hint="Check that api_url is the API base URL, e.g. http://HOST:8020/api/v1")

    def get_connection(self, conn_id, missing_ok=False):
        try:
            return from_wire(self.call("GET", "/connections/%s" % conn_id, "read connection %s" % conn_id, expect=(200,)))
        except DbcsApiError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise

    def create_connection(self, body):
        """POST a new connection (`body` in the flat form) and return its id, never twice (see _create_once)."""
        self.start_session()  # the dialect is known from here on
        return self._create_once("/connections", to_wire(body, self.nested), body.get("name"), "connection",
                                 self.list_connections)

    def _create_once(self, path, wire, name, what, listing):
        """POST `wire` to create the `what` named `name` and return its id.

        A POST is never repeated blindly: when its outcome is unknown, the name is looked up (`listing` lists
        them all), and the POST is sent again only if the server has none of that name. A re-sent POST that
        meets a 409 finds its first attempt landed after all, and takes that one.
        """
        action = "create %s '%s'" % (what, name)
        attempt = 0
        while True:
            try:
                return _id_of(self.call("POST", path, action, json=wire), action, what)
            except DbcsOutcomeUnknown as unknown:
                found = self._read_back(name, unknown, what, listing)
                if len(found) == 1:
                    return found[0]
                if found or attempt >= self.retries:
                    raise
            except DbcsApiError as exc:
                if attempt and exc.status == 409:
                    found = [item.get("id") for item in listing() if item.get("name") == name]
                    if len(found) == 1:
                        return found[0]
                raise
            attempt += 1
            self._pause(attempt)

    @staticmethod
    def _read_back(name, unknown, what, listing):
        """The ids of the items named `name`, after a create whose outcome is unknown. When they cannot be read
        either, the create's own error is raised, saying that its outcome is unknown."""
        try:
            return [item.get("id") for item in listing() if item.get("name") == name]
        except DbcsApiError as exc:
            failure = "HTTP %s: %s" % (exc.status, exc.error) if exc.status is not None else exc.error
            unknown.hint = ("Whether it was created is unknown: reading the %ss back failed too (%s). "
                            "Run the task again: it finds the %s if it was created" % (what, failure, what))
            raise unknown

    def update_connection(self, conn_id, body):
        """PUT the whole connection (`body` in the flat form)."""
        self.start_session()
        self.call("PUT", "/connections/%s" % conn_id, "update connection '%s' (%s)" % (body.get("name"), conn_id),
                  json=to_wire(body, self.nested))

    def delete_connection(self, conn_id, name=None):
        """DELETE a connection; a 404 (already gone, e.g. deleted by an earlier attempt) is not a failure."""
        self.call("DELETE", "/connections/%s" % conn_id, _about("delete connection", conn_id, name), expect=(200, 202, 204, 404))

    def clone_connection(self, conn_id, name=None):
        action = _about("clone connection", conn_id, name)
        answer = self.call("PUT", "/connections/%s/clone" % conn_id, action, repeatable=False)
        return _id_of(answer, action)

    def ping_connection(self, conn_id, name=None):
        """Test a connection; return (ok, error). A failed test (503) is a result, never retried."""
        body = self.call("POST", "/connections/%s/ping" % conn_id, _about("test connection", conn_id, name), expect=(200, 503))
        body = body if isinstance(body, dict) else {}
        if body.get("ping") == "ok":
            return True, None
        return False, str(body.get("error") or body.get("ping") or "the server reported the test as failed")

    # -- what the server reads and creates in a connection's database server ---------------------------
    # Listing databases and tables makes the server log in to the database; their 503 is the database's
    # answer (down, login refused), as a failed ping's is, so it is not retried: repeating failed logins can
    # lock an account. A gateway's 502 or 504 still is.

    def list_databases(self, conn_id, name=None):
        """[{name, schemas: [names]}] of the databases the connection's user sees, system ones left out.

        2.x servers list system databases and schemas too, flagged isSystem, and schemas as objects; both
        dialects come out in the v1 shape.
        """
        body = self.call("GET", "/connections/%s/databases" % conn_id, _about("list databases of connection", conn_id, name),
                         retry_statuses=DATABASE_READ_RETRY_STATUSES) or []
        databases = []
        for entry in body if isinstance(body, list) else []:
            if not isinstance(entry, dict) or entry.get("isSystem"):
                continue
            item = {"name": entry.get("name")}
            if entry.get("schemas"):  # MySQL has none: 2.x lists an empty list, v1 no key
                item["schemas"] = [schema if isinstance(schema, str) else schema.get("name")
                                   for schema in entry["schemas"]
                                   if isinstance(schema, str) or (isinstance(schema, dict) and not schema.get("isSystem"))]
            databases.append(item)
        return databases

    def list_tables(self, conn_id, name=None, database=None):
        """The tables of `database` (2.x path) or of the connection's own database (v1 path)."""
        action = _about("list tables of connection", conn_id, name)
        self.start_session()
        v1_path = "/connections/%s/tables" % conn_id
        if database and self.v2_paths:
            return self._v2_or_v1(
                lambda: self.call("GET", "/connections/%s/databases/%s/tables" % (conn_id, _segment(database)), action,
                                  retry_statuses=DATABASE_READ_RETRY_STATUSES),
                lambda: self.call("GET", v1_path, action, retry_statuses=DATABASE_READ_RETRY_STATUSES)) or []
        return self.call("GET", v1_path, action, retry_statuses=DATABASE_READ_RETRY_STATUSES) or []

    def create_schema(self, conn_id, database, name):
        action = "create schema '%s' in database '%s' of connection %s" % (name, database, conn_id)
        self.start_session()

        def v1():
            return self.call("POST", "/connections/%s/schemas" % conn_id, action, json=name,
                             params={"database": database} if database else None)
        if database and self.v2_paths:
            return self._v2_or_v1(
                lambda: self.call("POST", "/connections/%s/databases/%s/schemas" % (conn_id, _segment(database)),
                                  action, data=name), v1)
        return v1()

    def create_database(self, conn_id, name, conn_name=None):
        """POST /connections/{id}/databases with the name as text/plain (both dialects)."""
        self.call("POST", "/connections/%s/databases" % conn_id,
                  "create database '%s' in %s" % (name, _about("connection", conn_id, conn_name)), data=name)

    def _v2_or_v1(self, v2, v1):
        """The 2.x request; on a 404 (a server that has only the v1 path), the v1 one."""
        try:
            return v2()
        except DbcsApiError as exc:
            if exc.status != 404:
                raise
            return v1()

    # -- stream configurations and runs (2.x) ------------------------------------------------------------

    def require_streams(self):
        """Streams are a 2.x API: a server that speaks v1 fails here, before any stream request, saying so."""
        self.start_session()
        # 2.x servers tell their install id (GET /system/defaults); without it, only connections seen in the 2.x form
        # make a server 2.x. Otherwise it is v1, and no stream request is sent (api_version 2 overrides).
        if self.api_version == "1" or (self.api_version == "auto" and not self.install_id and not self._nested_seen):
            raise self._no_streams()

    @staticmethod
    def _no_streams():
        return DbcsApiError("manage streams", error="this server speaks the v1 API, which has no stream configurations",
                            hint="Streams need a DBConvert Streams 2.x server (2.0 or later); set api_version to 2 "
                                 "only if the server is one")

    def list_stream_configs(self):
        return self._list_all("/stream-configs", "list stream configurations", "stream configurations")

    def create_stream_config(self, body):
        """POST a configuration and return its id, never twice (see _create_once)."""
        return self._create_once("/stream-configs", body, body.get("name"), "stream configuration",
                                 self.list_stream_configs)

    def update_stream_config(self, config_id, body):
        self.call("PUT", "/stream-configs/%s" % config_id,
                  "update stream configuration '%s' (%s)" % (body.get("name"), config_id), json=body)

    def delete_stream_config(self, config_id, name=None):
        self.call("DELETE", "/stream-configs/%s" % config_id, _about("delete stream configuration", config_id, name),
                  expect=(200, 202, 204, 404))

    def list_streams(self):
        """Every run of the key: [{id, configId, status, created, finished?}]."""
        return self._list_all("/streams", "list streams", "streams")

    def stream_history(self, config_id, name=None):
        body = self.call("GET", "/stream-configs/%s/history" % config_id,
                         _about("read the run history of stream configuration", config_id, name))
        return [entry for entry in (body if isinstance(body, list) else []) if isinstance(entry, dict)]

    def stream_stats(self, stream_id):
        body = self.call("GET", "/streams/%s/stats" % stream_id, "read the statistics of stream %s" % stream_id)
        return body if isinstance(body, dict) else {}

    def start_stream(self, config_id, name=None, known_runs=()):
        """POST /stream-configs/{id}/start and return the new run's id.

        A start is not safe to repeat. When its outcome is unknown (a reset, a timeout, a 5xx), the runs are read
        back: a run of this configuration that `known_runs` (the ids seen before) does not hold is the one this
        start made. Only when there is none is the start sent again, and a server that already runs the
        configuration refuses a second run (409 naming the active run), which is then the answer.
        """
        action = _about("start stream configuration", config_id, name)
        known = set(known_runs)
        attempt = 0
        while True:
            try:
                return _id_of(self.call("POST", "/stream-configs/%s/start" % config_id, action, expect=(200, 201, 202)),
                              action, "stream")
            except DbcsOutcomeUnknown as unknown:
                try:
                    new = [run for run in self.list_streams() if run.get("configId") == config_id and run.get("id") not in known]
                except DbcsApiError as exc:
                    unknown.hint = ("Whether it started is unknown: reading the runs back failed too (HTTP %s: %s); it is "
                                    "not started again blindly. Run the task again" % (exc.status, exc.error))
                    raise unknown
                if new:
                    return sorted(new, key=lambda run: (run.get("created") or 0, run.get("id") or ""))[-1]["id"]
                if attempt >= self.retries:
                    raise
            except DbcsApiError as exc:
                active = _active_ids(exc)
                if exc.status == 409 and active:
                    return active[0]  # a run of this configuration is active already: the one to follow
                raise
            attempt += 1
            self._pause(attempt)

    def act_on_stream(self, stream_id, verb, force=False):
        """POST /streams/{id}/pause|resume|stop; the answer's status, or None when the run has ended already (409)."""
        try:
            # Safe to repeat: pausing a paused run, resuming a running one or stopping a stopped one changes nothing.
            body = self.call("POST", "/streams/%s/%s" % (stream_id, verb), "%s stream %s" % (verb, stream_id),
                             params={"force": "true"} if force else None, repeatable=True)
        except DbcsApiError as exc:
            if exc.status == 409 and exc.details.get("field") == "stream_state":
                return None
            raise
        return body.get("status") if isinstance(body, dict) else None


def _active_ids(exc):
    """The active run ids a 409 on start names (details.value: a list, or ids separated by commas)."""
    if exc.details.get("field") != "stream_state":
        return []
    value = exc.details.get("value")
    ids = value if isinstance(value, list) else str(value or "").split(",")
    return [str(run_id).strip() for run_id in ids if str(run_id).strip()]


def _about(what, conn_id, name=None):
    """'test connection 'shop' (conn_...)', or with the id alone when the name is not known."""
    return "%s '%s' (%s)" % (what, name, conn_id) if name else "%s %s" % (what, conn_id)


def _segment(value):
    """A path segment: every character that is not unreserved is percent-encoded (a database named a/b)."""
    return quote(value, safe="")


def _id_of(answer, action, what="connection"):
    if isinstance(answer, dict) and answer.get("id"):
        return answer["id"]
    raise DbcsApiError(action, error="the server's answer carries no %s id" % what)


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
