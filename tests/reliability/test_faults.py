"""Faults: the modules through a fault-injecting proxy (502/503/504, resets, answers past the timeout).

Real ansible-playbook runs (-vvvv) of dbcs_connections and dbcs_connection go through
tests/support/fault_proxy.py to a real dbcs-server. A run that fails is run again until the server
holds the declared set; then the set must be exact, no connection may exist twice, no create may have
been sent again after one had landed (the proxy sees every POST that reaches the server), every
failure must be one clear message, and no secret may appear in any output or server log.

Sizes from the environment, for deeper local runs: DBCS_REL_FAULT_CONNECTIONS (50), DBCS_REL_FAULT_RATE
(0.3), DBCS_REL_FAULT_SEED (7), DBCS_REL_FAULT_TIMEOUT (the modules' timeout, 2 s; a delay holds the
answer one second longer).
"""

import json
import os
import re
import secrets
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from declared import declare, duplicates, mismatches, secrets_of, server_connections, set_up
from fault_proxy import FAULT_KINDS, FaultPlan, FaultProxy
from playbook_runner import PlaybookRunner, play

CONNECTIONS = int(os.environ.get("DBCS_REL_FAULT_CONNECTIONS", "50"))  # on the primary flavour; the others: 20
RATE = float(os.environ.get("DBCS_REL_FAULT_RATE", "0.3"))
SEED = int(os.environ.get("DBCS_REL_FAULT_SEED", "7"))
TIMEOUT = int(os.environ.get("DBCS_REL_FAULT_TIMEOUT", "2"))
MAX_RUNS = 10

# One clear message per failure: what was being done, then the HTTP status and the server's (or the
# gateway's) short text, or why no answer came, and what to check. Never a traceback or HTML.
CLEAR_FAILURE = re.compile(
    r"^Could not (start an API session \(GET /(system/defaults|user/configs)\)|list connections|read connection conn_\w+|"
    r"create connection '[^']+'|update connection '[^']+' \(conn_\w+\)|delete connection '[^']+' \(conn_\w+\)|"
    r"delete connection conn_\w+)"
    r"(: HTTP (502|503|504): [A-Za-z][A-Za-z -]+( \(an HTML page, not an answer of the Connection API\))?"
    r"|: no answer from http://127\.0\.0\.1:\d+/api/v1(: [a-z][^<>\n]+\. Check api_url .+"
    r"| within \d+ s( \(\d+ attempts, \d+\.\d s in all\))?\. Raise the timeout option if the server needs longer, and check "
    r"that it is working))"
    r"(\. Whether it was created is unknown: reading the connections back failed too \(.+\)\. Run the task again: "
    r"it finds the connection if it was created)?$")

CONVERGE = """
    - name: Converge the declared connections
      dbconvert.streams.dbcs_connections:
        connections: "{{ connections }}"
        purge: "{{ purge | default(false) }}"
        parallel: 4
      register: converge
      ignore_errors: true
"""

# The loop runs over names, not over the connections: Ansible prints a loop's item with each result at
# -v, so a loop over dicts that carry passwords would print them (whatever loop_control.label says).
SINGLE = """
    - name: Converge one connection per loop item
      dbconvert.streams.dbcs_connection:
        name: "{{ item }}"
        state: "{{ conn.state | default('present') }}"
        type: "{{ conn.type | default(omit) }}"
        host: "{{ conn.host | default(omit) }}"
        port: "{{ conn.port | default(omit) }}"
        username: "{{ conn.username | default(omit) }}"
        password: "{{ conn.password | default(omit) }}"
        database: "{{ conn.database | default(omit) }}"
        ssl: "{{ conn.ssl | default(omit) }}"
        update_password: "{{ conn.update_password | default(omit) }}"
      vars:
        conn: "{{ connections | selectattr('name', 'eq', item) | first }}"
      loop: "{{ connections | map(attribute='name') | list }}"
      register: converge
      ignore_errors: true
"""


@pytest.fixture(scope="module")
def server(flavour, tmp_path_factory):
    server = flavour.server(tmp_path_factory.mktemp("fault-server"), key_count=12)
    server.start()
    yield server
    server.stop()


