"""Bad input: every module and the connections role given wrong, odd or hostile input.

One real ansible-playbook run (-vvvv) per server flavour holds every case as a block whose rescue
records the failed task's result. Each case talks to the real server through its own tagged path of a
recording proxy (tests/support/fault_proxy.py, no faults), so that the requests of each case are known;
the server's request log must show no write but those of the cases whose input is valid (and the
verify cases' writes, each undone).

A failing case passes when its task fails with a message that names the option (and matches the
expected text), sent exactly the requests expected (none: it failed before the first request) and
wrote nothing. A valid-but-odd case (quotes, unicode, line breaks in a password, URL characters in a
name) passes when it is created once, reads back exactly as declared, and a second run changes
nothing. Two tiny HTTP servers stand in for the wrong server behind api_url: one answers HTML to
everything, one 404 to everything.

What runs where: a case that fails before its first request, or that talks only to a wrong server,
gives the same outcome whatever server stands behind api_url, so it runs once, in the primary
flavour's playbook (2.x); every case that reaches the real server runs against every flavour, with
the requests it must send computed from the flavour (see Case.expected_requests). The cases on a
connection's schema run only against 2.x, where a connection has none (on v1 it is a valid field).
"""

import json
import re
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from declared import pem_key, secrets_of, set_up
from fault_proxy import FaultPlan, FaultProxy
from flavours import ANY_SERVER, NO_INSTALL_ID_SESSION
from playbook_runner import SAVE_RESULT, PlaybookRunner
from server_helpers import closed_port

WRONG_SERVERS = ("html", "notfound")
# Where api_url points at something that answers GET /system/defaults without an install id: a module run then
# starts a v1 session (GET /user/configs) whatever the flavour.
NO_INSTALL_ID = WRONG_SERVERS + ("bare",)


@dataclass
class Case:
    id: str
    target: str                 # a module name, or "role"
    args: dict[str, Any]        # module arguments, or the role's variables
    expect: str | None          # a regex the failure message must match; None: the case must succeed
    option: str | None = None   # the option the message must name
    requests: int | None = None  # requests after the session start; None: it fails before the first request
    details: int = 0            # more requests on a server that lists summaries: GETs of a connection's details
    api: str = "proxy"          # where api_url points: proxy, none (set in args), html, notfound, bare
    what: str = ""
    writes: int = 0             # successful writes it must make (the valid cases' creates, the verify cases' undo)
    rejected_writes: int = 0    # writes the server refuses (it alone can judge), or answers as a failed test
    held: dict[str, Any] | None = None  # afterwards: the connection named held["name"] has exactly these fields
    gone: str | None = None     # afterwards: no connection has this name

    @property
    def independent(self) -> bool:
        """True when the outcome cannot depend on the server: the case fails before its first request, or talks
        only to a wrong server."""
        return self.requests is None or self.api in WRONG_SERVERS

    def expected_requests(self, flavour) -> int:
        """Every request the case sends: none, or the session start (GET /system/defaults, and GET /user/configs
        where no install id comes back) and its own."""
        if self.requests is None:
            return 0
        start = NO_INSTALL_ID_SESSION if self.api in NO_INSTALL_ID else flavour.session_requests
        return start + self.requests + (self.details if flavour.list_summary else 0)


class WrongServer:
    """A tiny HTTP server on 127.0.0.1 that is not the Connection API: it answers every request with the
    same status and body, and records the methods it was sent."""

    def __init__(self, status: int, body: str, content_type: str):
        self.methods: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                owner.methods.append(self.command)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/api/v1" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def pg(databases, name, **extra):
    return dict(dict(name=name, type="postgresql", host=databases.pg_host, port=databases.pg_port,
                     username=databases.pg_user, password="pw-" + secrets.token_urlsafe(12),
                     database=databases.pg_database), **extra)


def my(databases, name, **extra):
    return dict(dict(name=name, type="mysql", host=databases.my_host, port=databases.my_port,
                     username=databases.my_user, password="pw-" + secrets.token_urlsafe(12)), **extra)


def drop(conn, *keys):
    return {k: v for k, v in conn.items() if k not in keys}


MISSING = "/nonexistent/dbcs-bad-input/file.pem"
CONN_ID = "conn_" + "Z" * 27


