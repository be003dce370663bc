"""The reliability suite's report: every scenario records what was applied and what came out.

A test takes the `report` fixture and calls report.row(scenario, load, outcome) once per scenario it
proves. When the session ends, the rows (in test order, failures marked) are written as a Markdown
table to tests/output/reliability.md, and to $DBCS_RELIABILITY_REPORT when it is set (the test
command sets it to docs/reliability.md, so that the document always comes from a full run).

The collection-level suites (faults, bad input, parallel runs, TLS) take the `flavour` fixture: each
of their tests runs against every server flavour of tests/support/flavours.py (v1, v1 hiding
passwords, 2.x), and its report rows name the flavour. What does not depend on the server runs once,
against the primary flavour (2.x), and its rows say so (report.row(..., server=flavours.ANY_SERVER)).

Under pytest-xdist (make test runs the suite with two workers, a test file per worker), each worker
writes its rows to tests/output/reliability-parts/ when it ends, and the controller writes the report
from all of them, in test-id order.
"""

import json
import os
import platform
import time
from pathlib import Path

import pytest

from flavours import FLAVOURS  # pylint: disable=import-error
from server_helpers import REPO_ROOT  # pylint: disable=import-error

ROWS = []
STARTED = time.time()
PARTS = REPO_ROOT / "tests" / "output" / "reliability-parts"


class Recorder(object):
    """Rows of one test; the test's outcome is attached after it ran."""

    def __init__(self, area, test_id, flavour=None):
        self.area = area
        self.test_id = test_id
        self.flavour = flavour
        self.rows = []
        self.failed = False

    def row(self, scenario, load, outcome, server=None):
        """One line of the report: the scenario, the load or fault applied, and the measured outcome. A test that
        takes the flavour fixture has its rows name the server (`server` overrides it, e.g. ANY_SERVER)."""
        server = server or (self.flavour.label if self.flavour else None)
        if server:
            scenario = "[%s] %s" % (server, scenario)
        self.rows.append(dict(scenario=scenario, load=load, outcome=outcome))


@pytest.fixture(scope="module", params=FLAVOURS, ids=[flavour.name for flavour in FLAVOURS])
def flavour(request):
    """The server flavour a collection-level test runs against (module scope: a module's tests run flavour by
    flavour, each flavour's module-scoped servers started once)."""
    return request.param


@pytest.fixture
def report(request):
    module = request.node.module.__name__.rsplit(".", 1)[-1]
    area = (request.node.module.__doc__ or module).strip().splitlines()[0].rstrip(".")
    params = getattr(getattr(request.node, "callspec", None), "params", {})
    recorder = Recorder(area, request.node.nodeid, params.get("flavour"))
    ROWS.append(recorder)
    request.node.dbcs_recorder = recorder
    return recorder


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    result = outcome.get_result()
    recorder = getattr(item, "dbcs_recorder", None)
    if recorder is not None and result.failed:
        recorder.failed = True
        recorder.error = str(result.longrepr).strip().splitlines()[-1][:300] if result.longrepr else "failed"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%s, %d cores, Python %s" % (cpu, os.cpu_count() or 0, platform.python_version())


# The longest files first, so that two workers end at about the same time (xdist --dist loadfile hands out the
# files in the order of the items).
FIRST = ("test_server_isolation.py", "test_faults.py")


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: next((i for i, name in enumerate(FIRST) if item.nodeid.split("::")[0].endswith(name)),
                                     len(FIRST)))


def _is_worker(config):
    return hasattr(config, "workerinput")


def pytest_sessionstart(session):
    if not _is_worker(session.config) and PARTS.exists():
        for part in PARTS.glob("*.json"):
            part.unlink()


def _recorders():
    """This process's recorders, and under xdist the workers' (from their parts), in test-id order."""
    found = [dict(area=r.area, test_id=r.test_id, rows=r.rows, failed=r.failed, error=getattr(r, "error", ""))
             for r in ROWS]
    if PARTS.exists():
        for part in sorted(PARTS.glob("*.json")):
            found += json.loads(part.read_text())
            part.unlink()
    return sorted(found, key=lambda r: r["test_id"])


def pytest_sessionfinish(session, exitstatus):
    if _is_worker(session.config):
        if ROWS:
            PARTS.mkdir(parents=True, exist_ok=True)
            (PARTS / ("%s.json" % session.config.workerinput["workerid"])).write_text(json.dumps(
                [dict(area=r.area, test_id=r.test_id, rows=r.rows, failed=r.failed, error=getattr(r, "error", ""))
                 for r in ROWS]))
        return
    recorders = _recorders()
    if not recorders:
        return
    lines = [
        "# Reliability and security",
        "",
        "Generated by the reliability suite (`tests/reliability/`, run by `make test` and `make reliability`)",
        "on %s, %s; the suite took %.0f s." % (time.strftime("%Y-%m-%d"), _machine(), time.time() - STARTED),
        "Every scenario drives the real local server, real MariaDB and PostgreSQL and, where it says so, real",
        "`ansible-playbook` runs. Do not edit by hand: run the suite.",
        "",
    ]
    area = None
    for recorder in recorders:
        if recorder["area"] != area:
            area = recorder["area"]
            lines += ["", "## %s" % area, "", "| scenario | load or fault applied | outcome |", "|---|---|---|"]
        rows = recorder["rows"] or [dict(scenario=recorder["test_id"], load="", outcome="")]
        for row in rows:
            outcome = row["outcome"]
            if recorder["failed"]:
                outcome = "**FAILED**: %s %s" % (recorder["error"], outcome)
            lines.append("| %s | %s | %s |" % (_cell(row["scenario"]), _cell(row["load"]), _cell(outcome)))
    text = "\n".join(lines) + "\n"
    targets = [REPO_ROOT / "tests" / "output" / "reliability.md"]
    if os.environ.get("DBCS_RELIABILITY_REPORT"):
        targets.append(Path(os.environ["DBCS_RELIABILITY_REPORT"]))
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