def failure_messages(result):
    """The messages a run's failed task carries: per connection for dbcs_connections, per loop item."""
    if not result or not result.get("failed"):
        return []
    if "results" in result:
        return [m for item in result["results"] for m in failure_messages(item)]
    if result.get("failures"):
        return [f["msg"] for f in result["failures"]]
    return [result.get("msg", "")]


def writes_by_name(records):
    """Forwarded creates per connection name: how many reached the server, and how many it accepted."""
    sent, landed = Counter(), Counter()
    for record in records:
        if record.method == "POST" and record.path == "/api/v1/connections" and record.forwarded:
            sent[record.name] += 1
            if record.status in (200, 201):
                landed[record.name] += 1
    return sent, landed


def resent_creates(records):
    """Creates that reached the server after a create of the same name had landed: on a server without
    a unique index each would be a duplicate connection."""
    landed, resent = set(), 0
    for record in records:
        if record.method == "POST" and record.path == "/api/v1/connections" and record.forwarded:
            if record.name in landed:
                resent += 1
            if record.status in (200, 201):
                landed.add(record.name)
    return resent


def assert_dialect_headers(flavour, records):
    """The dialect's headers on what the modules sent: X-Confirm-Delete: true on every DELETE; on 2.x X-Install-ID on
    every request after GET /system/defaults (which goes without it, and without the API key), on v1 on none."""
    problems = []
    for r in records:
        if r.method == "DELETE" and r.confirm_delete != "true":
            problems.append("DELETE %s without X-Confirm-Delete: true" % r.path)
        if r.path.endswith("/system/defaults"):
            if r.headers & {"x-api-key", "x-install-id"}:
                problems.append("GET /system/defaults with %s" % sorted(r.headers & {"x-api-key", "x-install-id"}))
        elif ("x-install-id" in r.headers) != (flavour.api_version == 2):
            problems.append("%s %s %s X-Install-ID" % (r.method, r.path, "with" if "x-install-id" in r.headers else "without"))
    assert not problems, problems[:10]


def converge_until_done(runner, name, playbook, variables, proxy, diff=False, check=False, returns=False):
    """Run the playbook until its task succeeds; return (runs, failure messages seen[, the last result])."""
    messages = []
    for attempt in range(1, MAX_RUNS + 1):
        run = runner.run("%s-%d" % (name, attempt), playbook, variables, diff=diff, check=check)
        result = run.results
        assert result is not None, "the play did not get to save its result:\n" + run.recap()
        assert "Traceback" not in run.output and "MODULE FAILURE" not in run.output, run.log
        found = failure_messages(result)
        messages += found
        if not result.get("failed"):
            assert run.rc == 0, run.recap()
            return (attempt, messages, result) if returns else (attempt, messages)
        assert found, "a failed run without a message: %s" % result
    pytest.fail("not converged after %d runs through %s of faults; last messages: %s" % (MAX_RUNS, proxy.faults, messages[-5:]))


def nothing_to_do(runner, name, playbook, variables, proxy, check=False, diff=False):
    """Run an unchanged (or check-mode) playbook through the faults until it gets through: no run may
    write, and the one that gets through reports no change (in check mode: returns its plan).
    Returns (runs, failure messages, the result)."""
    before = len(proxy.snapshot())
    runs, messages, result = converge_until_done(runner, name, playbook, variables, proxy, diff=diff, check=check,
                                                 returns=True)
    assert not [r for r in proxy.snapshot()[before:] if r.write], "%s: a write went out" % name
    assert check or not result["changed"], "%s: %s" % (name, result)
    return runs, messages, result


def assert_clear(messages):
    unclear = [m for m in messages for part in re.split(r"(?<=[^;]); (?=Could not )", strip_count(m))
               if not CLEAR_FAILURE.match(part)]
    assert not unclear, "unclear failure messages:\n" + "\n".join(unclear[:10])


def strip_count(message):
    return re.sub(r"^\d+ of \d+ connection changes failed: ", "", message)


