"""Parallel runs: concurrent ansible-playbook runs of dbcs_connections against one server.

8 playbooks run at the same time, each converging its own disjoint set of 25 connections of the same
API key on one server: first from empty, then each updating, deleting and adding in its own set while
the others do the same, then all again with nothing to do. The server must hold every set exactly
once and nothing else, and the unchanged round must not write.

Sizes from the environment: DBCS_REL_PARALLEL_RUNS (8), DBCS_REL_PARALLEL_SET (25), on the primary flavour; the
others run 4 runs of 10 (DBCS_REL_FULL_SIZE=1: every flavour at the full size).
"""

import os
from collections import Counter

from declared import declare, duplicates, mismatches, secrets_of, server_connections
from playbook_runner import PlaybookRunner, play

RUNS = int(os.environ.get("DBCS_REL_PARALLEL_RUNS", "8"))
SET_SIZE = int(os.environ.get("DBCS_REL_PARALLEL_SET", "25"))

CONVERGE = """
    - name: Converge this run's set
      dbconvert.streams.dbcs_connections:
        connections: "{{ connections }}"
      register: converge
"""


def changed_set(conns, run):
    """Each run's second declaration: a fifth updated, a fifth deleted, a fifth more created."""
    fifth = max(len(conns) // 5, 1)
    result = [dict(c, port=c["port"] + 1) if i < fifth else dict(name=c["name"], state="absent") if i < 2 * fifth else c
              for i, c in enumerate(conns)]
    return result, fifth


def seconds(runs):
    return "%.0f-%.0f s per run" % (min(r.seconds for r in runs), max(r.seconds for r in runs))


def test_parallel_runs_on_disjoint_sets(flavour, databases, tmp_path, report):
    server = flavour.server(tmp_path / "server", key_count=1)
    server.start()
    try:
        key = server.key
        runs_at_once, set_size = flavour.size(RUNS, min(RUNS, 4)), flavour.size(SET_SIZE, min(SET_SIZE, 10))
        sets = [flavour.declared(declare(databases, "par%d" % run, set_size)) for run in range(runs_at_once)]
        second = []
        for run, conns in enumerate(sets):
            changed, fifth = changed_set(conns, run)
            second.append(changed + flavour.declared(declare(databases, "par%d-new" % run, fifth)))
        runner = PlaybookRunner(tmp_path, secrets_of([c for s in sets + second for c in s], key))
        runner.watch(server.request_log, server.stderr_path)
        book = play(CONVERGE, "one of %d parallel runs" % runs_at_once, save="converge")
        rounds = []
        for label, declared, diff in (("create", sets, False), ("change", second, True), ("again", second, False)):
            logged = len(server.log_entries())
            pending = [runner.start("%s-%d" % (label, run), book,
                                    dict(api_url=server.url, api_key=key, connections=conns), diff=diff)
                       for run, conns in enumerate(declared)]
            runs = [runner.finish(p) for p in pending]
            failed = [run.recap() for run in runs if run.rc != 0 or not run.results]
            assert not failed, "%s: %s" % (label, failed)
            writes = Counter(e["method"] for e in server.log_entries()[logged:] if e["method"] in ("POST", "PUT", "DELETE"))
            rounds.append((label, runs, writes))
            held = server_connections(server.api(key))
            assert not duplicates(held), label
            wanted = [c for s in declared for c in s]
            assert mismatches(wanted, held) == [], label
            assert len(held) == sum(1 for c in wanted if c.get("state", "present") == "present")
        if flavour.hides_passwords:  # each round compared what the server shows; now the passwords too
            assert mismatches(wanted, flavour.held(server, key, restore=False)) == []
        scan = runner.scan()
    finally:
        server.stop()
    (_l1, create_runs, create_writes), (_l2, change_runs, change_writes), (_l3, again_runs, again_writes) = rounds
    fifth = max(set_size // 5, 1)
    assert all(len(r.results["created"]) == set_size for r in create_runs)
    assert create_writes == Counter(POST=runs_at_once * set_size)
    assert all((len(r.results["updated"]), len(r.results["deleted"]), len(r.results["created"])) == (fifth, fifth, fifth)
               for r in change_runs)
    assert change_writes == Counter(PUT=runs_at_once * fifth, DELETE=runs_at_once * fifth, POST=runs_at_once * fifth)
    assert not any(r.results["changed"] for r in again_runs) and not again_writes
    assert scan.hits == 0, scan.where()
    report.row("%d parallel runs, each creating its own %d connections (one API key, one server)" % (runs_at_once, set_size),
               "%d ansible-playbook at once; %s" % (runs_at_once, seconds(create_runs)),
               "every set present exactly once, nothing else: %d connections, duplicates 0; %d POSTs logged"
               % (runs_at_once * set_size, create_writes["POST"]))
    report.row("%d parallel runs, each updating %d, deleting %d and creating %d in its own set (--diff)" % (runs_at_once, fifth, fifth, fifth),
               "%d ansible-playbook at once; %s" % (runs_at_once, seconds(change_runs)),
               "exact result: %d connections, each as its run declared; writes logged %s"
               % (runs_at_once * set_size, dict(change_writes)))
    report.row("%d parallel runs with nothing to change" % runs_at_once, "%d ansible-playbook at once; %s" % (runs_at_once, seconds(again_runs)),
               "every run changed=false; 0 writes logged; %s over all %d runs and the server's logs"
               % (scan.summary(), 3 * runs_at_once))
