"""Server under load and hostile input.

An API key never sees or touches another key's data, on every route. The routes come from the
OpenAPI document the server serves, so a route added later is covered without editing this test
(one whose path parameters, query parameters or body this test cannot fill fails it, loudly).

The victim key owns a real PostgreSQL and a real MariaDB connection (with a table each, so that
ping, databases, tables and schemas would answer with real data if a check were missing) and one
with a sealed ssl.client_key. The attacker key, session started, owns one connection of its own.
For every documented operation it sends a valid request: on a route with a connection id, the
victim's ids and hostile id forms (other case, SQL and LIKE wildcards); a body that would be
accepted (a connection object named like the victim's, a new schema name); the optional query
parameters set to the victim's database. Then:
  - a route with an id answers 404 {"error": "connection '<id>' not found"};
  - no answer carries anything of the victim's (names, ids not sent, passwords, client key,
    database and table names, key);
  - afterwards the victim's connections are exactly as before, no schema was created in its
    databases, and the attacker owns only what it created itself;
  - the list, /user and /user/configs show only the attacker's own.
Methods the document does not list for a path are sent too: 405 {"error"}, nothing changed.
"""

import base64
import secrets
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
import requests

from server_helpers import ServerProcess, connection_spec

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
    "as the vendor's server answers": [],
    "hardened (--hide-passwords --list-summary --sparse-create)": ["--hide-passwords", "--list-summary", "--sparse-create"],
}


@pytest.fixture(scope="module", params=list(FLAVOURS), ids=["vendor", "hardened"])
def server(request, tmp_path_factory, databases):
    hosts = sorted({"127.0.0.1", databases.pg_host, databases.my_host})
    args = ["--strict-configs", "--db-timeout", "2", *FLAVOURS[request.param]]
    args += [a for h in hosts for a in ("--allow-db-host", h)]
    proc = ServerProcess(tmp_path_factory.mktemp("isolation"), key_count=2, args=args)
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
        self.victim_ids = [self.victim.create(spec)["id"] for spec in specs]
        assert self.victim.post(f"/connections/{self.victim_ids[0]}/ping").status_code == 200  # reachable
        self.attacker_own = self.attacker.create(connection_spec(f"attacker-own-{token}"))["id"]
        self.markers = {victim_key, self.database, self.table, client_key}
        for spec in specs:
            self.markers |= {spec["name"], spec["password"]}

    def snapshot(self) -> dict[str, Any]:
        return {
            "victim": self.victim.get("/connections").json(),
            "victim_one": [self.victim.get(f"/connections/{id_}").json() for id_ in self.victim_ids],
            "victim_configs": self.victim.get("/user/configs").json(),
            "attacker": self.attacker.get("/connections").json(),
            "pg_schemas": self.databases.pg_schemas(self.database),
        }

    def redact(self, text: str) -> str:
        """Text for a failure message: the victim's secrets masked (test output is scanned for them)."""
        for marker in sorted(self.markers, key=len, reverse=True):
            text = text.replace(marker, "<victim:%d chars>" % len(marker))
        return text

    def leaks(self, response: requests.Response, sent: str) -> list[str]:
        """The victim's values in an answer, less those the attacker sent itself (echoes are no leak)."""
        return [m for m in self.markers | set(self.victim_ids) if m in response.text and m not in sent]


def id_forms(victim_id: str) -> list[str]:
    """The victim's id as it is, and forms a careless lookup could match it (or every row) with."""
    return [victim_id, victim_id.lower(), victim_id.upper(), victim_id[:-1] + "%", "conn_%", "' OR '1'='1", "*"]


def body_for(operation: dict[str, Any], scene: Scene) -> dict[str, Any]:
    """requests keyword arguments for a valid body of this operation, or {} without one."""
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return {}
    json_schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in json_schema or json_schema.get("type") == "object":
        # The only object body is a connection: one named like the victim's (per key, names are free).
        return {"json": connection_spec(scene.victim.get(f"/connections/{scene.victim_ids[0]}").json()["name"])}
    if json_schema.get("type") == "string":
        return {"json": "iso_" + secrets.token_hex(4)}
    raise AssertionError(f"no rule for a request body of {sorted(content)}: teach body_for() about it")


def query_for(operation: dict[str, Any], scene: Scene) -> dict[str, str]:
    query = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query":
            assert parameter["schema"].get("type", "string") == "string" or "anyOf" in parameter["schema"], parameter
            query[parameter["name"]] = scene.database
        elif parameter["in"] == "path":
            assert parameter["name"] == "id", f"no rule for the path parameter {parameter['name']}"
    return query


