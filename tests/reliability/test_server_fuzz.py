"""Server under load and hostile input.

schemathesis against the OpenAPI document the server serves, with every check, the exact error
shape and a read-back of every accepted write (tests/support/schemathesis_runner.py, the same
runs as the bounded one in tests/server): at least 2,000 generated cases.
DBCS_RELIABILITY_SCHEMATHESIS_MAX_EXAMPLES sets the cases per operation (default 200: about 2,400
cases in about a minute here); more is a larger run.
"""

import os

import pytest

from schemathesis_runner import PROBE_ROUTES, fuzz_server, fuzz_the_server

MAX_EXAMPLES = int(os.environ.get("DBCS_RELIABILITY_SCHEMATHESIS_MAX_EXAMPLES", "200"))
MIN_CASES = 2000  # the floor for the default run


@pytest.fixture(scope="module")
def scratch(databases):
    with databases.scratch_database() as name:
        yield name


def test_schemathesis_large_run(report, databases, scratch, tmp_path):
    server = fuzz_server(tmp_path / "server", databases)
    (tmp_path / "server").mkdir()
    server.start()
    try:
        outcome = fuzz_the_server(server, databases, scratch, tmp_path, MAX_EXAMPLES)
    finally:
        server.stop()
    print("\n" + outcome.summary())
    everything, probes = outcome.runs
    report.row(
        "schemathesis against the served OpenAPI document: every check (`--checks all`: no 5xx, status codes,"
        " content types, headers and bodies conform to the document, negative data rejected, positive data"
        " accepted, auth not ignored...) plus two of ours: every error body exactly {\"error\": str}, and every"
        " accepted create or full replace read back exactly as sent",
        f"{MAX_EXAMPLES} examples per operation: all {everything.total} operations through examples, coverage,"
        f" fuzzing and stateful phases; then the {len(PROBE_ROUTES)} database routes on a real PostgreSQL"
        " connection (fuzzed schema names really created)",
        f"{outcome.cases} cases run ({everything.cases} + {probes.cases}), {outcome.failures} with failures,"
        f" {outcome.errors} errors, in {outcome.elapsed:.0f} s; the server answered {outcome.requests} requests,"
        f" {outcome.error_answers} of them errors (each held to the exact shape); 5xx: {outcome.documented_503}"
        f" documented 503s of database routes, {outcome.other_5xx} others; {outcome.schemas_created} schemas created",
    )
    assert outcome.cases >= MIN_CASES, f"only {outcome.cases} cases: raise DBCS_RELIABILITY_SCHEMATHESIS_MAX_EXAMPLES"
    assert not outcome.problems, "\n".join(outcome.problems)