def fault_figures(proxy, records=None):
    records = proxy.snapshot() if records is None else records
    faults = Counter(r.fault for r in records if r.fault)
    kinds = ", ".join("%s %d" % (k, faults[k]) for k in FAULT_KINDS if faults[k])
    return "%d requests, %d faults (%s)" % (len(records), sum(faults.values()), kinds)


class Echo(BaseHTTPRequestHandler):
    """An upstream that answers every request with the headers it got (as JSON) and a few of its own."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        data = json.dumps([[k, v] for k, v in self.headers.items()]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", "req-7")
        self.send_header("Retry-After", "1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


def test_proxy_forwards_every_header(report):
    """The fault proxy is transparent: whatever the dialect needs (X-API-Key, X-Install-ID, X-Confirm-Delete) and any
    other request header reaches the server as sent, and the server's answer headers come back."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    sent = {"X-API-Key": "key-" + secrets.token_hex(8), "X-Install-ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "X-Confirm-Delete": "true", "Idempotency-Key": "idem-1", "Accept": "application/json", "X-Custom": "a, b"}
    try:
        with FaultProxy("http://127.0.0.1:%d" % upstream.server_address[1], FaultPlan()) as proxy:
            answers = {method: requests.request(method, proxy.tagged_api_url("echo") + "/connections/conn_x", headers=sent,
                                                json={"name": "x"} if method in ("POST", "PUT") else None, timeout=10)
                       for method in ("GET", "POST", "PUT", "DELETE")}
            records = proxy.snapshot()
    finally:
        upstream.shutdown()
        upstream.server_close()
    for method, answer in answers.items():
        got = dict(answer.json())
        assert {k: got.get(k) for k in sent} == sent, method
        assert answer.headers["X-Request-Id"] == "req-7" and answer.headers["Retry-After"] == "1", method
    assert [r.confirm_delete for r in records] == ["true"] * 4
    assert all({"x-api-key", "x-install-id", "x-confirm-delete"} <= r.headers for r in records)
    report.row("the fault proxy forwards every header", "GET, POST, PUT and DELETE through the proxy to an echoing upstream, "
               "with X-API-Key, X-Install-ID, X-Confirm-Delete, Idempotency-Key and a custom header",
               "each reached the upstream as sent; the upstream's answer headers came back")


def test_converge_through_faults(flavour, server, databases, tmp_path, report):
    key = server.take_key()
    declared = flavour.declared(declare(databases, "fault", flavour.size(CONNECTIONS, min(CONNECTIONS, 20))))
    runner = PlaybookRunner(tmp_path, secrets_of(declared, key))
    runner.watch(server.request_log, server.stderr_path)
    plan = FaultPlan(seed=SEED, rate=RATE)
    with FaultProxy(server.url, plan, delay=TIMEOUT + 1) as proxy:
        variables = dict(api_url=proxy.api_url, api_key=key, api_timeout=TIMEOUT, connections=declared)
        book = play(CONVERGE, "converge through faults", save="converge")

        # Check mode through faults: a plan, and not one write on the wire.
        check_runs, check_messages, planned = nothing_to_do(runner, "check", book, variables, proxy, check=True, diff=True)
        assert len(planned["created"]) == len(declared)

        runs, messages = converge_until_done(runner, "converge", book, variables, proxy, diff=True)
        records = proxy.snapshot()
        # Once converged, a run through the same faults changes nothing and writes nothing.
        again_runs, again_messages, _result = nothing_to_do(runner, "again", book, variables, proxy)

    assert_clear(messages + check_messages + again_messages)
    held = flavour.held(server, key)
    assert not duplicates(held)
    assert mismatches(declared, held) == []
    sent, landed = writes_by_name(records)
    assert set(landed) == {c["name"] for c in declared} and set(landed.values()) == {1}
    resent = resent_creates(records)
    assert resent == 0
    assert_dialect_headers(flavour, proxy.snapshot())
    scan = runner.scan()
    assert scan.hits == 0, scan.where()
    report.row("dbcs_connections: converge %d connections from empty through faults" % len(declared),
               "%.0f %% of requests faulted, seed %d, timeout %d s; %s" % (RATE * 100, SEED, TIMEOUT, fault_figures(proxy)),
               "converged in %d run(s) (%d failed with a clear message each, %d messages); exactly the %d declared, "
               "duplicates 0, creates re-sent after landing 0 (%d creates reached the server for %d names); "
               "check mode (%d run(s)) and the unchanged re-run (%d run(s)) through faults sent 0 writes; %s"
               % (runs, runs - 1, len(messages), len(declared), sum(sent.values()), len(landed), check_runs, again_runs,
                  scan.summary()))