def cases(databases, pem, flavour, existing, scratch, schema, closed):
    """The cases for one flavour. `existing`: the connections the server holds before the run, by role;
    `scratch`: a database in both PostgreSQL and MariaDB, holding `schema` in PostgreSQL; `closed`: a port
    that refuses connections (a connection test that fails at once)."""
    def c(label, **extra):
        return dict(pg(databases, "bad-" + label), **extra)

    v2 = flavour.api_version == 2
    odd_password = "qu\"o't\\e \n line\ttab ü€ 🔑 $(rm -rf /) %s `x`" % secrets.token_hex(6)
    verify_failed = r"^The test of connection '%s' failed: .+; %s, so the next run makes the change and tests it again$"
    restored = "its previous settings were restored"
    if flavour.hides_passwords:
        restored += " (with the password this task sent: the server does not return the one it had)"
    table = [
        # -- dbcs_connection ------------------------------------------------------------------------
        Case("conn-port-type", "dbcs_connection", c("port-type", port="five-four-three-two"),
             r"argument 'port' is of type .*str.* unable to convert to int", "port", what="port not a number"),
        Case("conn-port-range", "dbcs_connection", c("port-range", port=70000),
             r"^port must be between 1 and 65535, got 70000$", "port", what="port above 65535"),
        Case("conn-port-zero", "dbcs_connection", c("port-zero", port=0),
             r"^port must be between 1 and 65535, got 0$", "port", what="port 0"),
        Case("conn-port-bool", "dbcs_connection", c("port-bool", port=True),
             r"^port must be a whole number between 1 and 65535, got True$", "port", what="port: true (YAML boolean)"),
        Case("conn-type-choice", "dbcs_connection", c("type-choice", type="oracle"),
             r"value of type must be one of: mysql, postgresql, files, s3, got: oracle", "type", what="type not a choice"),
        Case("conn-unknown-key", "dbcs_connection", c("unknown-key", hostname="db.example.com"),
             r"Unsupported parameters for \(dbconvert\.streams\.dbcs_connection\) module: hostname", "hostname",
             what="unknown option hostname"),
        Case("conn-missing-name", "dbcs_connection", drop(c("x"), "name"),
             r"missing required arguments: name", "name", what="name missing"),
        Case("conn-empty-name", "dbcs_connection", c("x", name="  "), r"^name must not be empty$", "name",
             what="name only spaces"),
        Case("conn-name-newline", "dbcs_connection", c("x", name="bad-newline\n"),
             r"^name must not contain control characters such as line breaks or tabs, got 'bad-newline\\n'", "name",
             what="name ending in a line break (a YAML block scalar)"),
        Case("conn-name-tab", "dbcs_connection", c("x", name="bad\ttab"),
             r"^name must not contain control characters .*got 'bad\\ttab'", "name", what="name with a tab"),
        Case("conn-name-long", "dbcs_connection", c("x", name="bad-long-" + "n" * 250),
             r"^Could not create connection 'bad-long-n+': HTTP 400: name must be at most 255 characters$", "name",
             requests=2, rejected_writes=1, what="name of 259 characters (only the server knows its limit: 255)"),
        Case("conn-missing-password", "dbcs_connection", drop(c("no-password"), "password"),
             r"^connection 'bad-no-password' does not exist yet: to create it, set password$", "password", requests=1,
             what="create without password"),
        Case("conn-missing-type-host", "dbcs_connection", drop(c("no-type"), "type", "host"),
             r"^connection 'bad-no-type' does not exist yet: to create it, set type, host$", "type", requests=1,
             what="create without type and host"),
        Case("conn-mysql-schema", "dbcs_connection", my(databases, "bad-my-schema", schema="sales"),
             r"^schema is only valid for type postgresql", "schema", what="schema on a MySQL connection"),
        Case("conn-ssl-exclusive", "dbcs_connection", c("ssl-both", ssl=dict(mode="verify-ca", ca="x", ca_path=MISSING)),
             r"parameters are mutually exclusive: ca\|ca_path found in ssl", "ca_path", what="ssl.ca and ssl.ca_path"),
        Case("conn-ssl-not-pem", "dbcs_connection", c("ssl-pem", ssl=dict(mode="verify-ca", ca="not a certificate")),
             r"^ssl\.ca must be PEM", "ssl.ca", what="ssl.ca not PEM"),
        Case("conn-ssl-key-file", "dbcs_connection", c("ssl-file", ssl=dict(client_key_path=MISSING)),
             r"^ssl\.client_key_path cannot be read: /nonexistent", "ssl.client_key_path", what="ssl key file missing"),
        Case("conn-ssl-mode", "dbcs_connection", c("ssl-mode", ssl=dict(mode="sometimes")),
             r"value of mode must be one of: disabled, require, verify-ca, verify-full, got: sometimes found in ssl",
             "mode", what="ssl.mode not a choice"),
        Case("conn-verify-word", "dbcs_connection", c("verify", verify="sometimes"),
             r"^verify must be true, false, 'on_change' or 'always', got 'sometimes'$", "verify", what="verify not a choice"),
        Case("conn-update-password", "dbcs_connection", c("update-password", update_password="never"),
             r"value of update_password must be one of: always, on_create, got: never", "update_password",
             what="update_password not a choice"),
        Case("conn-clone-missing", "dbcs_connection", dict(name="bad-clone", clone_from="no-such-source"),
             r"^clone_from: no connection is named 'no-such-source' and none has that id$", "clone_from", requests=1,
             what="clone_from names nothing"),
        Case("conn-timeout-zero", "dbcs_connection", c("timeout", timeout=0),
             r"^timeout must be a positive number of seconds, got 0$", "timeout", what="timeout 0"),
        Case("conn-api-url-not-url", "dbcs_connection", c("url", api_url="streams.example.com/api/v1"),
             r"^api_url must be an http:// or https:// URL such as .*got 'streams\.example\.com/api/v1'", "api_url",
             api="none", what="api_url not a URL"),
        Case("conn-api-url-ftp", "dbcs_connection", c("ftp", api_url="ftp://127.0.0.1/api/v1"),
             r"^api_url must be an http:// or https:// URL", "api_url", api="none", what="api_url ftp://"),
        Case("conn-api-key-empty", "dbcs_connection", c("key", api_key=""),
             r"^api_key is required: set the api_key option", "api_key", what="api_key empty"),
        # v1 checks the key with the session start; 2.x has none, and its first request with the key is the list.
        Case("conn-api-key-wrong", "dbcs_connection", c("wrong-key", api_key="not-the-key-" + secrets.token_hex(6)),
             r"^Could not %s: HTTP 401: .*The API key was rejected: set the api_key option"
             % ("list connections" if v2 else r"start an API session \(GET /user/configs\)"), "api_key",
             requests=1 if v2 else 0, what="wrong api_key"),
        Case("conn-ca-path-missing", "dbcs_connection", c("ca", ca_path=MISSING), r"^ca_path cannot be read: /nonexistent",
             "ca_path", what="ca_path file missing"),
        Case("conn-host-empty", "dbcs_connection", c("host", host=""), r"^host must not be empty$", "host",
             what="host empty"),
        # verify: a change whose test fails is undone (list, the write, the test, the undo), and the message says so.
        Case("conn-verify-create", "dbcs_connection", c("verify-new", port=closed, verify=True),
             verify_failed % ("bad-verify-new", "the new connection was deleted again"), None, requests=4, writes=2,
             rejected_writes=1, gone="bad-verify-new",
             what="verify: true on a create whose test fails (the port refuses connections)"),
        Case("conn-verify-update", "dbcs_connection", dict(existing["verify"], port=closed, verify=True),
             verify_failed % ("bad-existing-verify", re.escape(restored)), None, requests=4, details=1, writes=2,
             rejected_writes=1, held=existing["verify"],
             what="verify: true on an update whose test fails (the new port refuses connections)"),
        # -- valid but odd: created once, read back exactly, unchanged on a second run ------------------
        Case("ok-name-quotes", "dbcs_connection", c("x", name="bad-it's a \"quoted\" \\name\\"), None,
             what="name with quotes and backslashes", requests=2, writes=1),
        Case("ok-name-unicode", "dbcs_connection", c("x", name="bad-Lager-Ümlaut-数据库-🚀"), None,
             what="name in unicode (umlaut, CJK, emoji)", requests=2, writes=1),
        Case("ok-name-url-chars", "dbcs_connection", c("x", name="bad-../../connections?id=1#x%2F &y"), None,
             what="name with URL characters (../, ?, #, %2F)", requests=2, writes=1),
        Case("ok-name-spaces", "dbcs_connection", c("x", name="  bad spaced name  "), None,
             what="name with leading and trailing spaces (kept as given)", requests=2, writes=1),
        Case("ok-password-odd", "dbcs_connection", c("odd-password", password=odd_password), None,
             what="password with quotes, backslash, line break, tab, unicode, shell syntax", requests=2, writes=1),
        # -- dbcs_connections -------------------------------------------------------------------------
        Case("set-not-list", "dbcs_connections", dict(connections="shop"),
             r"Elements value for option 'connections' is of type .*str.* unable to convert to dict", "connections",
             what="connections a string"),
        Case("set-duplicate-names", "dbcs_connections", dict(connections=[c("dup"), c("dup")]),
             r"^connections\[1\]: the name 'bad-dup' is declared twice \(also connections\[0\]\)", "connections",
             what="one name twice"),
        Case("set-item-missing-name", "dbcs_connections", dict(connections=[c("a"), drop(c("b"), "name")]),
             r"missing required arguments: name found in connections", "name", what="an item without name"),
        Case("set-item-unknown-key", "dbcs_connections", dict(connections=[c("a", passwd="x")]),
             r"Unsupported parameters for \(dbconvert\.streams\.dbcs_connections\) module: connections\.passwd", "passwd",
             what="an item with an unknown key"),
        Case("set-one-bad-item", "dbcs_connections",
             dict(connections=[c("s0"), c("s1"), my(databases, "bad-s2"), c("s3", port=0)]),
             r"^connections\[3\] \(bad-s3\): port must be between 1 and 65535, got 0$", "port",
             what="3 valid items and a 4th with port 0: nothing half-written"),
        Case("set-one-uncreatable-item", "dbcs_connections",
             dict(connections=[c("u0"), c("u1"), drop(c("u2"), "type")]),
             r"^connections\[2\] \(bad-u2\): connection 'bad-u2' does not exist yet: to create it, set type$", "type",
             requests=1, what="2 valid items and a 3rd without type: nothing half-written"),
        Case("set-parallel-range", "dbcs_connections", dict(connections=[c("p")], parallel=0),
             r"^parallel must be between 1 and 32, got 0$", "parallel", what="parallel 0"),
        Case("set-purge-type", "dbcs_connections", dict(connections=[], purge="maybe"),
             r"argument 'purge' is of type .*str.* unable to convert to bool", "purge", what="purge: maybe"),
        # -- dbcs_connection_info ----------------------------------------------------------------------
        Case("info-name-and-id", "dbcs_connection_info", dict(name="x", id=CONN_ID),
             r"parameters are mutually exclusive: name\|id", "id", what="name and id"),
        Case("info-bad-id", "dbcs_connection_info", dict(id="12345"),
             r"^id must be a connection id such as conn_", "id", what="id not an id"),
        Case("info-gather-choice", "dbcs_connection_info", dict(gather=["everything"]),
             r"value of gather must be one or more of: databases, tables, ping\. Got no match for: everything", "gather",
             what="gather not a choice"),
        Case("info-unknown-id", "dbcs_connection_info", dict(id=CONN_ID),
             r"^id: no connection has the id conn_Z+ \(with this API key\)$", "id", requests=1, what="an id nobody has"),
        Case("info-parallel", "dbcs_connection_info", dict(parallel=99), r"^parallel must be between 1 and 32, got 99$",
             "parallel", what="parallel 99"),
        # -- dbcs_schema: state=absent reads the schemas first (list, the connection's databases) ------------
        Case("schema-absent-missing", "dbcs_schema", dict(connection="bad-existing-pg", name="sales", state="absent"), None,
             requests=2, details=1, what="state absent, the schema does not exist: nothing to do"),
        Case("schema-absent-exists", "dbcs_schema",
             dict(connection="bad-existing-pg", database=scratch, name=schema, state="absent"),
             r"^state=absent cannot be carried out: schema '%s' exists in database '%s', and the DBConvert Streams API "
             r"cannot drop schemas" % (schema, scratch), "state", requests=2, details=1,
             what="state absent, the schema exists (the API cannot drop it)"),
        Case("schema-reserved", "dbcs_schema", dict(connection="bad-existing-pg", name="pg_sales"),
             r"^name 'pg_sales' is reserved for PostgreSQL's system schemas", "name", what="name pg_*"),
        Case("schema-too-long", "dbcs_schema", dict(connection="bad-existing-pg", name="s" * 64),
             r"^name must be at most 63 bytes in UTF-8", "name", what="name of 64 bytes"),
        Case("schema-missing-name", "dbcs_schema", dict(connection="bad-existing-pg"),
             r"missing required arguments: name", "name", what="name missing"),
        Case("schema-empty-database", "dbcs_schema", dict(connection="bad-existing-pg", name="sales", database=""),
             r"^database must not be empty", "database", what="database empty"),
        Case("schema-mysql", "dbcs_schema", dict(connection="bad-existing-my", name="sales"),
             r"^connection: 'bad-existing-my' is a mysql connection, and schemas can only be created in PostgreSQL",
             "connection", requests=1, details=1, what="a MySQL connection"),
        Case("schema-unknown-connection", "dbcs_schema", dict(connection="no-such-connection", name="sales"),
             r"^connection: no connection is named 'no-such-connection'", "connection", requests=1,
             what="a connection nobody has"),
        # -- dbcs_database: state=absent reads the databases first, as present does ---------------------------
        Case("database-absent-missing", "dbcs_database",
             dict(connection="bad-existing-pg", name="bad_no_such_database", state="absent"), None,
             requests=2, details=1, what="state absent, the database does not exist: nothing to do"),
        Case("database-absent-exists", "dbcs_database", dict(connection="bad-existing-my", name=scratch, state="absent"),
             r"^state=absent cannot be carried out: database '%s' exists, and the DBConvert Streams API cannot drop "
             r"databases" % scratch, "state", requests=2, details=1,
             what="state absent, the database exists (the API cannot drop it)"),
        Case("database-empty-name", "dbcs_database", dict(connection="bad-existing-pg", name=" "),
             r"^name must not be empty", "name", what="name only a space"),
        Case("database-mysql-emoji", "dbcs_database", dict(connection="bad-existing-my", name="bad-db-🚀"),
             r"^name must not contain characters outside the Basic Multilingual Plane", "name", requests=1, details=1,
             what="an emoji in a MySQL database name (known to be refused once the connection's type is read)"),
        Case("database-pg-too-long", "dbcs_database", dict(connection="bad-existing-pg", name="d" * 64),
             r"^name must be at most 63 bytes in UTF-8", "name", requests=1, details=1,
             what="a PostgreSQL database name of 64 bytes"),
        Case("database-unknown-connection", "dbcs_database", dict(connection="no-such-connection", name="sales"),
             r"^connection: no connection is named 'no-such-connection'", "connection", requests=1,
             what="a connection nobody has"),
        # -- the connections role -------------------------------------------------------------------------
        Case("role-not-list", "role", dict(dbcs_connections="shop"),
             r"Elements value for option 'dbcs_connections' is of type .*str.* unable to convert to dict", "dbcs_connections",
             what="dbcs_connections a string"),
        Case("role-port-type", "role", dict(dbcs_connections=[c("r-port", port="abc")]),
             r"argument 'port' is of type .*str.* found in 'dbcs_connections'.* unable to convert to int", "port",
             what="port not a number"),
        Case("role-port-range", "role", dict(dbcs_connections=[c("r-range", port=70000)]),
             r"^connections\[0\] \(bad-r-range\): port must be between 1 and 65535, got 70000$", "port",
             what="port above 65535 (valid type: the module judges the range)"),
        Case("role-missing-name", "role", dict(dbcs_connections=[drop(c("x"), "name")]),
             r"missing required arguments: name found in dbcs_connections", "name", what="an item without name"),
        Case("role-unknown-key", "role", dict(dbcs_connections=[c("r-key", hots="db.example.com")]),
             r"dbcs_connections\.hots\. Supported parameters include", "hots", what="an item with an unknown key"),
        Case("role-purge-type", "role", dict(dbcs_connections=[], dbcs_purge="maybe"),
             r"argument 'dbcs_purge' is of type .*str.* unable to convert to bool", "dbcs_purge", what="dbcs_purge: maybe"),
        Case("role-mysql-schemas", "role", dict(dbcs_connections=[my(databases, "bad-r-my", schemas=["sales"])]),
             r"schemas is only valid for PostgreSQL connections .*remove it from: bad-r-my", "schemas",
             what="schemas on a MySQL connection"),
        Case("role-api-url", "role", dict(dbcs_connections=[c("r-url")], dbcs_api_url="streams.example.com"),
             r"^api_url must be an http:// or https:// URL", "api_url", api="none", what="dbcs_api_url not a URL"),
        Case("role-ssl-exclusive", "role", dict(dbcs_connections=[c("r-ssl", ssl=dict(client_key=pem, client_key_path=MISSING))]),
             r"parameters are mutually exclusive: client_key\|client_key_path found in dbcs_connections -> ssl",
             "client_key_path", what="ssl.client_key (a real key) and ssl.client_key_path"),
        # -- the wrong server behind api_url: GET /system/defaults (no install id), then GET /user/configs ------
        Case("html-server", "dbcs_connection", c("html"),
             r"^Could not start an API session \(GET /user/configs\): HTTP 200: the answer from http://127\.0\.0\.1:\d+/api/v1 "
             r"is text/html, not JSON\. Check that api_url is the Connection API base URL", "api_url", requests=0,
             api="html", what="a web server that answers HTML to everything"),
        Case("html-server-set", "dbcs_connections", dict(connections=[c("html-a"), c("html-b")]),
             r"is text/html, not JSON\. Check that api_url", "api_url", requests=0, api="html",
             what="the same, through dbcs_connections"),
        Case("notfound-server", "dbcs_connection", c("404"),
             r"^Could not start an API session \(GET /user/configs\): HTTP 404: Not Found\. Check that api_url is the "
             r"Connection API base URL", "api_url", requests=0, api="notfound",
             what="a server answering 404 (text) to everything"),
        Case("bare-url", "dbcs_connection_info", dict(),
             r"^Could not start an API session \(GET /user/configs\): HTTP 404: not found\. Check that api_url is the "
             r"Connection API base URL", "api_url", requests=0, api="bare",
             what="api_url without /api/v1 (the real server answers a JSON 404 to everything)"),
    ]
    if v2:
        # A connection has no schema in 2.x (a stream chooses it): refused as soon as the install id shows the
        # dialect, before the connections are read. On v1, schema is a valid field of a PostgreSQL connection.
        no_schema = r"schema cannot be set on this server: it speaks the 2\.x API, where a connection has no schema; "
        table += [
            Case("conn-schema-v2", "dbcs_connection", c("schema-v2", schema="sales"), "^" + no_schema, "schema",
                 requests=0, what="schema on a PostgreSQL connection (2.x only)"),
            Case("set-schema-v2", "dbcs_connections", dict(connections=[c("sv0"), c("sv1", schema="sales")]),
                 r"^connections\[1\] \(bad-sv1\): " + no_schema, "schema", requests=0,
                 what="a valid item and one with schema (2.x only): nothing half-written"),
        ]
    return table


