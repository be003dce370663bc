"""Fuzz the live server of each dialect against its own OpenAPI document with schemathesis.

The runs, the checks and what is expected of them are in tests/support/schemathesis_runner.py,
shared with the large runs of the reliability suite (tests/reliability/test_server_fuzz.py).
Here: DBCS_SCHEMATHESIS_MAX_EXAMPLES cases per operation (default 60: at least 2,000 cases per dialect).
"""

import os

import pytest

from schemathesis_runner import fuzz_server, fuzz_the_server

MAX_EXAMPLES = int(os.environ.get("DBCS_SCHEMATHESIS_MAX_EXAMPLES", "60"))
MIN_CASES = 2000 if "DBCS_SCHEMATHESIS_MAX_EXAMPLES" not in os.environ else 1


@pytest.fixture(params=[1, 2], ids=["v1", "v2"])
def server_to_fuzz(request, tmp_path_factory, databases):
    proc = fuzz_server(tmp_path_factory.mktemp(f"fuzz-v{request.param}"), databases, api_version=request.param)
    proc.start()
    yield proc
    proc.stop()


def test_schemathesis_finds_no_failure(server_to_fuzz, databases, scratch, tmp_path):
    outcome = fuzz_the_server(server_to_fuzz, databases, scratch, tmp_path, MAX_EXAMPLES)
    print("\n" + outcome.summary())
    assert not outcome.problems, "\n".join(outcome.problems)
    assert outcome.cases >= MIN_CASES, f"only {outcome.cases} cases: raise the default of DBCS_SCHEMATHESIS_MAX_EXAMPLES"