# Scripted faults that outlast the retries, one playbook each (run side by side: most of their time is
# the retries' backoff): (tag, module, what it declares, the faults, the message the task must end with).
HTML_PAGE = r" \(an HTML page, not an answer of the Connection API\)"
NO_ANSWER = r"no answer from http://127\.0\.0\.1:\d+/t/%s/api/v1: connection reset by peer\. Check api_url \(or DBCS_API_URL\) " \
            r"and that the server is running and reachable"
SINGLE_TASK = """
    - name: {title}
      dbconvert.streams.dbcs_connection: "{{{{ conn | combine({{'api_url': api_url}}) }}}}"
      register: outcome
      ignore_errors: true
"""
SET_TASK = """
    - name: {title}
      dbconvert.streams.dbcs_connections:
        connections: "{{{{ conn }}}}"
      register: outcome
      ignore_errors: true
"""


def test_failures_retries_cannot_cure(flavour, server, databases, tmp_path, report):
    """Scripted faults that outlast the retries: each ends its task with one clear message."""
    key = server.take_key()
    api = server.api(key)
    pool = declare(databases, "unc", 16, ssl_every=4)
    set_up(server, api, pool[3:6])  # the connections that the update and the deletes find
    forwarded, partial = pool[6:9], pool[9:15]
    failing = [partial[1]["name"], partial[4]["name"]]
    ident = r"'%s' \(conn_\w{27}\)"
    cases = [
        ("post502", "every POST of a create answered 502 by the proxy", SINGLE_TASK, pool[0],
         [("POST", r"^/api/v1/connections$", "502", None)],
         r"^Could not create connection 'unc-000': HTTP 502: Bad Gateway%s$" % HTML_PAGE),
        ("list503", "every list answered 503", SINGLE_TASK, pool[1],
         [("GET", r"^/api/v1/connections$", "503", None)],
         r"^Could not list connections: HTTP 503: Service Temporarily Unavailable%s$" % HTML_PAGE),
        ("reset", "every connection reset", SINGLE_TASK, pool[2], [("*", r"", "reset_before", None)],
         r"^Could not start an API session \(GET /system/defaults\): %s$" % (NO_ANSWER % "reset")),
        ("put_delay", "every PUT answered after the 1 s timeout", SINGLE_TASK, dict(pool[3], host="changed.invalid", timeout=1),
         [("PUT", r"^/api/v1/connections/", "delay", None)],
         r"^Could not update connection %s: no answer from http://127\.0\.0\.1:\d+/t/put_delay/api/v1 within 1 s \(5 attempts, "
         r"\d+\.\d s in all\)\. Raise the timeout option if the server needs longer, and check that it is working$"
         % (ident % "unc-003")),
        ("delete_reset", "every DELETE reset before it is forwarded", SINGLE_TASK, dict(name=pool[4]["name"], state="absent"),
         [("DELETE", r"^/api/v1/connections/", "reset_before", None)],
         r"^Could not delete connection %s: %s$" % (ident % "unc-004", NO_ANSWER % "delete_reset")),
        ("delete504", "two DELETEs answered 504 after the server deleted", SINGLE_TASK, dict(name=pool[5]["name"], state="absent"),
         [("DELETE", r"^/api/v1/connections/", "504", 2)], None),
        ("forwarded", "every POST of 3 creates forwarded, then answered 504, reset, or held past the timeout", SET_TASK, forwarded,
         [("POST", r"^/api/v1/connections$", kind, None, conn["name"]) for conn, kind in
          zip(forwarded, ("504", "reset_after", "delay"))], None),
        ("partial", "2 of 6 creates answered 503 every time", SET_TASK, partial,
         [("POST", r"^/api/v1/connections$", "503", None, name) for name in failing],
         r"^2 of 6 connection changes failed: Could not create connection 'unc-010': HTTP 503: Service Temporarily "
         r"Unavailable%s; Could not create connection 'unc-013': HTTP 503: " % HTML_PAGE),
    ]
    runner = PlaybookRunner(tmp_path, secrets_of(pool, key))
    runner.watch(server.request_log, server.stderr_path)
    plan = FaultPlan()
    for tag, _title, _task, _conn, faults, _expected in cases:
        for fault in faults:
            plan.force(*fault[:4], name=fault[4] if len(fault) > 4 else None, tag=tag)
    with FaultProxy(server.url, plan, delay=TIMEOUT + 1) as proxy:
        pending = [runner.start(tag, play(task.format(title=title), title, save="outcome"),
                                dict(api_url=proxy.tagged_api_url(tag), api_key=key, api_timeout=TIMEOUT, conn=conn))
                   for tag, title, task, conn, _faults, _expected in cases]
        out = {}
        for (tag, *_rest), started in zip(cases, pending):
            run = runner.finish(started)
            assert run.results is not None and "Traceback" not in run.output, (tag, run.recap())
            out[tag] = run.results
        records = proxy.snapshot()
        held = {c["name"]: c for c in server_connections(api)}
        plan.clear()
        # With the faults gone, a re-run of the partial set creates the two that failed, and only them.
        again = runner.run("partial-again", play(SET_TASK.format(title="the partial set again"), "no faults", save="outcome"),
                           dict(api_url=proxy.tagged_api_url("again"), api_key=key, conn=partial))

    def sent(tag, method, path=r"^/api/v1/connections$"):
        return sum(1 for r in records if r.tag == tag and r.method == method and re.search(path, r.path))

    for tag, _title, _task, _conn, _faults, expected in cases:
        if expected:
            assert out[tag].get("failed"), (tag, out[tag])
            assert re.match(expected, out[tag]["msg"]), (tag, out[tag]["msg"])
        else:
            assert not out[tag].get("failed") and out[tag]["changed"], (tag, out[tag])
    assert sent("post502", "POST") == 5 and "unc-000" not in held          # 1 + 4 retries, each after a read-back
    assert sent("list503", "GET") == 5                                      # 1 + 4 retries
    assert sent("put_delay", "PUT", r"^/api/v1/connections/conn_") == 5
    assert sent("delete_reset", "DELETE", r"^/api/v1/connections/conn_") == 5 and "unc-004" in held
    assert "unc-005" not in held
    assert sorted(out["forwarded"]["created"]) == [c["name"] for c in forwarded]
    assert resent_creates(records) == 0 and sent("forwarded", "POST") == 3
    assert_dialect_headers(flavour, records)
    assert sorted(f["name"] for f in out["partial"]["failures"]) == failing
    assert sorted(out["partial"]["created"]) == sorted(set(c["name"] for c in partial) - set(failing))
    assert set(out["partial"]["created"]) <= set(held) and not set(failing) & set(held)
    assert again.rc == 0 and sorted(again.results["created"]) == failing
    held = flavour.held(server, key)
    assert not duplicates(held)
    assert mismatches(partial, [c for c in held if c["name"] in {p["name"] for p in partial}]) == []
    scan = runner.scan()
    assert scan.hits == 0, scan.where()
    for tag, title, _task, _conn, _faults, expected in cases:
        outcome = out[tag]
        if expected:
            text = "failed after %d faulted attempts: %r" % (sum(1 for r in records if r.tag == tag and r.fault), outcome["msg"])
        elif tag == "forwarded":
            text = "succeeded: each create resolved by reading back; %d POSTs reached the server for 3 connections, 0 re-sent" % sent(tag, "POST")
        else:
            text = "succeeded: the retry's 404 says the first DELETE landed"
        if tag == "partial":
            text += "; the other 4 were created and listed in `created`, the 2 in `failures`; a re-run without faults created exactly those 2"
        report.row("uncurable: " + tag, title, text)
    report.row("uncurable: secrets", "the 9 runs above at -vvvv, the server's request log and log", scan.summary())


