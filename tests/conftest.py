"""Fixtures shared by the pytest suites that run real services (tests/server, tests/reliability).

Databases come from the environment when DBCS_PG_PORT and DBCS_MY_PORT are set (after
`eval "$(python tools/services.py env DIR)"`); otherwise the session starts its own with the
services harness (tools/services.py) and stops them at the end.
"""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

from server_helpers import Databases, Services  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    if os.environ.get("DBCS_PG_PORT") and os.environ.get("DBCS_MY_PORT"):
        yield Databases.from_env(os.environ)
        return
    # pytest's tmp dir is closed to the postgres and mysql users: the harness puts their data elsewhere.
    services = Services(tmp_path_factory.mktemp("databases"))
    try:
        services.start_databases()
        yield Databases.from_env(services.env())
    finally:
        services.stop()
