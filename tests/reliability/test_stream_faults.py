"""Stream modules through faults: starts whose outcome is unknown, configuration writes, bad input, parallel runs.

Streams exist on 2.x servers only: every test here runs against a 2.x server, with real MariaDB (the
source) and PostgreSQL (the target), real ansible-playbook runs at -vvvv and the fault proxy
(tests/support/fault_proxy.py) between them and the server. A start is not safe to repeat: whatever
fault hits it, one task starts a configuration at most once, and the runs on the server say so.
"""

import os
from collections import Counter

from declared import duplicates
from fault_proxy import FaultPlan, FaultProxy
from playbook_runner import PlaybookRunner, play
from server_helpers import ServerProcess, items

SEED = int(os.environ.get("DBCS_REL_SEED", "20261129"))
RATE = float(os.environ.get("DBCS_REL_FAULT_RATE", "0.3"))
CONFIGS = int(os.environ.get("DBCS_REL_STREAM_CONFIGS", "20"))
SOURCE_DB = "dbcs_rel_stream_src"
ROWS = 60
START = r"^/api/v1/stream-configs/[^/]+/start$"
MAX_RUNS = 10

RUN_TASK = """
    - name: Copy the data once more
      dbconvert.streams.dbcs_stream:
        config: "{{ config }}"
        state: finished
        force: true
        wait_timeout: 120
      register: outcome
      ignore_errors: true
"""

CONFIGS_TASK = """
    - name: Converge the stream configurations
      dbconvert.streams.dbcs_stream_configs:
        configs: "{{ configs }}"
        purge: "{{ purge | default(false) }}"
      register: outcome
      ignore_errors: true
"""


def stream_server(tmp_path, databases, keys=1):
    """A 2.x server with a MySQL source connection (a table of ROWS rows) and a PostgreSQL target one."""
    (tmp_path / "server").mkdir()
    server = ServerProcess(tmp_path / "server", key_count=keys, api_version=2)
    server.start()
    with databases.mysql() as conn, conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS `%s`" % SOURCE_DB)
        cur.execute("CREATE DATABASE `%s`" % SOURCE_DB)
        cur.execute("CREATE TABLE `%s`.items (id INT PRIMARY KEY, name VARCHAR(40))" % SOURCE_DB)
        cur.execute("INSERT INTO `%s`.items SELECT seq, CONCAT('item ', seq) FROM `%s`.seq_1_to_%d" % (SOURCE_DB, SOURCE_DB, ROWS))
    for key in server.keys:
        api = server.api(key, session=False)
        api.create(server.wire(databases.my_spec(name="rel-src")))
        api.create(server.wire(databases.pg_spec(name="rel-dst")))
    return server


def declared_configs(prefix, count, databases):
    return [dict(name="%s-%03d" % (prefix, i),
                 source=dict(connection="rel-src", database=SOURCE_DB, tables=["items"]),
                 target=dict(connection="rel-dst", database=databases.pg_database, schema="rel_%s_%03d" % (prefix, i),
                             write_mode="truncate_and_load"))
            for i in range(count)]


def runs_of(api, config_id):
    answer = api.get("/streams")
    assert answer.status_code == 200, answer.text
    return [run for run in items(answer.json()) if run.get("configId") == config_id]


def configs_held(api):
    answer = api.get("/stream-configs", params=dict(limit=1000))
    assert answer.status_code == 200, answer.text
    return items(answer.json())


