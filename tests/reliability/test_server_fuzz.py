"""Server under load and hostile input.

schemathesis against the OpenAPI document the server serves, in each dialect (v1 and 2.x), with
every check, the dialect's exact error shape and a read-back of every accepted write
(tests/support/schemathesis_runner.py, the same runs as the bounded ones in tests/server; 2.x also
the stream routes with a real configuration, run and source): at least 2,000 generated cases per
dialect.
It runs when DBCS_RELIABILITY_SCHEMATHESIS_MAX_EXAMPLES sets the cases per operation of both dialects (200 for
v1 gives about 2,400 cases; 2.x's operations take more varied input: 60 gives as many); make test leaves it out,
as the server step (tests/server/test_schemathesis.py) already runs at least 2,000 cases per dialect with every
check.
"""

import os

import pytest

from schemathesis_runner import fuzz_server, fuzz_the_server

CHOSEN = os.environ.get("DBCS_RELIABILITY_SCHEMATHESIS_MAX_EXAMPLES")


@pytest.fixture(scope="module")
def scratch(databases):
    with databases.scratch_database() as name:
        yield name


@pytest.mark.skipif(not CHOSEN, reason="the large run is asked for with DBCS_RELIABILITY_SCHEMATHESIS_MAX_EXAMPLES; "
                    "make test runs schemathesis (at least 2,000 cases per dialect, every check) in tests/server")
@pytest.mark.parametrize("api_version", [1, 2], ids=["v1", "v2"])
def test_schemathesis_large_run(report, databases, scratch, tmp_path, api_version):
    examples = int(CHOSEN)
    server = fuzz_server(tmp_path / "server", databases, api_version=api_version)
    (tmp_path / "server").mkdir()
    server.start()
    try:
        outcome = fuzz_the_server(server, databases, scratch, tmp_path, examples)
    finally:
        server.stop()
    print("\n" + outcome.summary())
    everything, probes, *streams = outcome.runs  # 2.x: the stream-routes run third
    dialect = "2.x" if api_version == 2 else "v1"
    shape = '{"error": str, "code"?: str, "details"?: {field, value?}}' if api_version == 2 else '{"error": str}'
    report.row(
        f"schemathesis against the served OpenAPI document of API {dialect}: every check (`--checks all`: no 5xx,"
        " status codes, content types, headers and bodies conform to the document, negative data rejected,"
        f" positive data accepted, auth not ignored...) plus two of ours: every error body exactly {shape}, and"
        " every accepted create or full replace read back exactly as sent",
        f"{examples} examples per operation: all {everything.tested} operations (the never-ending log stream"
        " aside) through examples, coverage, fuzzing and stateful phases; then the"
        f" {probes.tested} database routes on a real PostgreSQL connection (fuzzed schema and database names"
        " really created)" + (f"; then the {streams[0].tested} stream routes (DELETE aside) with a real stream"
                              " configuration, run and source (generated configurations pointed at it)" if streams else ""),
        f"{outcome.cases} cases run ({' + '.join(str(run.cases) for run in outcome.runs)}), {outcome.failures} with failures,"
        f" {outcome.errors} errors, in {outcome.elapsed:.0f} s; the server answered {outcome.requests} requests,"
        f" {outcome.error_answers} of them errors (each held to the exact shape); 5xx: {outcome.documented_503}"
        f" documented 503s of database routes, {outcome.other_5xx} others; {outcome.schemas_created} schemas and"
        f" {outcome.databases_created} databases created (the databases dropped afterwards)"
        + (f"; {outcome.stream_cases} requests to the stream routes, {outcome.stream_configs_written} stream"
           f" configurations written, {outcome.runs_started} runs started" if streams else ""),
    )
    assert not outcome.problems, "\n".join(outcome.problems)
