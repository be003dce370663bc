"""Fixtures shared by the pytest suites that run real services (tests/server, tests/reliability).

Databases come from the environment when DBCS_PG_PORT and DBCS_MY_PORT are set (after
`. DIR/env.sh` of `tools/services.sh start-db DIR`); otherwise the session starts its own with
tools/services.sh and stops them at the end.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

from server_helpers import REPO_ROOT, Databases  # noqa: E402  pylint: disable=wrong-import-position

SERVICES = REPO_ROOT / "tools" / "services.sh"


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    if os.environ.get("DBCS_PG_PORT") and os.environ.get("DBCS_MY_PORT"):
        yield Databases.from_env(os.environ)
        return
    # Not under pytest's tmp dir: its parents are 0700 and postgres must traverse them.
    state = Path(tempfile.mkdtemp(prefix="dbcs-test-db-"))
    try:
        subprocess.run(["bash", str(SERVICES), "start-db", str(state)], check=True, timeout=300)
        env = {}
        for line in (state / "env.sh").read_text().splitlines():
            name, _sep, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip("'")
        yield Databases.from_env(env)
    finally:
        subprocess.run(["bash", str(SERVICES), "stop", str(state)], check=False, timeout=120)
        shutil.rmtree(state, ignore_errors=True)