def test_updates_and_deletes_through_faults(flavour, databases, tmp_path, report):
    """Update, delete, purge and create through faults; the end state is checked by reading the data back with
    passwords shown (a server that hides them is restarted on its data without hiding them)."""
    server = flavour.server(tmp_path / "server")
    server.start()
    try:
        key = server.key
        api = server.api(key)
        baseline = declare(databases, "upd", 30, ssl_every=6)
        set_up(server, api, baseline)
        declared = []
        for i, conn in enumerate(baseline):
            if i < 5:    # a new password: sent by update_password always
                declared.append(dict(conn, password="pw-new-%d-" % i + conn["password"][3:], host="moved-%d.example.invalid" % i))
            elif i < 10:  # another port, the password unchanged (on_create: not comparable on this server)
                declared.append(dict(conn, port=conn["port"] + 1000, update_password="on_create"))
            elif i < 15:
                declared.append(dict(name=conn["name"], state="absent"))
            elif i < 20:
                continue  # not declared: purged
            else:
                declared.append(dict(conn, update_password="on_create"))
        declared += [dict(c, update_password="on_create") for c in declare(databases, "upd-new", 5, ssl_every=2)]
        runner = PlaybookRunner(tmp_path, secrets_of(baseline + declared, key))
        runner.watch(server.request_log, server.stderr_path)
        plan = FaultPlan(seed=SEED + 1, rate=RATE)
        with FaultProxy(server.url, plan, delay=TIMEOUT + 1) as proxy:
            variables = dict(api_url=proxy.api_url, api_key=key, api_timeout=TIMEOUT, connections=declared, purge=True)
            book = play(CONVERGE, "update, delete, purge and create through faults", save="converge")
            runs, messages = converge_until_done(runner, "converge", book, variables, proxy, diff=True)
            records = proxy.snapshot()
            # The new passwords are in; from now on they are only sent on create, so nothing is left to send.
            settled = [dict(c, update_password="on_create") if c.get("state") != "absent" else c for c in declared]
            _runs, again_messages, _result = nothing_to_do(runner, "again", book, dict(variables, connections=settled), proxy)
            messages += again_messages
        assert_clear(messages)
        held = flavour.held(server, key, restore=False)
        scan = runner.scan()
    finally:
        server.stop()
    assert not duplicates(held)
    assert mismatches(declared, held) == []
    assert resent_creates(records) == 0
    assert_dialect_headers(flavour, records)
    assert scan.hits == 0, scan.where()
    writes = Counter(r.method for r in records if r.write and r.forwarded)
    report.row("dbcs_connections: 10 updates (5 with a new password), 5 deletes, 5 purged, 5 creates, 10 unchanged, "
               "through faults",
               "%.0f %% of requests faulted, seed %d; %s" % (RATE * 100, SEED + 1, fault_figures(proxy, records)),
               "converged in %d run(s) (%d clear failure messages); writes that reached the server (a PUT or DELETE whose "
               "answer was lost is sent again; a DELETE's repeat finds 404): %s; end state "
               "read back with passwords: exactly the 25 declared, new passwords and ssl keys in place, duplicates 0, "
               "creates re-sent after landing 0; the re-run through faults sent 0 writes; %s"
               % (runs, len(messages), dict(writes), scan.summary()))


