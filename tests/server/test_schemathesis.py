"""Fuzz the live server against its own OpenAPI document with schemathesis.

Every check runs (`--checks all`), DBCS_SCHEMATHESIS_MAX_EXAMPLES cases per operation (default 25),
in two runs:
  1. every operation, every phase (examples, coverage, fuzzing, stateful with the links
     schemathesis infers: create, then get/put/clone/ping/delete what was created);
  2. the database routes (ping, databases, tables, schemas) without the stateful phase, with
     the id of a real PostgreSQL connection, so that fuzzing reaches their logic (it creates
     schemas with generated names in a scratch database). Not stateful: inferred links would
     otherwise carry that id to DELETE.
Two documented answers are told to schemathesis as expected, because they are the contract:
  - 503 from ping/databases/tables/schemas is a *result* (the database is unreachable), and
  - 400 from schemas for a schema-valid body (mysql connection; reserved or too long name).
Everything else is schemathesis' default. No 500 may appear in the request log.

The server runs with --allow-db-host 127.0.0.1 and --db-timeout 1: fuzzed connections point
at arbitrary host names, and none of them may cause traffic off this machine or a hang.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server_helpers import ServerProcess

MAX_EXAMPLES = int(os.environ.get("DBCS_SCHEMATHESIS_MAX_EXAMPLES", "25"))
PROBE_ROUTES = ("/ping", "/databases", "/tables", "/schemas")

EXPECTED = """
[[operations]]
include-path-regex = "/(ping|databases|tables)$"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
{target}
[[operations]]
include-path-regex = "/schemas$"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
{target}
"""


def schemathesis_command() -> list[str]:
    found = shutil.which("schemathesis", path=os.path.dirname(sys.executable)) or shutil.which("schemathesis")
    if not found:
        pytest.fail("schemathesis is not installed (it is in requirements-dev.txt)")
    return [found]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory, databases):
    hosts = sorted({"127.0.0.1", databases.pg_host, databases.my_host})
    args = ["--strict-configs", "--db-timeout", "1"] + [a for h in hosts for a in ("--allow-db-host", h)]
    proc = ServerProcess(tmp_path_factory.mktemp("fuzz"), key_count=1, args=args)
    proc.start()
    yield proc
    proc.stop()


def run_schemathesis(server: ServerProcess, workdir: Path, config: str, *options: str) -> dict:
    workdir.mkdir()
    (workdir / "schemathesis.toml").write_text(config)
    command = schemathesis_command() + [
        "--config-file", str(workdir / "schemathesis.toml"), "--no-color",
        "run", server.url + "/openapi.json",
        "--header", f"X-API-Key: {server.key}",
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--request-timeout", "15",
        "--workers", "1",
        "--report", "json", "--report-dir", str(workdir / "report"),
        *options,
    ]
    # cwd: schemathesis and hypothesis keep their state (.hypothesis/, .schemathesis/) there.
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=900, check=False)
    reports = sorted((workdir / "report").glob("*.json"))
    assert reports, result.stdout[-5000:] + result.stderr[-2000:]
    report = json.loads(reports[-1].read_text())
    cases = report["test_cases"]
    report["errors_count"] = sum(error.get("count", 1) for error in report["errors"])
    print(
        f"\nschemathesis ({workdir.name}): {cases['generated']} cases run, {cases['with_failures']} with failures"
        f" ({cases['unique_failures']} unique), {report['errors_count']} errors,"
        f" {report['operations']['tested']}/{report['operations']['total']} operations tested,"
        f" max {MAX_EXAMPLES} examples per operation"
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    assert cases["with_failures"] == 0 and report["errors_count"] == 0, summary
    return report


def test_schemathesis_finds_no_failure(fuzz_server, databases, scratch, tmp_path):
    client = fuzz_server.api(fuzz_server.key)  # starts the session (--strict-configs)
    everything = run_schemathesis(fuzz_server, tmp_path / "all-operations", EXPECTED.format(target=""))
    assert everything["operations"]["tested"] == everything["operations"]["total"] == 13

    pg = client.create(databases.pg_spec(database=scratch, name="fuzz-target"))
    target = f'parameters = {{ "path.id" = "{pg["id"]}" }}\n'
    probes = run_schemathesis(
        fuzz_server, tmp_path / "database-routes", EXPECTED.format(target=target),
        "--include-path-regex", "/(ping|databases|tables|schemas)$", "--phases", "examples,coverage,fuzzing",
    )
    assert probes["operations"]["tested"] == 4
    assert client.get(f"/connections/{pg['id']}").status_code == 200
    assert len(databases.pg_schemas(scratch)) > 5  # fuzzing really created schemas

    generated = everything["test_cases"]["generated"] + probes["test_cases"]["generated"]
    print(f"schemathesis total: {generated} cases run, 0 failures")
    entries = fuzz_server.log_entries()
    assert len(entries) >= generated
    server_errors = [e for e in entries if e["status"] >= 500]
    assert all(e["status"] == 503 and e["path"].endswith(PROBE_ROUTES) for e in server_errors), server_errors
    assert "Traceback" not in fuzz_server.stderr()
