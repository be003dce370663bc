"""Fuzz the live server of each dialect against its own OpenAPI document with schemathesis.

The runs, the checks and what is expected of them are in tests/support/schemathesis_runner.py,
shared with the large runs of the reliability suite (tests/reliability/test_server_fuzz.py).
Here: at least 2,000 cases per dialect, and in 2.x at least 2,000 requests to the stream routes
(the runner's third run, with a real configuration, run and source). v1's operations have fewer
inputs to vary, so it takes more examples per operation for as many cases. DBCS_SCHEMATHESIS_MAX_EXAMPLES sets the examples
per operation of both (and lifts the floor).
"""

import os

import pytest

from schemathesis_runner import fuzz_server, fuzz_the_server

DEFAULT_EXAMPLES = {1: 130, 2: 40}
MIN_CASES = 2000
CHOSEN = os.environ.get("DBCS_SCHEMATHESIS_MAX_EXAMPLES")


@pytest.fixture(params=[1, 2], ids=["v1", "v2"])
def server_to_fuzz(request, tmp_path_factory, databases):
    proc = fuzz_server(tmp_path_factory.mktemp(f"fuzz-v{request.param}"), databases, api_version=request.param)
    proc.start()
    yield proc
    proc.stop()


def test_schemathesis_finds_no_failure(server_to_fuzz, databases, scratch, tmp_path):
    examples = int(CHOSEN) if CHOSEN else DEFAULT_EXAMPLES[server_to_fuzz.api_version]
    outcome = fuzz_the_server(server_to_fuzz, databases, scratch, tmp_path, examples)
    print("\n" + outcome.summary())
    assert not outcome.problems, "\n".join(outcome.problems)
    if not CHOSEN:
        assert outcome.cases >= MIN_CASES, f"only {outcome.cases} cases: raise DEFAULT_EXAMPLES"