def test_a_start_is_never_repeated_blindly(databases, tmp_path, report):
    server = stream_server(tmp_path, databases)
    api = server.api(server.key, session=False)
    runner = PlaybookRunner(tmp_path, [server.key, databases.my_password, databases.pg_password])
    runner.watch(server.request_log, server.stderr_path)
    setup = runner.run("setup", play(CONFIGS_TASK, save="outcome"),
                       dict(api_url=server.url, api_key=server.key, configs=declared_configs("start", 1, databases)))
    assert setup.rc == 0, setup.recap()
    config_id = configs_held(api)[0]["id"]
    # (fault on every start or on the first one, what the client can know, how the task must end)
    cases = [
        ("reset_after", 1, "the start reached the server, its answer was lost (connection reset)", "ok"),
        ("504", 1, "the start reached the server, the gateway answered 504", "ok"),
        ("delay", 1, "the start reached the server, its answer came after the timeout", "ok"),
        ("502", 1, "the first start answered 502 by the gateway (not forwarded)", "ok"),
        ("reset_before", 1, "the first start reset before it was forwarded", "ok"),
        ("503", None, "every start answered 503 (not forwarded)", "fails"),
    ]
    outcomes = []
    with FaultProxy(server.url, FaultPlan(), delay=6) as proxy:
        for kind, times, what, expected in cases:
            proxy.plan.clear()
            proxy.plan.force("POST", START, kind, times=times)
            before_runs = runs_of(api, config_id)
            before = len(proxy.snapshot())
            run = runner.run("start-%s" % kind, play(RUN_TASK, save="outcome"),
                             dict(api_url=proxy.api_url, api_key=server.key, config="start-000", api_timeout=3))
            result = run.results
            assert result is not None, run.recap()
            records = proxy.snapshot()[before:]
            reached = [r for r in records if r.method == "POST" and r.path.endswith("/start") and r.forwarded]
            new_runs = [r for r in runs_of(api, config_id) if r["id"] not in {b["id"] for b in before_runs}]
            assert len(new_runs) <= 1, "%s: %d runs started by one task" % (kind, len(new_runs))
            assert len(reached) == len(new_runs) or (kind == "503" and not reached), (kind, reached, new_runs)
            assert "Traceback" not in run.output and "MODULE FAILURE" not in run.output, run.log
            if expected == "ok":
                assert not result.get("failed"), "%s: %s" % (kind, result.get("msg"))
                assert result["stream"]["id"] == new_runs[0]["id"] and result["stream"]["status"] == "FINISHED", result
            else:
                assert result.get("failed") and not new_runs, result
                assert result["msg"].startswith("Could not start stream configuration"), result["msg"]
            outcomes.append("%s: %s" % (kind, "1 run, FINISHED" if new_runs else "no run, fails: %s" % result["msg"][:120]))
    scan = runner.scan()
    server.stop()
    assert scan.hits == 0, scan.where()
    report.row("dbcs_stream: a start whose outcome is unknown, under each fault",
               "; ".join(what for _k, _t, what, _e in cases),
               "one task never started the configuration twice (runs read back from GET /streams): " + "; ".join(outcomes)
               + "; " + scan.summary())


def test_configuration_writes_through_faults(databases, tmp_path, report):
    server = stream_server(tmp_path, databases)
    api = server.api(server.key, session=False)
    runner = PlaybookRunner(tmp_path, [server.key, databases.my_password, databases.pg_password])
    runner.watch(server.request_log, server.stderr_path)
    declared = declared_configs("faults", CONFIGS, databases)
    plan = FaultPlan(seed=SEED, rate=RATE, paths=r"^/api/v1/(stream-configs|connections)")
    attempts, messages = 0, []
    with FaultProxy(server.url, plan, delay=3) as proxy:
        for attempts in range(1, MAX_RUNS + 1):
            run = runner.run("converge-%d" % attempts, play(CONFIGS_TASK, save="outcome"),
                             dict(api_url=proxy.api_url, api_key=server.key, configs=declared, api_timeout=2))
            result = run.results
            assert result is not None and "Traceback" not in run.output, run.recap()
            if not result.get("failed"):
                break
            messages.append(result["msg"])
        else:
            raise AssertionError("not converged after %d runs: %s" % (MAX_RUNS, messages[-3:]))
        records = proxy.snapshot()
        plan.clear()
        again = runner.run("again", play(CONFIGS_TASK, save="outcome"),
                           dict(api_url=proxy.api_url, api_key=server.key, configs=declared))
        again_writes = [r for r in proxy.snapshot()[len(records):] if r.write]
    held = configs_held(api)
    scan = runner.scan()
    server.stop()
    landed, resent = set(), 0
    for r in records:
        if r.method == "POST" and r.path == "/api/v1/stream-configs" and r.forwarded:
            resent += r.name in landed
            if r.status in (200, 201):
                landed.add(r.name)
    assert not duplicates(held), duplicates(held)
    assert sorted(c["name"] for c in held) == sorted(c["name"] for c in declared)
    assert resent == 0
    assert again.rc == 0 and not again.results["changed"] and not again_writes
    assert scan.hits == 0, scan.where()
    faults = Counter(r.fault for r in records if r.fault)
    report.row("dbcs_stream_configs: %d configurations from empty through faults" % CONFIGS,
               "%.0f %% of the stream and connection requests faulted (seed %d): %s" % (
                   RATE * 100, SEED, ", ".join("%s %d" % kv for kv in sorted(faults.items()))),
               "converged in %d run(s), each failure one message; no configuration created twice (%d creates reached the "
               "server after one had landed); an unchanged re-run wrote nothing; %s" % (attempts, resent, scan.summary()))


