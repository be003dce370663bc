"""Fuzz the live server against its own OpenAPI document with schemathesis: a bounded run.

The runs, the checks and what is expected of them are in tests/support/schemathesis_runner.py,
shared with the large run of the reliability suite (tests/reliability/test_server_fuzz.py).
Here: DBCS_SCHEMATHESIS_MAX_EXAMPLES cases per operation (default 25).
"""

import os

import pytest

from schemathesis_runner import fuzz_server, fuzz_the_server

MAX_EXAMPLES = int(os.environ.get("DBCS_SCHEMATHESIS_MAX_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def server_to_fuzz(tmp_path_factory, databases):
    proc = fuzz_server(tmp_path_factory.mktemp("fuzz"), databases)
    proc.start()
    yield proc
    proc.stop()


def test_schemathesis_finds_no_failure(server_to_fuzz, databases, scratch, tmp_path):
    outcome = fuzz_the_server(server_to_fuzz, databases, scratch, tmp_path, MAX_EXAMPLES)
    print("\n" + outcome.summary())
    assert not outcome.problems, "\n".join(outcome.problems)
