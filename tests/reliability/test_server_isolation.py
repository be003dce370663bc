"""Server under load and hostile input.

An API key never sees or touches another key's data, on every route, in both dialects (v1 and
2.x, each as the vendor's server answers and hardened). The routes come from the OpenAPI document
the server serves, so a route added later is covered without editing this test (one whose path
parameters, query parameters, headers or body this test cannot fill fails it, loudly).

The victim key owns a real PostgreSQL and a real MariaDB connection (with a table each, so that
ping, databases, tables and schemas would answer with real data if a check were missing) and one
with a sealed ssl.client_key (2.x: also an s3 connection with a sealed secretKey, and a stream
configuration copying its MariaDB table into its PostgreSQL database, with a finished run). The attacker
key, session started, owns one connection of its own. For every documented operation it sends a
valid request: on a route with a connection id, the victim's ids and hostile id forms (other case,
SQL and LIKE wildcards); the victim's database as {db}; a body that would be accepted (a
connection object named like the victim's, a new schema or database name); the optional query
parameters set to the victim's database, name or schema; required headers as the document says
(2.x: X-Confirm-Delete: true). Then:
  - a route with an id answers 404 {"error": "connection '<id>' not found"} (stream configuration
    and stream routes: "stream configuration '<id>'", "stream '<id>'"), and a new stream
    configuration naming the victim's connections is refused as naming unknown ones;
  - no answer carries anything of the victim's (names, ids not sent, passwords, client key,
    database and table names, key);
  - afterwards the victim's connections are exactly as before, no schema was created in its
    databases, and the attacker owns only what it created itself;
  - the list, /user and /user/configs show only the attacker's own.
Methods the document does not list for a path are sent too: 405 {"error"}, nothing changed.
"""

import base64
import os
import secrets
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
import requests

from server_helpers import ServerProcess, connection_spec, items

METHODS = ("get", "post", "put", "delete", "patch")


