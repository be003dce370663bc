# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load benchmark: the local server's load engine against a one-script copy with the same drivers.

    python tests/bench/bench_load.py [--sizes 100000,1000000] [--bundle 10000] [--doc FILE | --no-doc]

`make bench` runs it after bench.py (tools/test.sh bench: throwaway databases, their DBCS_PG_* and
DBCS_MY_* in the environment). It fills a MariaDB table of N rows and 6 columns (int key, varchar,
numeric, timestamp, boolean, text) and copies it, for each size N:

  MySQL -> PostgreSQL   baseline: PyMySQL's unbuffered (server-side) cursor into psycopg's COPY, one
                        script, one transaction; engine: a load configuration run by a dbcs-server
  PostgreSQL -> MySQL   baseline: a psycopg named (server-side) cursor into PyMySQL's executemany
                        (multi-row INSERT), one transaction; engine: the load back, from the table the
                        engine wrote

Both write into a table created beforehand with the same types. Rates are rows divided by wall
seconds (the engine's: from the start request until GET /streams/{id}/stats says FINISHED, polled
every 50 ms); each target's row count is checked. The server's peak RSS (VmHWM of /proc/PID/status)
is read after each size: the engine's memory does not grow with the rows. One server serves all
runs, smallest size first. The table goes into docs/performance.md between the bench-load markers
after a run with the default sizes. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone

import psycopg
import pymysql
import pymysql.cursors
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import services  # noqa: E402  pylint: disable=wrong-import-position
from bench import machine, put_block  # noqa: E402  pylint: disable=wrong-import-position

DEFAULT_SIZES = (100_000, 1_000_000)
DATABASE = "dbcs_bench_load"
BACK = "dbcs_bench_back"
DOC_BEGIN = "<!-- bench-load:begin (tests/bench/bench_load.py writes from here to bench-load:end) -->"
DOC_END = "<!-- bench-load:end -->"
TARGET_SHARE = 0.5  # the target: the engine at least half the baseline's rows/s
MYSQL_TABLE = ("(id int PRIMARY KEY, name varchar(100) NOT NULL, amount decimal(12,2), seen datetime(6),"
               " flag tinyint(1), note text)")
PG_TABLE = ("(id integer PRIMARY KEY, name varchar(100) NOT NULL, amount numeric(12,2), seen timestamp(6),"
            " flag boolean, note text)")
COLUMNS = "id, name, amount, seen, flag, note"
FILL = (  # MariaDB's sequence engine makes the rows inside the server
    "INSERT INTO {table} SELECT seq, CONCAT('customer-', seq, '-', MD5(seq)), (seq % 100000) / 100 + 0.25,"
    " TIMESTAMP('2024-01-01') + INTERVAL seq SECOND + INTERVAL (seq % 1000000) MICROSECOND, seq % 2,"
    " IF(seq % 10 = 0, NULL, REPEAT(CONCAT('note ', seq, ' '), 1 + seq % 4)) FROM seq_1_to_{size}"
)


def env_databases():
    env = os.environ
    pg = dict(host=env["DBCS_PG_HOST"], port=int(env["DBCS_PG_PORT"]), user=env["DBCS_PG_USER"],
              password=env["DBCS_PG_PASSWORD"])
    my = dict(host=env["DBCS_MY_HOST"], port=int(env["DBCS_MY_PORT"]), user=env["DBCS_MY_USER"],
              password=env["DBCS_MY_PASSWORD"])
    return pg, my


def mysql(my, database=None, autocommit=True):
    return pymysql.connect(database=database, charset="utf8mb4", autocommit=autocommit, **my)


def pg(pg_params, database="postgres", autocommit=True):
    return psycopg.connect(dbname=database, autocommit=autocommit, **pg_params)