def test_single_module_through_faults(flavour, server, databases, tmp_path, report):
    """dbcs_connection in a loop (one module run per connection) through faults: creates, then updates
    and deletes."""
    key = server.take_key()
    first = flavour.declared(declare(databases, "one", 8, ssl_every=4))
    second = [dict(c, host="moved.example.invalid") if i < 3 else dict(name=c["name"], state="absent") if i < 6 else c
              for i, c in enumerate(first)]
    runner = PlaybookRunner(tmp_path, secrets_of(first, key))
    runner.watch(server.request_log, server.stderr_path)
    plan = FaultPlan(seed=SEED + 2, rate=RATE)
    with FaultProxy(server.url, plan, delay=TIMEOUT + 1) as proxy:
        variables = dict(api_url=proxy.api_url, api_key=key, api_timeout=TIMEOUT)
        book = play(SINGLE, "dbcs_connection per item through faults", save="converge")
        runs_create, messages = converge_until_done(runner, "create", book, dict(variables, connections=first), proxy)
        runs_change, more = converge_until_done(runner, "change", book, dict(variables, connections=second), proxy, diff=True)
        records = proxy.snapshot()
        _runs, again_messages, _result = nothing_to_do(runner, "again", book, dict(variables, connections=second), proxy)
        more += again_messages
    assert_clear(messages + more)
    held = flavour.held(server, key)
    assert not duplicates(held)
    assert mismatches(second, held) == []
    assert resent_creates(records) == 0
    assert_dialect_headers(flavour, records)
    scan = runner.scan()
    assert scan.hits == 0, scan.where()
    report.row("dbcs_connection, one module run per connection: 8 creates, then 3 updates and 3 deletes",
               "%.0f %% of requests faulted, seed %d; %s" % (RATE * 100, SEED + 2, fault_figures(proxy, records)),
               "creates converged in %d run(s), changes in %d (%d clear failure messages); exactly the 5 declared, "
               "duplicates 0, creates re-sent after landing 0; the re-run through faults sent 0 writes; %s"
               % (runs_create, runs_change, len(messages + more), scan.summary()))


