# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stream configurations benchmark: the streams role against a loop of dbcs_stream_config (2.x).

    python tests/bench/bench_streams.py [--sizes 100] [--doc FILE | --no-doc] [--keep]

`make bench` runs it (tools/test.sh bench: throwaway databases, their DBCS_PG_* / DBCS_MY_* in the
environment). For each size N: a MariaDB source database with one table, a local 2.x dbcs-server on
a fresh data directory with a MySQL and a PostgreSQL connection, and N declared stream
configurations (MySQL table -> PostgreSQL), each run through ansible-playbook:

  R  the role dbconvert.streams.streams (one dbcs_stream_configs task), from empty
  N  the same playbook again on R's server: nothing to change (the no-op)
  L  one dbcs_stream_config task with a loop, from empty, on a fresh server

It prints wall seconds, the requests and writes the server logged, the peak RSS of ansible-playbook and
L/R. The issue's targets: the no-op sends no write and at most 4 requests whatever N, in under 3 s;
R is at least 10 times faster than L. Timings are printed (and written into docs/performance.md
between the stream-bench markers), never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

import pymysql

from bench import ROOT, Server, machine, play, put_block  # pylint: disable=import-error

DEFAULT_SIZES = (100,)
DOC_BEGIN = "<!-- stream-bench:begin (tests/bench/bench_streams.py writes from here to stream-bench:end) -->"
DOC_END = "<!-- stream-bench:end -->"
SOURCE_DATABASE = "bench_streams_src"
SCENARIOS = {
    "R": "the streams role (one dbcs_stream_configs task), from empty",
    "N": "the streams role again, unchanged (no-op)",
    "L": "loop of dbcs_stream_config, from empty",
}
TARGET_RATIO = 10
TARGET_NOOP_REQUESTS = 4
TARGET_NOOP_SECONDS = 3

HEAD = """---
- name: {title}
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The connections the configurations use
      dbconvert.streams.dbcs_connections:
        api_url: "{{{{ api_url }}}}"
        api_key: "{{{{ api_key }}}}"
        connections: "{{{{ connections }}}}"
      when: with_connections | bool
"""
PLAYBOOKS = {
    "R": HEAD.format(title="R - the streams role") + """
    - name: Converge the stream configurations
      ansible.builtin.include_role:
        name: dbconvert.streams.streams
      vars:
        dbcs_api_url: "{{ api_url }}"
        dbcs_api_key: "{{ api_key }}"
""",
    "L": HEAD.format(title="L - one dbcs_stream_config task per configuration") + """
    - name: Converge one configuration per loop item
      dbconvert.streams.dbcs_stream_config:
        api_url: "{{ api_url }}"
        api_key: "{{ api_key }}"
        name: "{{ item.name }}"
        source: "{{ item.source }}"
        target: "{{ item.target }}"
      loop: "{{ dbcs_streams }}"
      loop_control:
        label: "{{ item.name }}"
""",
}
PLAYBOOKS["N"] = PLAYBOOKS["R"]


def databases():
    env = os.environ
    my = dict(host=env.get("DBCS_MY_HOST", "127.0.0.1"), port=int(env.get("DBCS_MY_PORT", "3306")),
              username=env.get("DBCS_MY_USER", "dbcs"), password=env.get("DBCS_MY_PASSWORD", ""))
    pg = dict(host=env.get("DBCS_PG_HOST", "127.0.0.1"), port=int(env.get("DBCS_PG_PORT", "5432")),
              username=env.get("DBCS_PG_USER", "postgres"), password=env.get("DBCS_PG_PASSWORD", ""),
              database=env.get("DBCS_PG_DATABASE", "postgres"))
    return my, pg