def prepare(pg_params, my, sizes):
    """Fresh databases; a MariaDB table bench_N of N rows per size."""
    with mysql(my) as conn, conn.cursor() as cur:
        for name in (DATABASE, BACK):
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
            cur.execute(f"CREATE DATABASE {name}")
        cur.execute(f"USE {DATABASE}")  # the sequence tables are those of the database in use
        for size in sizes:
            cur.execute(f"CREATE TABLE bench_{size} {MYSQL_TABLE}")
            cur.execute(FILL.format(table=f"bench_{size}", size=size))
    with pg(pg_params) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def drop(pg_params, my):
    with mysql(my) as conn, conn.cursor() as cur:
        for name in (DATABASE, BACK):
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
    with pg(pg_params) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def baseline_to_pg(pg_params, my, size):
    """PyMySQL server-side cursor -> psycopg COPY, into baseline_N; wall seconds."""
    with pg(pg_params, DATABASE) as conn:
        conn.execute(f"CREATE TABLE baseline_{size} {PG_TABLE}")
    started = time.monotonic()
    with mysql(my, DATABASE) as source, pg(pg_params, DATABASE, autocommit=False) as target:
        with source.cursor(pymysql.cursors.SSCursor) as read, target.cursor() as write:
            read.execute(f"SELECT {COLUMNS} FROM bench_{size}")
            with write.copy(f"COPY baseline_{size} ({COLUMNS}) FROM STDIN") as copy:
                for row in read:
                    copy.write_row(row)
        target.commit()
    return time.monotonic() - started


def baseline_to_mysql(pg_params, my, size):
    """psycopg server-side cursor -> PyMySQL executemany, into baseline_N of the back database; wall seconds."""
    with mysql(my, BACK) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE baseline_{size} {MYSQL_TABLE}")
    started = time.monotonic()
    with pg(pg_params, DATABASE, autocommit=False) as source, mysql(my, BACK, autocommit=False) as target:
        with source.cursor(name="baseline") as read, target.cursor() as write:
            read.itersize = 10000
            read.execute(f"SELECT {COLUMNS} FROM bench_{size}")
            while True:
                rows = read.fetchmany(10000)
                if not rows:
                    break
                write.executemany(f"INSERT INTO baseline_{size} ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)", rows)
        target.commit()
    return time.monotonic() - started