CASE_BLOCK = """
    - name: "case {id}"
      block:
        - name: "{id}"
{task}
          register: case_result
        - name: "{id}: succeeded"
          ansible.builtin.set_fact:
            outcomes: "{{{{ outcomes | combine({{'{id}': {{'failed': false, 'result': case_result}}}}) }}}}"
      rescue:
        - name: "{id}: failed"
          ansible.builtin.set_fact:
            outcomes: "{{{{ outcomes | combine({{'{id}': {{'failed': true, 'msg': ansible_failed_result.msg | default(''),
                          'result': ansible_failed_result}}}}) }}}}"
"""


def render(case, url, key, again=False, extra=None):
    """The case's block; `extra`: arguments the module gets besides the case's own."""
    if case.target == "role":
        variables = dict(case.args)
        variables.setdefault("dbcs_api_url", url)
        variables.setdefault("dbcs_api_key", key)
        task = ("          ansible.builtin.include_role:\n            name: dbconvert.streams.connections\n"
                "          vars: %s" % json.dumps(variables, ensure_ascii=False))
    else:
        args = dict(case.args, **(extra or {}))
        if case.api != "none":
            args.setdefault("api_url", url)
        args.setdefault("api_key", key)
        task = "          dbconvert.streams.%s: %s" % (case.target, json.dumps(args, ensure_ascii=False))
    return CASE_BLOCK.format(id=case.id + ("-again" if again else ""), task=task)