def unchanged(scene: Scene, before: dict[str, Any], after: dict[str, Any], label: str) -> list[str]:
    problems = []
    for part in ("victim", "victim_one", "victim_configs", "pg_schemas"):
        if before[part] != after[part]:
            problems.append(f"{label}: the victim's {part} changed: {before[part]} -> {after[part]}")
    if after["attacker"] != before["attacker"]:
        problems.append(f"{label}: the attacker's own connections changed: {before['attacker']} -> {after['attacker']}")
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
        ids = list(dict.fromkeys(i for v in scene.victim_ids for i in id_forms(v))) if "{id}" in path else [None]
        if "{id}" in path and method == "get":
            # The control: the owner gets an answer on this route, so the attacker's 404 means something.
            control = scene.victim.get(path.removeprefix("/api/v1").replace("{id}", scene.victim_ids[0]), params=query)
            tally["controls"] += 1
            if control.status_code != 200:
                problems.append(f"control: the owner's {method.upper()} {path} answered {control.status_code} {control.text[:200]}")
        tally["ids per route"] = max(tally["ids per route"], len(ids))
        for sent_id in ids:
            before = scene.snapshot()
            url = base + (path.replace("{id}", quote(sent_id, safe="")) if sent_id else path)
            for with_query in ([False, True] if query else [False]):
                body = body_for(operation, scene)
                response = scene.attacker.session.request(
                    method.upper(), url, params=query if with_query else None, timeout=30, **body
                )
                label = f"{method.upper()} {path} id={sent_id!r} query={with_query}"
                tally["requests"] += 1
                leaked = scene.leaks(response, f"{sent_id} {body}")
                if leaked:
                    tally["leaks"] += 1
                    problems.append(scene.redact(f"{label}: {response.status_code} carries the victim's {leaked}"))
                if sent_id is not None:
                    tally["id requests"] += 1
                    expected = {"error": f"connection '{sent_id}' not found"}
                    if response.status_code == 404 and response.json() == expected:
                        tally["404"] += 1
                    else:
                        problems.append(f"{label}: {response.status_code} {response.text[:300]}")
                elif method == "post" and path.endswith("/connections"):
                    # The victim's name is free for another key, and taking it does not touch the victim's.
                    if response.status_code != 201:
                        problems.append(f"{label}: {response.status_code} {response.text[:300]}")
                    else:
                        assert scene.attacker.delete(f"/connections/{response.json()['id']}").status_code == 204
                elif not public and not 200 <= response.status_code < 300:
                    problems.append(f"{label}: {response.status_code} {response.text[:300]}")
            changes = unchanged(scene, before, scene.snapshot(), f"{method.upper()} {path} id={sent_id!r}")
            tally["side effects"] += bool(changes)
            problems += changes
        tally["operations"] += 1
        tally["id operations" if "{id}" in path else "operations without id"] += 1

    own_only = []
    own = [c["id"] for c in scene.attacker.get("/connections").json()]
    if own != [scene.attacker_own]:
        own_only.append(f"the attacker's list is {own}, not only its own connection")
    if scene.attacker.get("/user").json() != {"apiKey": server.keys[1]}:
        own_only.append("/user answers another key")
    if scene.attacker.get("/user/configs").json()["connections"] != 1:
        own_only.append("/user/configs counts another key's connections")
    problems += own_only

    for path, item in document["paths"].items():
        undocumented = [m for m in METHODS if m not in item]
        for method in undocumented:
            before = scene.snapshot()
            url = base + path.replace("{id}", scene.victim_ids[0])
            response = scene.attacker.session.request(method.upper(), url, timeout=30)
            tally["undocumented methods"] += 1
            tally["requests"] += 1
            label = f"{method.upper()} {path} (not documented)"
            if response.status_code == 405 and set(response.json()) == {"error"}:
                tally["405"] += 1
            else:
                problems.append(f"{label}: {response.status_code} {response.text[:300]}")
            leaked = scene.leaks(response, scene.victim_ids[0])
            tally["leaks"] += bool(leaked)
            problems += [f"{label}: carries {leak}" for leak in leaked]
            changes = unchanged(scene, before, scene.snapshot(), label)
            tally["side effects"] += bool(changes)
            problems += changes

    report.row(
        f"one API key against another key's data, on every route of the served OpenAPI document; server {server.flavour}",
        f"{tally['operations']} documented operations (routes x methods): {tally['id operations']} with a connection"
        f" id, each with {tally['ids per route']} ids: the victim's 3 (real PostgreSQL, real MariaDB, sealed ssl key),"
        f" each also lower- and upper-cased and with a % wildcard, and 3 hostile ones (SQL, LIKE, glob), with and"
        f" without ?database; {tally['operations without id']} without an id; plus"
        f" {tally['undocumented methods']} undocumented path x method pairs; {tally['requests']} requests as the other key;"
        f" {tally['controls']} GET routes answered the owner 200 for the same connection",
        f"{tally['404']} of {tally['id requests']} requests with an id answered 404 {{\"error\"}},"
        f" {tally['405']} of {tally['undocumented methods']} undocumented methods 405 {{\"error\"}};"
        f" {tally['leaks']} answers carried the victim's data; {tally['side effects']} requests changed the victim's"
        " connections, its session count, its databases' schemas or the attacker's own; list, /user and /user/configs"
        f" showed only the caller's own: {'no' if own_only else 'yes'}",
    )
    assert not problems, scene.redact("\n".join(problems[:40]))