def make_source(my):
    """The source database: one small table with a primary key (the configurations are only declared, never run)."""
    connection = pymysql.connect(host=my["host"], port=my["port"], user=my["username"], password=my["password"],
                                 autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS `%s`" % SOURCE_DATABASE)
            cursor.execute("CREATE DATABASE `%s`" % SOURCE_DATABASE)
            cursor.execute("CREATE TABLE `%s`.items (id INT PRIMARY KEY, name VARCHAR(40))" % SOURCE_DATABASE)
            cursor.execute("INSERT INTO `%s`.items VALUES (1, 'one'), (2, 'two')" % SOURCE_DATABASE)
    finally:
        connection.close()


def declared(size, my, pg):
    connections = [dict(my, name="bench-src", type="mysql"), dict(pg, name="bench-dst", type="postgresql")]
    streams = [dict(name="bench-stream-%04d" % i,
                    source=dict(connection="bench-src", database=SOURCE_DATABASE, tables=["items"]),
                    target=dict(connection="bench-dst", database=pg["database"]))
               for i in range(size)]
    return connections, streams


def run_playbook(workdir, name, scenario, server, connections, streams, with_connections):
    """Run one scenario's playbook; return wall seconds, exit code, peak RSS (KiB) and the log's path."""
    return play(workdir, name, PLAYBOOKS[scenario], dict(api_url=server.url, api_key=server.key, connections=connections,
                                                         dbcs_streams=streams, with_connections=with_connections))


def measure(workdir, scenario, size, server, connections, streams):
    """Run a scenario (the connections are created first, outside the measure) and check what it did from the
    request log: every configuration created once, or (N) no write at all."""
    if scenario != "N":
        _wall, rc, _rss, log = run_playbook(workdir, "%s-%d-connections" % (scenario, size), scenario, server,
                                            connections, [], True)
        if rc != 0:
            return dict(size=size, scenario=scenario, wall=None, note="FAILED: the connections were not created; see %s" % log)
    before = len(server.requests())
    wall, rc, rss, log = run_playbook(workdir, "%s-%d" % (scenario, size), scenario, server, connections, streams, False)
    logged = server.requests()[before:]
    writes = [r for r in logged if r["method"] in ("POST", "PUT", "DELETE")]
    created = [r for r in writes if r["method"] == "POST" and r["path"].endswith("/stream-configs") and r["status"] in (200, 201)]
    row = dict(size=size, scenario=scenario, wall=wall, requests=len(logged), writes=len(writes), rss=rss, note="")
    good = not writes if scenario == "N" else (len(created) == size == len(writes))
    if rc != 0 or not good:
        row["note"] = "FAILED: exit %d, %d writes (%d creates) logged; see %s" % (rc, len(writes), len(created), log)
    return row


def find(rows, size, scenario):
    return next((r for r in rows if (r["size"], r["scenario"]) == (size, scenario) and r.get("wall") is not None), None)


def table(rows, sizes):
    lines = ["| N | run | wall s | requests | writes | peak RSS MiB | note |", "|---:|---|---:|---:|---:|---:|---|"]
    for row in rows:
        if row.get("wall") is None:
            lines.append("| %d | %s %s | - | - | - | - | %s |" % (
                row["size"], row["scenario"], SCENARIOS[row["scenario"]], row["note"]))
            continue
        lines.append("| %d | %s %s | %.2f | %d | %d | %s | %s |" % (
            row["size"], row["scenario"], SCENARIOS[row["scenario"]], row["wall"], row["requests"], row["writes"],
            "%.0f" % (row["rss"] / 1024.0) if row.get("rss") else "?", row["note"]))
    lines.append("")
    lines.append("| target | measured | |")
    lines.append("|---|---|---|")
    for size in sizes:
        role, noop, loop = find(rows, size, "R"), find(rows, size, "N"), find(rows, size, "L")
        checks = [
            ("N = %d: the loop (L) at least %d times slower than the role (R)" % (size, TARGET_RATIO),
             "L/R = %.1f" % (loop["wall"] / role["wall"]) if role and loop else None,
             role and loop and loop["wall"] / role["wall"] >= TARGET_RATIO),
            ("N = %d: the no-op sends no write and at most %d requests" % (size, TARGET_NOOP_REQUESTS),
             "%d writes, %d requests" % (noop["writes"], noop["requests"]) if noop else None,
             noop and not noop["writes"] and noop["requests"] <= TARGET_NOOP_REQUESTS),
            ("N = %d: the no-op under %d s" % (size, TARGET_NOOP_SECONDS), "%.2f s" % noop["wall"] if noop else None,
             noop and noop["wall"] < TARGET_NOOP_SECONDS),
        ]
        for text, measured, good in checks:
            lines.append("| %s | %s | %s |" % (text, measured or "not measured", "met" if good else "**missed**"))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="comma-separated numbers of configurations (default: %(default)s)")
    parser.add_argument("--doc", default=None, help="write the table into this file (default: docs/performance.md)")
    parser.add_argument("--no-doc", action="store_true", help="do not write any file")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (playbooks, logs, request logs)")
    args = parser.parse_args(argv)
    try:
        sizes = sorted(set(int(s) for s in args.sizes.split(",") if s.strip()))
    except ValueError:
        parser.error("--sizes must be comma-separated whole numbers, got %r" % args.sizes)
    if not sizes or min(sizes) < 1:
        parser.error("--sizes must name at least one size of 1 or more")
    load_at_start = os.getloadavg()
    my, pg = databases()
    make_source(my)
    workdir = tempfile.mkdtemp(prefix="dbcs-bench-streams-")
    rows = []
    try:
        for size in sizes:
            connections, streams = declared(size, my, pg)
            for scenarios in (("R", "N"), ("L",)):
                server = Server(workdir, "%s-%d" % (scenarios[0], size), "2.x")
                try:
                    for scenario in scenarios:
                        rows.append(measure(workdir, scenario, size, server, connections, streams))
                        row = rows[-1]
                        print("N=%-4d %s  %s" % (size, scenario, "%7.2f s  %4d requests  %4d writes  %s" % (
                            row["wall"], row["requests"], row["writes"], row["note"]) if row.get("wall") is not None
                            else row["note"]), flush=True)
                finally:
                    server.stop()
    finally:
        if args.keep:
            print("kept %s" % workdir)
        else:
            subprocess.call(["rm", "-rf", workdir])
    result = table(rows, sizes)
    print()
    print(result)
    if not args.no_doc:
        doc = args.doc or os.path.join(ROOT, "docs", "performance.md")
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        head = ("Measured %s by `make bench` (`python tests/bench/bench_streams.py --sizes %s`) on this machine, against a "
                "local 2.x server:" % (stamp, ",".join(str(s) for s in sizes)))
        block = "\n".join([DOC_BEGIN, head, ""] + machine(load_at_start) + ["", result, DOC_END])
        put_block(doc, DOC_BEGIN, DOC_END, block)
    return 1 if any(r["note"].startswith("FAILED") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