class Engine:
    """A dbcs-server (services harness), with a MariaDB and a PostgreSQL connection of its key."""

    def __init__(self, workdir, pg_params, my, bundle):
        self.services = services.Services(os.path.join(workdir, "server"))
        record = self.services.start_server("bench-load", ["--api-version", "2"])
        self.pid = record["pid"]
        self.url = record["url"]
        install = requests.get(self.url + "/system/defaults", timeout=10).json()["installId"]
        self.session = requests.Session()
        self.session.headers.update({"X-API-Key": record["api_keys"][0], "X-Install-ID": install})
        self.bundle = bundle
        self.my = self.connection("mysql", my)
        self.pg = self.connection("postgresql", pg_params)

    def call(self, method, path, **kwargs):
        response = self.session.request(method, self.url + path, timeout=60, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def connection(self, kind, params):
        spec = dict(host=params["host"], port=params["port"], username=params["user"], password=params["password"])
        return self.call("POST", "/connections", json={"name": kind, "type": kind, "spec": {"database": spec}})["id"]

    def load(self, name, source, source_database, table, target, target_database):
        """Run a load of one table; (wall seconds, the run's final stats)."""
        config = self.call("POST", "/stream-configs", json={
            "name": name, "mode": "load",
            "source": {"connections": [{"connectionId": source, "database": source_database, "tables": [{"name": table}]}],
                       "options": {"dataBundleSize": self.bundle}},
            "target": {"id": target, "spec": {"db": {"database": target_database, "schemaPolicy": "drop_and_recreate"}}},
        })
        started = time.monotonic()
        stream = self.call("POST", f"/stream-configs/{config['id']}/start")["id"]
        while True:
            stats = self.call("GET", f"/streams/{stream}/stats")
            if stats["status"] not in ("READY", "RUNNING", "PAUSED"):
                return time.monotonic() - started, stats
            time.sleep(0.05)

    def peak_rss_mib(self):
        with open(f"/proc/{self.pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def stop(self):
        self.services.stop()


def count(pg_params, my, kind, database, table):
    if kind == "postgresql":
        with pg(pg_params, database) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    with mysql(my, database) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def run(sizes, bundle, workdir):
    pg_params, my = env_databases()
    print(f"bench-load: filling MariaDB tables of {', '.join(str(s) for s in sizes)} rows", flush=True)
    prepare(pg_params, my, sizes)
    engine = Engine(workdir, pg_params, my, bundle)
    rows = []
    try:
        for size in sizes:
            table = f"bench_{size}"
            for direction in ("MySQL -> PostgreSQL", "PostgreSQL -> MySQL"):
                if direction.startswith("MySQL"):
                    base = baseline_to_pg(pg_params, my, size)
                    wall, stats = engine.load(f"to-pg-{size}", engine.my, DATABASE, table, engine.pg, DATABASE)
                    checks = [("postgresql", DATABASE, f"baseline_{size}"), ("postgresql", DATABASE, table)]
                else:
                    base = baseline_to_mysql(pg_params, my, size)
                    wall, stats = engine.load(f"to-my-{size}", engine.pg, DATABASE, table, engine.my, BACK)
                    checks = [("mysql", BACK, f"baseline_{size}"), ("mysql", BACK, table)]
                counted = [count(pg_params, my, *check) for check in checks]
                note = "" if stats["status"] == "FINISHED" and counted == [size, size] else (
                    f"FAILED: {stats['status']} {stats.get('errorMessage', '')}, rows {counted}")
                row = dict(size=size, direction=direction, baseline=size / base, engine=size / wall, base_s=base,
                           engine_s=wall, note=note)
                row["share"] = row["engine"] / row["baseline"]
                rows.append(row)
                print(f"N={size:<8} {direction}: baseline {row['baseline']:9.0f} rows/s ({base:6.1f} s), engine"
                      f" {row['engine']:9.0f} rows/s ({wall:6.1f} s), {row['share']:.0%} {note}", flush=True)
            rows[-1]["rss"] = rows[-2]["rss"] = engine.peak_rss_mib()
            print(f"N={size:<8} server peak RSS after this size: {rows[-1]['rss']:.0f} MiB", flush=True)
    finally:
        engine.stop()
        drop(pg_params, my)
    return rows


def table(rows, bundle):
    lines = [f"| N rows | direction | baseline rows/s | engine rows/s (dataBundleSize {bundle}) | engine / baseline"
             " | server peak RSS after N | note |",
             "|---:|---|---:|---:|---:|---:|---|"]
    for row in rows:
        lines.append("| {:,} | {} | {:,.0f} ({:.1f} s) | {:,.0f} ({:.1f} s) | {:.0%} | {:.0f} MiB | {} |".format(
            row["size"], row["direction"], row["baseline"], row["base_s"], row["engine"], row["engine_s"], row["share"],
            row["rss"], row["note"]))
    worst = min(row["share"] for row in rows)
    lines += ["", f"Target: the engine at least {TARGET_SHARE:.0%} of the baseline's rows/s: lowest measured"
              f" {worst:.0%}, {'met' if worst >= TARGET_SHARE else '**missed**'}."]
    return "\n".join(lines)


def write_doc(path, rows, sizes, bundle, load_at_start):
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join([
        DOC_BEGIN,
        f"Measured {stamp} by `make bench` (`python tests/bench/bench_load.py --sizes"
        f" {','.join(str(s) for s in sizes)} --bundle {bundle}`), on this machine:",
        "",
    ] + [line for line in machine(load_at_start) if not line.startswith("- peak RSS")] + [
        "- peak RSS: VmHWM of the dbcs-server process (/proc/PID/status), one server for every run, smallest size first",
        "",
        table(rows, bundle),
        DOC_END,
    ])
    put_block(path, DOC_BEGIN, DOC_END, block)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="comma-separated row counts (default: %(default)s; e.g. 20000 for a smoke run)")
    parser.add_argument("--bundle", type=int, default=10000, help="the engine's dataBundleSize (default: %(default)s)")
    parser.add_argument("--doc", default=None, help="write the table into this file (default: docs/performance.md"
                        " after a run with the default sizes)")
    parser.add_argument("--no-doc", action="store_true", help="do not write any file")
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--sizes must be comma-separated whole numbers, got {args.sizes!r}")
    if not sizes or min(sizes) < 1:
        parser.error("--sizes must name at least one size of 1 or more")
    default_run = tuple(sizes) == DEFAULT_SIZES
    doc = None if args.no_doc else (args.doc or (os.path.join(ROOT, "docs", "performance.md") if default_run else None))
    load_at_start = os.getloadavg()
    workdir = tempfile.mkdtemp(prefix="dbcs-bench-load-")
    try:
        rows = run(sizes, args.bundle, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(rows, args.bundle))
    if doc:
        write_doc(doc, rows, sizes, args.bundle, load_at_start)
        print(f"\nwritten into {os.path.relpath(doc, ROOT)}")
    return 1 if any(row["note"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