def test_outage_longer_than_the_retries(flavour, server, databases, tmp_path, report):
    """A 10 s outage (every request 503) that starts at the 10th create: the creates caught in it fail
    with clear messages, the run says which, and the next run completes the set."""
    key = server.take_key()
    declared = declare(databases, "outage", 30)
    runner = PlaybookRunner(tmp_path, secrets_of(declared, key))
    runner.watch(server.request_log, server.stderr_path)
    plan = FaultPlan().outage(after=10, method="POST", seconds=10, kind="503")
    with FaultProxy(server.url, plan, delay=TIMEOUT + 1) as proxy:
        variables = dict(api_url=proxy.api_url, api_key=key, api_timeout=TIMEOUT, connections=declared)
        book = play(CONVERGE, "converge through an outage", save="converge")
        first = runner.run("converge-1", book, variables)
        result = first.results
        assert result and result.get("failed"), first.recap()
        held_after_first = {c["name"] for c in server_connections(server.api(key))}
        runs, messages = converge_until_done(runner, "converge", book, variables, proxy)
        records = proxy.snapshot()
    failed_names = sorted(f["name"] for f in result["failures"])
    # Nothing half-applied silently: what the failed run reports created is exactly what it added.
    assert sorted(result["created"]) == sorted(held_after_first)
    assert sorted(set(failed_names) | held_after_first) == sorted(c["name"] for c in declared)
    assert all(name in f["msg"] for f in result["failures"] for name in [f["name"]]), result["failures"]
    assert_clear([result["msg"]] + messages)
    held = flavour.held(server, key)
    assert not duplicates(held)
    assert mismatches(declared, held) == []
    assert resent_creates(records) == 0
    assert_dialect_headers(flavour, records)
    scan = runner.scan()
    assert scan.hits == 0, scan.where()
    report.row("dbcs_connections: 30 creates, an outage from the 10th create on",
               "every request answered 503 for 10 s (longer than the 7.5 s of backoff of 4 retries); %s"
               % fault_figures(proxy, records),
               "run 1 failed: %d created (exactly the ones it reports in `created`), %d in `failures`, each message "
               "naming its connection (e.g. %r); then %d more run(s) to converge; exactly the 30 declared, duplicates 0, "
               "creates re-sent after landing 0; %s"
               % (len(result["created"]), len(failed_names), result["failures"][0]["msg"], runs, scan.summary()))