BAD = [
    ("dbcs_stream_config", dict(name="x", write_mode="append"), "Unsupported parameters"),
    ("dbcs_stream_config", dict(name="x", target=dict(connection="rel-dst", write_mode="sometimes")),
     "value of write_mode must be one of"),
    ("dbcs_stream_config", dict(name="x", limits=dict(rows=-1)), "limits.rows"),
    ("dbcs_stream_config", dict(name="  "), "name"),
    ("dbcs_stream_configs", dict(configs=[dict(name="a"), dict(name="a")]), "declared twice"),
    ("dbcs_stream_configs", dict(configs=[dict(name="a", mode="convert")]), "configs[0] (a): "),
    ("dbcs_stream", dict(config="x", state="gone"), "value of state must be one of"),
    ("dbcs_stream", dict(config="x", wait_timeout=-5), "wait_timeout"),
    ("dbcs_stream_info", dict(name="x", id="config_x"), "mutually exclusive"),
    ("dbcs_stream_info", dict(gather=["everything"]), "value of gather must be one or more of"),
]


def test_bad_stream_input_fails_before_any_request(databases, tmp_path, report):
    server = stream_server(tmp_path, databases)
    runner = PlaybookRunner(tmp_path, [server.key])
    tasks = "".join("""
    - name: Case %d
      dbconvert.streams.%s: %s
      register: case_%d
      ignore_errors: true
""" % (i, module, repr(args).replace("'", '"'), i) for i, (module, args, _m) in enumerate(BAD))
    save = "[" + ", ".join("case_%d" % i for i in range(len(BAD))) + "]"
    before = len(server.log_entries())
    run = runner.run("bad", play(tasks + "\n    - name: Collect\n      ansible.builtin.set_fact:\n        cases: \"{{ %s }}\"\n"
                                 % save, save="cases"), dict(api_url=server.url, api_key=server.key))
    logged = server.log_entries()[before:]
    server.stop()
    results = run.results
    assert results is not None, run.recap()
    problems = []
    for (module, _args, wanted), result in zip(BAD, results):
        if not result.get("failed") or wanted not in result.get("msg", ""):
            problems.append("%s: %s" % (module, result.get("msg")))
    assert not problems, problems
    assert logged == [], logged
    report.row("stream modules: bad input", "%d cases: unknown options, bad choices, negative limits, blank or repeated "
               "names, exclusive options" % len(BAD),
               "every one failed naming the option, and the server logged no request")


def test_parallel_runs_on_disjoint_configuration_sets(databases, tmp_path, report):
    server = stream_server(tmp_path, databases)
    api = server.api(server.key, session=False)
    runner = PlaybookRunner(tmp_path, [server.key, databases.my_password, databases.pg_password])
    sets = [declared_configs("par%d" % n, 8, databases) for n in range(4)]
    pending = [runner.start("parallel-%d" % n, play(CONFIGS_TASK, save="outcome"),
                            dict(api_url=server.url, api_key=server.key, configs=configs)) for n, configs in enumerate(sets)]
    runs = [runner.finish(p) for p in pending]
    held = configs_held(api)
    server.stop()
    assert [r.rc for r in runs] == [0] * len(runs), [r.recap() for r in runs]
    assert not duplicates(held)
    assert sorted(c["name"] for c in held) == sorted(c["name"] for s in sets for c in s)
    report.row("dbcs_stream_configs: 4 runs at once on disjoint sets of 8", "4 ansible-playbook processes, one server",
               "all 32 configurations created once, none lost or doubled (%.0f-%.0f s per run)" % (
                   min(r.seconds for r in runs), max(r.seconds for r in runs)))