@pytest.fixture(scope="module")
def scratch(databases):
    with databases.scratch_database() as name:
        table = "iso_table_" + secrets.token_hex(4)
        with databases.pg(name) as conn:
            conn.execute(f'CREATE TABLE "{table}" (id int)')
        with databases.mysql(name) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{table}` (id int)")
        yield name, table


FLAVOURS = {
    "v1 as the vendor's server answers": (1, ["--strict-configs"]),
    "v1 hardened (--hide-passwords --list-summary --sparse-create)":
        (1, ["--strict-configs", "--hide-passwords", "--list-summary", "--sparse-create"]),
    "2.x as the vendor's server answers": (2, []),
    "2.x hardened (--hide-passwords)": (2, ["--hide-passwords"]),
}


# make test checks three of the four (the 2.x hardened server hides what the 2.x vendor one shows, and its other routes
# are the same: about 4 minutes more for little); DBCS_RELIABILITY_ISOLATION_ALL=1 checks all four.
IDS = ["v1-vendor", "v1-hardened", "v2-vendor", "v2-hardened"]
CHOSEN = IDS if os.environ.get("DBCS_RELIABILITY_ISOLATION_ALL") == "1" else IDS[:3]


@pytest.fixture(scope="module", params=[f for f, i in zip(FLAVOURS, IDS) if i in CHOSEN], ids=CHOSEN)
def server(request, tmp_path_factory, databases):
    hosts = sorted({"127.0.0.1", databases.pg_host, databases.my_host})
    api_version, options = FLAVOURS[request.param]
    args = ["--db-timeout", "2", *options]
    args += [a for h in hosts for a in ("--allow-db-host", h)]
    proc = ServerProcess(tmp_path_factory.mktemp("isolation"), key_count=2, args=args, api_version=api_version)
    proc.flavour = request.param
    proc.start()
    yield proc
    proc.stop()


class Scene:
    """The victim's and the attacker's data, and what the attacker must never get."""

    def __init__(self, server: ServerProcess, databases, scratch: tuple[str, str]):
        self.server = server
        self.databases = databases
        self.database, self.table = scratch
        victim_key, attacker_key = server.keys
        self.victim = server.api(victim_key)
        self.attacker = server.api(attacker_key)
        token = secrets.token_hex(4)
        client_key = base64.b64encode(secrets.token_bytes(33)).decode()
        specs = [
            databases.pg_spec(database=self.database, name=f"victim-pg-{token}"),
            databases.my_spec(database=self.database, name=f"victim-my-{token}"),
            connection_spec(f"victim-tls-{token}", ssl={"mode": "verify-full", "client_key": client_key}),
        ]
        self.markers = {victim_key, self.database, self.table, client_key}
        for spec in specs:
            self.markers |= {spec["name"], spec["password"]}
        bodies = [server.wire(spec) for spec in specs]
        if server.api_version == 2:
            secret_key = "s3-" + secrets.token_hex(12)
            bodies.append({"name": f"victim-s3-{token}", "type": "s3", "spec": {"s3": {
                "region": "eu-central-1", "credentials": {"accessKey": "AK" + token, "secretKey": secret_key}}}})
            self.markers |= {f"victim-s3-{token}", secret_key}
        self.victim_ids = [self.victim.create(body)["id"] for body in bodies]
        self.victim_names = [body["name"] for body in bodies]
        assert self.victim.post(f"/connections/{self.victim_ids[0]}/ping").status_code == 200  # reachable
        self.attacker_own = self.attacker.create(server.wire(connection_spec(f"attacker-own-{token}")))["id"]
        self.config_ids: list[str] = []
        self.stream_ids: list[str] = []
        if server.api_version == 2:
            self.start_stream(f"victim-stream-{token}")

    def stream_body(self, name: str) -> dict[str, Any]:
        """A stream configuration of the victim's MariaDB table into its PostgreSQL database."""
        return {"name": name, "mode": "load",
                "source": {"connections": [{"connectionId": self.victim_ids[1], "database": self.database,
                                            "tables": [{"name": self.table}]}]},
                "target": {"id": self.victim_ids[0],
                           "spec": {"db": {"database": self.database, "schema": "copy_" + self.table}}}}

    def start_stream(self, name: str) -> None:
        created = self.victim.post("/stream-configs", json=self.stream_body(name))
        assert created.status_code == 201, created.text
        self.config_ids.append(created.json()["id"])
        self.markers.add(name)
        started = self.victim.post(f"/stream-configs/{self.config_ids[0]}/start").json()["id"]
        deadline = time.monotonic() + 30
        while self.victim.get(f"/streams/{started}/stats").json()["status"] != "FINISHED":
            assert time.monotonic() < deadline, "the victim's stream did not finish"
            time.sleep(0.05)
        self.stream_ids.append(started)

    def ids_of(self, path: str) -> list[str]:
        """The victim's ids of the kind the path takes."""
        if path.startswith("/api/v1/stream-configs"):
            return self.config_ids
        if path.startswith("/api/v1/streams"):
            return self.stream_ids
        return self.victim_ids

    def code(self, code: str) -> dict[str, str]:
        """The code member of an error answer: 2.x has one, v1 none."""
        return {"code": code} if self.server.api_version == 2 else {}

    def snapshot(self) -> dict[str, Any]:
        streams = {}
        if self.server.api_version == 2:
            streams = {
                "victim_streams": [self.victim.get("/stream-configs").json(), self.victim.get("/streams").json()]
                + [self.victim.get(f"/stream-configs/{c}/history").json() for c in self.config_ids]
                + [self.victim.get(f"/streams/{s}/stats").json() for s in self.stream_ids],
                "attacker_streams": [self.attacker.get("/stream-configs").json(), self.attacker.get("/streams").json()],
            }
        return {
            **streams,
            "victim": self.victim.get("/connections").json(),
            "victim_one": [self.victim.get(f"/connections/{id_}").json() for id_ in self.victim_ids],
            "victim_configs": self.victim.get("/user/configs").json(),
            "attacker": self.attacker.get("/connections").json(),
            "pg_schemas": self.databases.pg_schemas(self.database),
            "databases": self.databases.all_databases(),
        }

    def redact(self, text: str) -> str:
        """Text for a failure message: the victim's secrets masked (test output is scanned for them)."""
        for marker in sorted(self.markers, key=len, reverse=True):
            text = text.replace(marker, "<victim:%d chars>" % len(marker))
        return text

    def leaks(self, response: requests.Response, sent: str) -> list[str]:
        """The victim's values in an answer, less those the attacker sent itself (echoes are no leak)."""
        ids = set(self.victim_ids) | set(self.config_ids) | set(self.stream_ids)
        return [m for m in self.markers | ids if m in response.text and m not in sent]


def id_forms(victim_id: str) -> list[str]:
    """The victim's id as it is, and forms a careless lookup could match it (or every row) with."""
    return [victim_id, victim_id.lower(), victim_id.upper(), victim_id[:-1] + "%", "conn_%", "' OR '1'='1", "*"]


CONNECTION_BODIES = ("ConnectionV1In", "ConnectionV2Create", "ConnectionV2In", "ConnectionV2Test")


def body_for(operation: dict[str, Any], scene: Scene) -> dict[str, Any]:
    """requests keyword arguments for a valid body of this operation, or {} without one."""
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return {}
    json_schema = content.get("application/json", {}).get("schema", {})
    model = json_schema.get("$ref", "").rsplit("/", 1)[-1]
    if model in CONNECTION_BODIES:
        # A connection named like the victim's (per key, names are free).
        return {"json": scene.server.wire(connection_spec(scene.victim_names[0]))}
    if model == "SqlLoggingIn":
        return {"json": {"sqlCaptureMode": "minimal"}}
    if model == "StreamConfigIn":
        # The victim's configuration, as the attacker would send it: named like it, naming its connections.
        return {"json": scene.stream_body(scene.victim_names[0])}
    if json_schema.get("type") == "string":  # a schema's or a database's name
        return {"json": "iso_" + secrets.token_hex(4)}
    raise AssertionError(f"no rule for a request body of {sorted(content)} ({model}): teach body_for() about it")


def query_for(operation: dict[str, Any], scene: Scene) -> dict[str, Any]:
    """The optional query parameters, each set to something of the victim's."""
    values = {"database": scene.database, "search": scene.victim_names[0], "schemas": ["public", "sales"],
              "include_system": "true", "limit": 5, "offset": 0, "force": "true"}
    query = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query":
            assert parameter["name"] in values, f"no rule for the query parameter {parameter['name']}"
            query[parameter["name"]] = values[parameter["name"]]
        elif parameter["in"] == "path":
            assert parameter["name"] in ("id", "db"), f"no rule for the path parameter {parameter['name']}"
    return query


def headers_for(operation: dict[str, Any]) -> dict[str, str]:
    """Required headers, as the document says (2.x: X-Confirm-Delete: true)."""
    headers = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter.get("required"):
            assert parameter["schema"].get("enum"), f"no rule for the header {parameter['name']}"
            headers[parameter["name"]] = parameter["schema"]["enum"][0]
    return headers


def streams(operation: dict[str, Any]) -> bool:
    """An answer that never ends (server-sent events): read its first event only."""
    return "text/event-stream" in operation.get("responses", {}).get("200", {}).get("content", {})


def send(session: requests.Session, method: str, url: str, operation: dict[str, Any], **kwargs: Any) -> requests.Response:
    if not streams(operation):
        return session.request(method, url, timeout=30, **kwargs)
    with session.request(method, url, timeout=30, stream=True, **kwargs) as response:
        first_event = []
        for line in response.iter_lines():
            if not line:
                break
            first_event.append(line)
        response._content = b"\n".join(first_event)  # pylint: disable=protected-access  # for the leak check
        return response


def unchanged(scene: Scene, before: dict[str, Any], after: dict[str, Any], label: str) -> list[str]:
    problems = []
    for part in ("victim", "victim_one", "victim_configs", "pg_schemas", "databases", "victim_streams"):
        if part not in before:
            continue
        if before[part] != after[part]:
            problems.append(f"{label}: the victim's {part} changed: {before[part]} -> {after[part]}")
    for part in ("attacker", "attacker_streams"):
        if after.get(part) != before.get(part):
            problems.append(f"{label}: the attacker's own {part} changed: {before.get(part)} -> {after.get(part)}")
    return problems


def test_a_key_never_sees_another_keys_data_on_any_route(server, databases, scratch, report):
    scene = Scene(server, databases, scratch)
    document = requests.get(server.url + "/openapi.json", timeout=10).json()
    base = server.url.removesuffix("/api/v1")
    problems: list[str] = []
    tally: Counter = Counter()
    operations = [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]
    assert operations

    for path, method, operation in operations:
        public = operation.get("security") == [] or "security" not in operation
        query = query_for(operation, scene)
        headers = headers_for(operation)
        path = path.replace("{db}", quote(scene.database, safe=""))
        victim_ids = scene.ids_of(path)
        ids = list(dict.fromkeys(i for v in victim_ids for i in id_forms(v))) if "{id}" in path else [None]
        if "{id}" in path and method == "get":
            # The control: the owner gets an answer on this route, so the attacker's 404 means something.
            control = scene.victim.get(path.removeprefix("/api/v1").replace("{id}", victim_ids[0]), params=query)
            tally["controls"] += 1
            if control.status_code != 200:
                problems.append(f"control: the owner's {method.upper()} {path} answered {control.status_code} {control.text[:200]}")
        tally["ids per route"] = max(tally["ids per route"], len(ids))
        for sent_id in ids:
            before = scene.snapshot()
            url = base + (path.replace("{id}", quote(sent_id, safe="")) if sent_id else path)
            for with_query in ([False, True] if query else [False]):
                body = body_for(operation, scene)
                response = send(scene.attacker.session, method.upper(), url, operation,
                                params=query if with_query else None, headers=headers, **body)
                label = f"{method.upper()} {path} id={sent_id!r} query={with_query}"
                tally["requests"] += 1
                leaked = scene.leaks(response, f"{sent_id} {body} {query if with_query else ''}")  # echoes: no leak
                if leaked:
                    tally["leaks"] += 1
                    problems.append(scene.redact(f"{label}: {response.status_code} carries the victim's {leaked}"))
                if sent_id is not None:
                    tally["id requests"] += 1
                    what = {"/api/v1/stream-configs": "stream configuration", "/api/v1/streams": "stream"}.get(
                        path.split("/{id}")[0], "connection")
                    expected = {"error": f"{what} '{sent_id}' not found", **scene.code("NOT_FOUND")}
                    if response.status_code == 404 and response.json() == expected:
                        tally["404"] += 1
                    else:
                        problems.append(f"{label}: {response.status_code} {response.text[:300]}")
                elif method == "post" and path.endswith("/connections"):
                    # The victim's name is free for another key, and taking it does not touch the victim's.
                    if response.status_code != 201:
                        problems.append(f"{label}: {response.status_code} {response.text[:300]}")
                    else:
                        assert scene.attacker.delete(f"/connections/{response.json()['id']}",
                                                     headers={"X-Confirm-Delete": "true"}).status_code == 204
                elif method == "post" and path.endswith("/stream-configs"):
                    # The victim's connections are unknown to the attacker.
                    unknown = scene.victim_ids[0]
                    if response.status_code != 400 or response.json() != {
                            "error": f"connection '{unknown}' not found", "code": "VALIDATION_ERROR",
                            "details": {"field": "target.id", "value": unknown}}:
                        problems.append(f"{label}: {response.status_code} {response.text[:300]}")
                elif path.endswith("/connections/test"):
                    # A test of the attacker's own (unreachable) settings: a ping result, nothing else.
                    if response.status_code not in (200, 503) or set(response.json()) - {"ping", "error"}:
                        problems.append(f"{label}: {response.status_code} {response.text[:300]}")
                elif not public and not 200 <= response.status_code < 300:
                    problems.append(f"{label}: {response.status_code} {response.text[:300]}")
            changes = unchanged(scene, before, scene.snapshot(), f"{method.upper()} {path} id={sent_id!r}")
            tally["side effects"] += bool(changes)
            problems += changes
        tally["operations"] += 1
        tally["id operations" if "{id}" in path else "operations without id"] += 1

    own_only = []
    own = [c["id"] for c in items(scene.attacker.get("/connections").json())]
    if own != [scene.attacker_own]:
        own_only.append(f"the attacker's list is {own}, not only its own connection")
    if scene.attacker.get("/user").json()["apiKey"] != server.keys[1]:
        own_only.append("/user answers another key")
    if scene.attacker.get("/user/configs").json()["connections"] != 1:
        own_only.append("/user/configs counts another key's connections")
    problems += own_only

    for path, item in document["paths"].items():
        undocumented = [m for m in METHODS if m not in item]
        for method in undocumented:
            before = scene.snapshot()
            url = base + path.replace("{id}", scene.ids_of(path)[0]).replace("{db}", quote(scene.database, safe=""))
            response = scene.attacker.session.request(method.upper(), url, timeout=30)
            tally["undocumented methods"] += 1
            tally["requests"] += 1
            label = f"{method.upper()} {path} (not documented)"
            if response.status_code == 405 and response.json() == {"error": "method not allowed",
                                                                   **scene.code("METHOD_NOT_ALLOWED")}:
                tally["405"] += 1
            else:
                problems.append(f"{label}: {response.status_code} {response.text[:300]}")
            leaked = scene.leaks(response, scene.ids_of(path)[0])
            tally["leaks"] += bool(leaked)
            problems += [f"{label}: carries {leak}" for leak in leaked]
            changes = unchanged(scene, before, scene.snapshot(), label)
            tally["side effects"] += bool(changes)
            problems += changes

    report.row(
        f"one API key against another key's data, on every route of the served OpenAPI document; server {server.flavour}",
        f"{tally['operations']} documented operations (routes x methods): {tally['id operations']} with a connection"
        f" id, each with {tally['ids per route']} ids: the victim's {len(scene.victim_ids)} (real PostgreSQL, real"
        f" MariaDB, sealed ssl key{', sealed s3 secretKey' if server.api_version == 2 else ''}; stream routes: its"
        f" stream configuration's and run's ids),"
        f" each also lower- and upper-cased and with a % wildcard, and 3 hostile ones (SQL, LIKE, glob), with and"
        f" without the optional query parameters; {tally['operations without id']} without an id; plus"
        f" {tally['undocumented methods']} undocumented path x method pairs; {tally['requests']} requests as the other key;"
        f" {tally['controls']} GET routes answered the owner 200 for the same connection",
        f"{tally['404']} of {tally['id requests']} requests with an id answered 404 {{\"error\"}},"
        f" {tally['405']} of {tally['undocumented methods']} undocumented methods 405 {{\"error\"}};"
        f" {tally['leaks']} answers carried the victim's data; {tally['side effects']} requests changed the victim's"
        " connections, its session count, its databases' schemas, the databases or the attacker's own; list, /user"
        " and /user/configs"
        f" showed only the caller's own: {'no' if own_only else 'yes'}",
    )
    assert not problems, scene.redact("\n".join(problems[:40]))
