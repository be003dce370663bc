"""Fuzz a live dbcs-server against its own OpenAPI document with schemathesis, in either dialect.

Shared by tests/server/test_schemathesis.py (a bounded run of each dialect, every test run) and
tests/reliability/test_server_fuzz.py (the large runs behind the reliability report). One
schemathesis worker (DBCS_SCHEMATHESIS_WORKERS): workers share the API key, so one worker's
stateful DELETE can remove what another just wrote and is reading back.
fuzz_the_server() makes two schemathesis runs (2.x: three), each with every check (`--checks all`,
which includes the two checks of schemathesis_hooks.py: every error answer has exactly the dialect's
error shape, and every accepted create or replace reads back as it was sent):
  1. every operation, every phase (examples, coverage, fuzzing, stateful with the links
     schemathesis infers: create, then get/put/clone/ping/delete what was created);
  2. the database routes (ping, databases, tables, schemas) without the stateful phase, with
     the id of a real PostgreSQL connection (and, in 2.x, a scratch database as {db}), so that
     fuzzing reaches their logic: it creates schemas with generated names in the scratch
     database, and databases with generated names. Not stateful: inferred links would otherwise
     carry that id to DELETE. That connection logs in as a role of its own, made for the run
     (CREATEDB, CREATE on the scratch database, nothing else): what it made is told apart from
     what other tests make meanwhile, and dropped with it afterwards.
  3. (2.x) the stream routes without DELETE and without the stateful phase, with the id of a real
     stream configuration and of a real finished run as {id}, and every generated configuration
     pointed at a real source (schemathesis_hooks.py maps its connections to that PostgreSQL
     connection, its databases to the scratch database, its tables to a table the role made):
     fuzzing gets past "unknown connection" into the checks against the source database, writes
     configurations that really run when started, and starts, pauses, resumes and stops them.
     Runs left active afterwards are stopped. It takes half as many examples again per operation:
     with the stream routes' share of the first run, at least MIN_STREAM_CASES requests to the
     stream routes (each case is one request; the server's request log counts them).
The runs send X-API-Key, and in 2.x X-Install-ID, as explicit credentials (so that the auth
checks probe every route without them); X-Confirm-Delete is a required header of DELETE in the
2.x document, so positive cases send it and negative ones test its refusal. The log stream
(server-sent events: an answer that never ends) is left out of the runs; its tests are in
tests/server/test_v2_service.py.
Documented answers are told to schemathesis as expected, because they are the contract:
  - 503 from ping, /connections/test, databases, tables, schemas is a *result* (the database
    is unreachable, or the kind is not tested), and
  - 400 and 409 from creating a schema or a database for a schema-valid body (a mysql
    connection; a reserved, existing or too long name), and 400 from listing databases or
    tables where there are none (v1: a mysql connection without a database; 2.x: a kind that
    has no databases);
  - 400, 409 and 503 from writing a stream configuration whose body is schema-valid (unknown
    connections or tables, a taken name, a source that cannot be reached), and 400 and 409 from
    starting, pausing, resuming and stopping runs (a cdc configuration, an active or ended run).
Everything else is schemathesis' default. Afterwards the server's request log and stderr are
read: no 5xx but those documented 503s, no traceback.

The server runs with --allow-db-host (the test databases' hosts only) and --db-timeout 1:
fuzzed connections point at arbitrary host names, and none of them may cause traffic off this
machine or a hang.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from server_helpers import Databases, ServerProcess

PROBE_ROUTES = ("/ping", "/test", "/databases", "/tables", "/schemas")
DATABASE_ROUTES = "/(ping|databases|tables|schemas)$"
STREAM_ROUTES = "/(stream-configs|streams)"
STREAM_WRITES = "/stream-configs(/[^/]+)?$"  # schemathesis matches against the path template
MIN_STREAM_CASES = 2000
STREAM_TARGETS = """
[[operations]]
include-path-regex = "/stream-configs/"
parameters = {{ "path.id" = "{config}" }}
[[operations]]
include-path-regex = "/streams/"
parameters = {{ "path.id" = "{stream}" }}
"""
NEVER_ENDS = "/logs/stream$"
ACTIVE = ("READY", "RUNNING", "PAUSED")
HOOKS = Path(__file__).resolve().with_name("schemathesis_hooks.py")

EXPECTED = """
[[operations]]
include-path-regex = "/(ping|test)$"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
{target}
[[operations]]
include-path-regex = "/(databases|tables)$"
include-method = ["GET"]
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
{target}
[[operations]]
include-path-regex = "/(databases|schemas)$"
include-method = ["POST"]
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
{target}
[[operations]]
include-path-regex = "/stream-configs(/[{{]id[}}])?$"
include-method = ["POST", "PUT"]
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "503"]
[[operations]]
include-path-regex = "/(start|pause|resume|stop)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
"""


def fuzz_server(workdir: Path, databases: Databases, api_version: int = 1) -> ServerProcess:
    """A server (not started) as the fuzz runs need it: one key, local databases only; v1 with --strict-configs."""
    hosts = sorted({"127.0.0.1", databases.pg_host, databases.my_host})
    args = (["--strict-configs"] if api_version == 1 else []) + ["--db-timeout", "1"]
    args += [a for h in hosts for a in ("--allow-db-host", h)]
    return ServerProcess(workdir, key_count=1, args=args, api_version=api_version)


def schemathesis_command() -> list[str]:
    found = shutil.which("schemathesis", path=os.path.dirname(sys.executable)) or shutil.which("schemathesis")
    if not found:
        raise AssertionError("schemathesis is not installed (it is in requirements-dev.txt)")
    return [found]


@dataclass
class FuzzRun:
    """The figures of one schemathesis run, from its JSON report."""

    name: str
    cases: int
    with_failures: int
    unique_failures: int
    errors: int
    tested: int
    total: int
    elapsed: float
    returncode: int
    output: str

    def problems(self) -> list[str]:
        found = []
        if self.with_failures or self.errors or self.returncode:
            found.append(
                f"schemathesis ({self.name}): {self.with_failures} cases with failures ({self.unique_failures} unique),"
                f" {self.errors} errors, exit code {self.returncode}:\n{self.output}"
            )
        return found


@dataclass
class FuzzOutcome:
    """Both runs, what the server logged meanwhile, and every broken expectation in `problems`."""

    max_examples: int
    api_version: int = 1
    runs: list[FuzzRun] = field(default_factory=list)
    requests: int = 0
    error_answers: int = 0
    documented_503: int = 0
    other_5xx: int = 0
    schemas_created: int = 0
    databases_created: int = 0
    stream_cases: int = 0
    stream_configs_written: int = 0
    runs_started: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(run.cases for run in self.runs)

    @property
    def failures(self) -> int:
        return sum(run.with_failures for run in self.runs)

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs)

    @property
    def elapsed(self) -> float:
        return sum(run.elapsed for run in self.runs)

    def summary(self) -> str:
        runs = "; ".join(f"{r.name}: {r.cases} cases, {r.tested}/{r.total} operations, {r.elapsed:.0f} s" for r in self.runs)
        return (
            f"schemathesis (seed {SEED}) against API {'2.x' if self.api_version == 2 else 'v1'}, max"
            f" {self.max_examples} examples per operation: {self.cases} cases run, {self.failures} with failures,"
            f" {self.errors} errors in {self.elapsed:.0f} s ({runs}); the server logged {self.requests} requests,"
            f" {self.error_answers} error answers, {self.documented_503} documented 503s, {self.other_5xx} other 5xx;"
            f" {self.schemas_created} schemas and {self.databases_created} databases created"
            + (f"; stream routes: {self.stream_cases} requests, {self.stream_configs_written} configurations written,"
               f" {self.runs_started} runs started" if self.api_version == 2 else "")
        )


# A fixed seed keeps the test command reproducible; set DBCS_SCHEMATHESIS_SEED to explore other inputs.
SEED = os.environ.get("DBCS_SCHEMATHESIS_SEED", "20261126")


def run_schemathesis(server: ServerProcess, workdir: Path, config: str, max_examples: int, *options: str,
                     env: dict[str, str] | None = None) -> FuzzRun:
    workdir.mkdir()
    (workdir / "schemathesis.toml").write_text(config)
    credentials = ["--header", f"X-API-Key: {server.key}"]
    if server.install_id:
        credentials += ["--header", f"X-Install-ID: {server.install_id}"]
    command = schemathesis_command() + [
        "--config-file", str(workdir / "schemathesis.toml"), "--no-color",
        "run", server.url + "/openapi.json",
        *credentials,
        "--exclude-path-regex", NEVER_ENDS,
        "--checks", "all",
        "--max-examples", str(max_examples),
        "--request-timeout", "15",
        "--workers", os.environ.get("DBCS_SCHEMATHESIS_WORKERS", "1"),
        "--seed", SEED,
        "--report", "json", "--report-dir", str(workdir / "report"),
        *options,
    ]
    env = {**os.environ, **(env or {}), "SCHEMATHESIS_HOOKS": str(HOOKS), "DBCS_FUZZ_API_VERSION": str(server.api_version)}
    # cwd: schemathesis and hypothesis keep their state (.hypothesis/, .schemathesis/) there.
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=1800, check=False)
    reports = sorted((workdir / "report").glob("*.json"))
    if not reports:
        raise AssertionError(f"schemathesis wrote no report:\n{result.stdout[-5000:]}{result.stderr[-2000:]}")
    report = json.loads(reports[-1].read_text())
    cases = report["test_cases"]
    return FuzzRun(
        name=workdir.name,
        cases=cases["generated"],
        with_failures=cases["with_failures"],
        unique_failures=cases["unique_failures"],
        errors=sum(error.get("count", 1) for error in report["errors"]),
        tested=report["operations"]["tested"],
        total=report["operations"]["total"],
        elapsed=report["running_time"],
        returncode=result.returncode,
        output=result.stdout[-6000:] + result.stderr[-2000:],
    )


@contextmanager
def fuzz_role(databases: Databases, scratch: str) -> Iterator[tuple[str, str]]:
    """A PostgreSQL role (user, password) that may create databases, and schemas in `scratch`; afterwards
    the databases it owns are dropped (their names are in `made`), then the role."""
    user, password = "dbcs_fuzz_" + secrets.token_hex(4), secrets.token_urlsafe(16)
    with databases.pg() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
            sql.Identifier(user), sql.Literal(password)))
        conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(scratch), sql.Identifier(user)))
    try:
        yield user, password
    finally:
        with databases.pg() as conn:
            owned = [row[0] for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = %s)", (user,))]
            for name in owned:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        with databases.pg(scratch) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(user)))
        with databases.pg() as conn:
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(sql.Identifier(scratch), sql.Identifier(user)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))


def owned_databases(databases: Databases, user: str) -> int:
    with databases.pg() as conn:
        return conn.execute("SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = %s",
                            (user,)).fetchone()[0]


def fuzz_the_server(server: ServerProcess, databases: Databases, scratch: str, workdir: Path,
                    max_examples: int) -> FuzzOutcome:
    """Both runs against a started fuzz_server(); `scratch` is a PostgreSQL database schemas may go to."""
    outcome = FuzzOutcome(max_examples=max_examples, api_version=server.api_version)
    client = server.api(server.key, session=server.api_version == 1)  # v1: starts the session (--strict-configs)
    served: Any = client.get("/openapi.json").json()
    operation_count = sum(len(item) for path, item in served["paths"].items() if not re.search(NEVER_ENDS, path))
    everything = run_schemathesis(server, workdir / "all-operations", EXPECTED.format(target=""), max_examples)
    outcome.runs.append(everything)
    outcome.stream_cases = stream_requests(server.log_entries())
    if everything.tested != operation_count:
        outcome.problems.append(f"all-operations run tested {everything.tested} of {operation_count} operations")

    with fuzz_role(databases, scratch) as (user, password):
        pg = client.create(server.wire(databases.pg_spec(
            database=scratch, name="fuzz-target-" + workdir.name, username=user, password=password)))
        schemas_before = databases.pg_schemas(scratch)
        target = f'parameters = {{ "path.id" = "{pg["id"]}"' + (f', "path.db" = "{scratch}"' if server.install_id else "")
        probes = run_schemathesis(
            server, workdir / "database-routes", EXPECTED.format(target=target + " }\n"), max_examples,
            "--include-path-regex", DATABASE_ROUTES, "--phases", "examples,coverage,fuzzing",
        )
        outcome.runs.append(probes)
        probe_count = sum(len(item) for path, item in served["paths"].items() if re.search(DATABASE_ROUTES, path))
        if probes.tested != probe_count:
            outcome.problems.append(f"database-routes run tested {probes.tested} of {probe_count} operations")
        if client.get(f"/connections/{pg['id']}").status_code != 200:
            outcome.problems.append("the fuzz target connection is gone after the database-routes run")
        outcome.schemas_created = len(databases.pg_schemas(scratch) - schemas_before)
        if outcome.schemas_created < 2:
            outcome.problems.append(f"fuzzing created only {outcome.schemas_created} schemas: it did not reach the logic")
        outcome.databases_created = owned_databases(databases, user)
        if server.api_version == 2:
            fuzz_stream_routes(server, client, databases, scratch, pg["id"], (user, password), workdir, max_examples,
                               outcome)
    if outcome.databases_created < 2:
        outcome.problems.append(f"fuzzing created only {outcome.databases_created} databases: it did not reach the logic")

    for run in outcome.runs:
        outcome.problems += run.problems()
    entries = server.log_entries()
    outcome.requests = len(entries)
    outcome.error_answers = sum(1 for e in entries if e["status"] >= 400)
    outcome.documented_503 = sum(1 for e in entries if e["status"] == 503 and e["path"].endswith(PROBE_ROUTES))
    if len(entries) < outcome.cases:
        outcome.problems.append(f"the request log has {len(entries)} lines for {outcome.cases} cases")
    undocumented = [e for e in entries if e["status"] >= 500 and not (e["status"] == 503 and e["path"].endswith(PROBE_ROUTES))]
    outcome.other_5xx = len(undocumented)
    if undocumented:
        outcome.problems.append(f"{len(undocumented)} undocumented 5xx answers, e.g. {undocumented[:5]}")
    if "Traceback" in server.stderr():
        outcome.problems.append("the server logged a traceback:\n" + server.stderr()[-3000:])
    return outcome


def fuzz_stream_routes(server: ServerProcess, client: Any, databases: Databases, scratch: str, connection: str,
                       role: tuple[str, str], workdir: Path, max_examples: int, outcome: FuzzOutcome) -> None:
    """The third run: the stream routes with a real configuration, run and source (see the module's doc)."""
    user, password = role
    schema, table = "fuzz_source", "fuzz_items"
    where = sql.Identifier(schema, table)
    with psycopg.connect(host=databases.pg_host, port=databases.pg_port, user=user, password=password,
                         dbname=scratch, autocommit=True) as conn:  # the role's own schema and table
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE TABLE {} (id integer PRIMARY KEY, name text)").format(where))
        conn.execute(sql.SQL("INSERT INTO {} SELECT i, 'row ' || i FROM generate_series(1, 20) i").format(where))
    body = {"name": "fuzz-stream", "mode": "load",
            "source": {"connections": [{"connectionId": connection, "database": scratch, "schema": schema,
                                        "tables": [{"name": table}]}]},
            "target": {"id": connection, "spec": {"db": {"database": scratch, "schema": "fuzz_copy"}}}}
    config = client.post("/stream-configs", json=body)
    assert config.status_code == 201, config.text
    stream = client.post(f"/stream-configs/{config.json()['id']}/start").json()["id"]
    deadline = time.monotonic() + 30
    while client.get(f"/streams/{stream}/stats").json()["status"] in ACTIVE:
        assert time.monotonic() < deadline, "the fuzz target's run did not end"
        time.sleep(0.05)
    source = json.dumps({"connection": connection, "database": scratch, "schema": schema, "table": table,
                         "url": server.url, "key": server.key, "install_id": server.install_id,
                         "polls": str(workdir / "start-waits.log")})
    before = len(server.log_entries())
    run = run_schemathesis(
        server, workdir / "stream-routes", EXPECTED.format(target="") + STREAM_TARGETS.format(
            config=config.json()["id"], stream=stream), max_examples * 3 // 2,
        "--include-path-regex", STREAM_ROUTES, "--exclude-method", "DELETE", "--phases", "examples,coverage,fuzzing",
        env={"DBCS_FUZZ_STREAM_SOURCE": source},
    )
    outcome.runs.append(run)
    logged = server.log_entries()[before:]
    polls = workdir / "start-waits.log"  # the hook's own GET /streams while a start waits for the last run
    outcome.stream_cases += stream_requests(logged) - (len(polls.read_text().splitlines()) if polls.exists() else 0)
    outcome.stream_configs_written = sum(1 for e in logged if e["method"] in ("POST", "PUT") and e["status"] in (200, 201)
                                         and re.search(r"/stream-configs(/config_[^/]+)?$", e["path"]))
    outcome.runs_started = sum(1 for e in logged if e["path"].endswith("/start") and e["status"] == 200)
    for item in client.get("/streams").json():  # what fuzzing left running ends before the role goes
        if item["status"] in ACTIVE:
            client.post(f"/streams/{item['id']}/stop", params={"force": "true"})
    if any(item["status"] in ACTIVE for item in client.get("/streams").json()):
        outcome.problems.append("a run stayed active after a forced stop")
    for what, count in (("configurations written", outcome.stream_configs_written), ("runs started", outcome.runs_started)):
        if count < 2:
            outcome.problems.append(f"fuzzing the stream routes: only {count} {what}: it did not reach the logic")
    if outcome.stream_cases < MIN_STREAM_CASES and not os.environ.get("DBCS_SCHEMATHESIS_MAX_EXAMPLES"):
        outcome.problems.append(f"only {outcome.stream_cases} requests to the stream routes (at least {MIN_STREAM_CASES})")


def stream_requests(entries: list[dict[str, Any]]) -> int:
    """How many logged requests went to a stream route."""
    return sum(1 for e in entries if re.match(r"/api/v1/(stream-configs|streams)(/|$)", e["path"]))