def judge(case, expected, outcome, again, sent, held):
    """What is wrong with a case's outcome (empty: nothing). `expected`: the requests it must send; `sent`: the
    proxy's records of its requests (None for a wrong server's cases, counted in total); `held`: the server's
    connections afterwards by name, passwords included."""
    problems = []
    if sent is not None:
        writes = [r for r in sent if r.write and r.status and r.status < 300]
        rejected = [r for r in sent if r.write and r.status and r.status >= 300]
        if (len(writes), len(rejected)) != (case.writes, case.rejected_writes):
            problems.append("%d writes and %d rejected writes" % (len(writes), len(rejected)))
        if len(sent) != expected:
            problems.append("%d requests (%s), %d expected" % (len(sent), ", ".join("%s %s" % (r.method, r.path) for r in sent),
                                                               expected))
    if case.gone is not None and case.gone in held:
        problems.append("%r is held afterwards" % case.gone)
    if case.held is not None:
        conn = held.get(case.held["name"]) or {}
        differ = sorted(key for key, value in case.held.items() if conn.get(key) != value)
        if differ:
            problems.append("%r afterwards differs in %s" % (case.held["name"], ", ".join(differ)))
    if case.expect is not None:
        msg = outcome.get("msg") or ""
        if not outcome["failed"]:
            problems.append("succeeded, expected to fail")
        elif not re.search(case.expect, msg, re.S) or (case.option and case.option not in msg):
            problems.append("message %r" % msg)
    elif outcome["failed"] or (outcome["result"]["changed"] != bool(case.writes)):
        problems.append(outcome.get("msg") or "changed: %s" % outcome["result"]["changed"])
    elif case.writes:
        name = case.args["name"]
        if again.get("failed") or again["result"]["changed"]:
            problems.append("the second run %s" % (again.get("msg") or "changed"))
        elif held.get(name, {}).get("password") != case.args["password"] or outcome["result"]["connection"]["name"] != name:
            problems.append("does not read back exactly")
    return ["%s: %s" % (case.id, problem) for problem in problems]


def described(case, outcome, requests):
    if case.expect is None and case.writes:
        return "succeeds: created once, reads back exactly (name and password), a second run changes nothing"
    if case.expect is None:
        return "succeeds, changing nothing; requests: %s, writes: 0" % requests
    if case.gone or case.held:
        writes = "%d, then undone (the test, a POST, answered as failed)" % case.writes
    else:
        writes = "0 (1 refused by the server)" if case.rejected_writes else 0
    return "fails: %r; requests: %s, writes: %s" % (outcome["msg"][:240], requests, writes)


def test_bad_input(flavour, databases, tmp_path, report):
    server = flavour.server(tmp_path / "server", key_count=1)
    server.start()
    html = WrongServer(200, "<!DOCTYPE html><html><head><title>Welcome</title></head><body>It works</body></html>",
                       "text/html; charset=utf-8")
    notfound = WrongServer(404, "Not Found", "text/plain")
    try:
        with databases.scratch_database() as scratch, closed_port() as closed:
            schema = "bad_absent_" + secrets.token_hex(3)
            with databases.pg(scratch) as conn:
                conn.execute('CREATE SCHEMA "%s"' % schema)
            key = server.key
            api = server.api(key)
            # With the databases' own passwords: the schema and database cases make the server log in.
            existing = dict(pg=pg(databases, "bad-existing-pg", password=databases.pg_password),
                            my=my(databases, "bad-existing-my", password=databases.my_password),
                            verify=pg(databases, "bad-existing-verify", password=databases.pg_password))
            set_up(server, api, existing.values())
            table = [case for case in cases(databases, pem_key(), flavour, existing, scratch, schema, closed)
                     if flavour.primary or not case.independent]
            assert len({c.id for c in table}) == len(table)
            expected = {case.id: case.expected_requests(flavour) for case in table}
            every = [c.args for c in table] + [a for c in table for a in (c.args.get("connections") or c.args.get("dbcs_connections") or [])
                                               if isinstance(a, dict)]
            runner = PlaybookRunner(tmp_path, secrets_of([a for a in every if isinstance(a, dict)], key,
                                                         databases.pg_password, databases.my_password))
            runner.add_secrets(*[c.args["api_key"] for c in table if len(c.args.get("api_key", "")) >= 6])
            runner.watch(server.request_log, server.stderr_path)
            logged = len(server.log_entries())
            with FaultProxy(server.url, FaultPlan()) as proxy:
                urls = dict(html=html.url, notfound=notfound.url, bare=proxy.url + "/t/bare", none=None)
                blocks = [render(c, urls.get(c.api) or proxy.tagged_api_url(c.id), key) for c in table]
                # A server that hides passwords cannot show that one is unchanged: a second run that sends none is the
                # one that changes nothing there (update_password: on_create, as the module documents).
                again = dict(update_password="on_create") if flavour.hides_passwords else None
                blocks += [render(c, proxy.tagged_api_url(c.id + "-again"), key, again=True, extra=again)
                           for c in table if c.writes and c.expect is None]
                book = ("---\n- name: bad input\n  hosts: localhost\n  gather_facts: false\n  vars:\n    outcomes: {}\n  tasks:\n"
                        + "".join(blocks) + SAVE_RESULT.format(var="outcomes"))
                run = runner.run("bad-input", book, {})
                records = proxy.snapshot()
        outcomes = run.results
        assert outcomes is not None, run.recap()
        entries = server.log_entries()[logged:]
        # With the passwords that the valid cases set and the verify cases left.
        held = {c["name"]: c for c in flavour.held(server, key, restore=False)}
        scan = runner.scan()
    finally:
        server.stop()
        html.stop()
        notfound.stop()
    assert "Traceback" not in run.output and "MODULE FAILURE" not in run.output

    problems = []
    by_tag = {}
    for record in records:
        by_tag.setdefault(record.tag, []).append(record)
    wrong_servers = dict(html=html.methods, notfound=notfound.methods)
    for case in table:
        outcome = outcomes.get(case.id)
        if outcome is None:
            problems.append("%s: no outcome" % case.id)
            continue
        # The wrong servers' requests are shared by their cases: they are checked in total below.
        sent = None if case.api in wrong_servers else by_tag.get("bare" if case.api == "bare" else case.id, [])
        problems += judge(case, expected[case.id], outcome, outcomes.get(case.id + "-again") or {}, sent, held)
    # The wrong servers: GETs only, exactly the session starts of their cases.
    for label, methods in wrong_servers.items():
        if [m for m in methods if m != "GET"] or len(methods) != sum(expected[c.id] for c in table if c.api == label):
            problems.append("%s server: got %s" % (label, methods))
    # The real server: the valid cases' creates, the verify cases' writes and undos, and the refused writes.
    server_writes = [e for e in entries if e["method"] in ("POST", "PUT", "DELETE")]
    allowed = sum(c.writes + c.rejected_writes for c in table)
    if len(server_writes) != allowed or len([e for e in server_writes if e["status"] < 300]) != sum(c.writes for c in table):
        problems.append("the server's request log shows %d writes: %s" % (len(server_writes), server_writes))
    assert not problems, "\n".join(problems)
    assert scan.hits == 0, scan.where()
    for case in table:
        target = "role connections" if case.target == "role" else case.target
        if case.api in wrong_servers:
            requests = "%s to the %s server in total for its %d cases" % (
                ", ".join("%d %s" % (n, m) for m, n in sorted(Counter(wrong_servers[case.api]).items())), case.api,
                sum(1 for other in table if other.api == case.api))
        else:
            requests = expected[case.id]
        report.row("%s: %s" % (target, case.id), case.what, described(case, outcomes[case.id], requests),
                   server=ANY_SERVER if case.independent else None)
    independent = sum(1 for c in table if c.independent)
    report.row("bad input: totals", "%d cases in one ansible-playbook run at -vvvv (%d that do not depend on the server, "
               "run against this flavour only)" % (len(table), independent) if independent else
               "%d cases that reach the server, in one ansible-playbook run at -vvvv" % len(table),
               "the server's request log: %d writes, all from the %d valid cases and the %d verify cases' changes and "
               "undos, plus %d refused or answered as a failed test; wrong servers: GET only; %s"
               % (len([e for e in server_writes if e["status"] < 300]), sum(1 for c in table if c.expect is None and c.writes),
                  sum(1 for c in table if c.gone or c.held), sum(c.rejected_writes for c in table), scan.summary()))
