# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bulk converge benchmark: dbcs_connections against the loops a user would otherwise write, in both API dialects.

    python tests/bench/bench.py [--sizes 100,1000] [--runs A,B,C,D] [--dialects v1,2.x] [--max-seconds 180]
                                [--doc FILE | --no-doc] [--keep]

`make bench` runs it (tools/test.sh bench: throwaway databases, their DBCS_PG_* / DBCS_MY_* in the
environment, the venv first on PATH). For each size N it declares N connections (half PostgreSQL,
half MariaDB, pointing at those databases; nothing is tested, so no database is contacted) and runs,
each through ansible-playbook against a local dbcs-server started on a fresh data directory, once
against a v1 server (--api-version 1 --strict-configs, as the vendor's v1 answers) and once against
a 2.x one (--api-version 2), one right after the other:

  A  dbcs_connections, from empty
  D  the same playbook again on A's server: nothing to change
  B  one dbcs_connection task with a loop, from empty
  C  the baseline with ansible.builtin.uri, in the dialect's own terms: v1 GET /user/configs, 2.x GET
     /system/defaults (the install id, then sent as X-Install-ID); GET /connections; one POST per item

It prints wall seconds, the requests the server logged (--request-log), the server's own time (sum
of the logged duration_ms), the peak RSS of ansible-playbook (its largest process), and C/A and B/A,
the two dialects side by side. B and C are skipped at a size where the figures of a smaller size
predict more than --max-seconds. The table is also written into docs/performance.md (between the
bench markers) with the machine; a smoke run: `python tests/bench/bench.py --sizes 20 --no-doc`.
Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import services  # noqa: E402  pylint: disable=wrong-import-position
DEFAULT_SIZES = (100, 1000)
# The dialects, each with the options of its server: v1 as the vendor's v1 server answers, 2.x as every server
# installed since December 2025 does.
DIALECTS = {
    "v1": ["--api-version", "1", "--strict-configs"],
    "2.x": ["--api-version", "2"],
}
DOC_BEGIN = "<!-- bench:begin (tests/bench/bench.py writes from here to bench:end) -->"
DOC_END = "<!-- bench:end -->"
SCENARIOS = {
    "A": "dbcs_connections, from empty",
    "D": "dbcs_connections again, unchanged (no-op)",
    "B": "loop of dbcs_connection, from empty",
    "C": "loop of ansible.builtin.uri (session, list, POST each), from empty",
}
# The targets, checked against the figures (never asserted: the bench reports).
TARGET_RATIO = 20
TARGET_NOOP_REQUESTS = 3
TARGET_A_1000_SECONDS = 15
TARGET_NOOP_SECONDS = 3
# The estimate of a loop's cost per item, used to decide on skipping before anything is measured.
SECONDS_PER_LOOP_ITEM = 0.4

PLAY_HEAD = """---
- name: {title}
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/dbconvert.streams.dbcs:
      api_url: "{{{{ api_url }}}}"
      api_key: "{{{{ api_key }}}}"
  tasks:
"""

PLAYBOOKS = {
    "A": PLAY_HEAD.format(title="A - converge the declared set in one task") + """
    - name: Converge every connection
      dbconvert.streams.dbcs_connections:
        connections: "{{ connections }}"
""",
    "B": PLAY_HEAD.format(title="B - one dbcs_connection task per connection") + """
    - name: Converge one connection per loop item
      dbconvert.streams.dbcs_connection:
        name: "{{ item.name }}"
        type: "{{ item.type }}"
        host: "{{ item.host }}"
        port: "{{ item.port }}"
        username: "{{ item.username }}"
        password: "{{ item.password }}"
        database: "{{ item.database }}"
      loop: "{{ connections }}"
      loop_control:
        label: "{{ item.name }}"
""",
}
PLAYBOOKS["D"] = PLAYBOOKS["A"]
# C in each dialect's terms: how the session starts, the headers of every call, where the list keeps its items.
URI_TASKS = """
    - name: {start_title}
      ansible.builtin.uri:
        url: "{{{{ api_url }}}}{start_path}"{start_headers}
      register: started

    - name: List the connections
      ansible.builtin.uri:
        url: "{{{{ api_url }}}}/connections"
        headers: {headers}
      register: listed

    - name: Create each connection the server does not have
      ansible.builtin.uri:
        url: "{{{{ api_url }}}}/connections"
        method: POST
        headers: {headers}
        body: "{{{{ item }}}}"
        body_format: json
        status_code: [200, 201]
      loop: "{{{{ connections | rejectattr('name', 'in', {listed} | map(attribute='name') | list) | list }}}}"
      loop_control:
        label: "{{{{ item.name }}}}"
"""
C_PLAYBOOKS = {
    "v1": PLAY_HEAD.format(title="C - the ansible.builtin.uri baseline (v1)") + URI_TASKS.format(
        start_title="Start an API session", start_path="/user/configs",
        start_headers='\n        headers:\n          X-API-Key: "{{ api_key }}"',
        headers='{"X-API-Key": "{{ api_key }}"}', listed="listed.json"),
    "2.x": PLAY_HEAD.format(title="C - the ansible.builtin.uri baseline (2.x)") + URI_TASKS.format(
        start_title="Read the install id", start_path="/system/defaults", start_headers="",
        headers='{"X-API-Key": "{{ api_key }}", "X-Install-ID": "{{ started.json.installId }}"}',
        listed="listed.json['items']"),
}

# Without GNU time: run ansible-playbook under a small Python parent and report its children's peak RSS.
RUSAGE_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write('Maximum resident set size (kbytes): %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(rc)\n"
)


class Server(object):
    """A dbcs-server of one dialect on a fresh data directory, logging every request, started and stopped (by pid)
    by the services harness (tools/services.py)."""

    def __init__(self, workdir, name, dialect):
        self.services = services.Services(os.path.join(workdir, name))
        record = self.services.start_server(name, DIALECTS[dialect])
        self.url = record["url"]
        self.key = record["api_keys"][0]
        self.request_log = record["request_log"]

    def requests(self):
        if not os.path.exists(self.request_log):
            return []
        with open(self.request_log, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def stop(self):
        self.services.stop()


def declared_connections(count):
    """N connections, even ones PostgreSQL and odd ones MariaDB, from the throwaway databases' env."""
    env = os.environ
    pg = dict(host=env.get("DBCS_PG_HOST", "127.0.0.1"), port=int(env.get("DBCS_PG_PORT", "5432")),
              username=env.get("DBCS_PG_USER", "postgres"), password=env.get("DBCS_PG_PASSWORD", "bench-pg-password"),
              database=env.get("DBCS_PG_DATABASE", "postgres"))
    my = dict(host=env.get("DBCS_MY_HOST", "127.0.0.1"), port=int(env.get("DBCS_MY_PORT", "3306")),
              username=env.get("DBCS_MY_USER", "dbcs"), password=env.get("DBCS_MY_PASSWORD", "bench-my-password"),
              database="")
    return [dict(pg if i % 2 == 0 else my, name="bench-%04d" % i, type="postgresql" if i % 2 == 0 else "mysql")
            for i in range(count)]


def api_form(conn, dialect):
    """A declared connection as the dialect's API takes it (what C posts): flat in v1, under spec.database in 2.x."""
    if dialect == "v1":
        return conn
    return dict(name=conn["name"], type=conn["type"], spec=dict(database=dict(
        (key, conn[key]) for key in ("host", "port", "username", "password", "database"))))


def run_playbook(workdir, scenario, size, server, connections, dialect):
    """Run one scenario's playbook; return wall seconds, exit code and peak RSS (KiB) of ansible-playbook."""
    if scenario == "C":
        connections = [api_form(conn, dialect) for conn in connections]
    return play(workdir, "%s-%d-%s" % (scenario, size, dialect), C_PLAYBOOKS[dialect] if scenario == "C" else PLAYBOOKS[scenario],
                dict(api_url=server.url, api_key=server.key, connections=connections))


def play(workdir, name, playbook, variables):
    """Write `playbook` and its `variables` (0600: they hold passwords) as NAME.yml and NAME.vars.json in workdir,
    run it with ansible-playbook on localhost; return wall seconds, exit code, peak RSS (KiB) and the log's path."""
    base = os.path.join(workdir, name)
    rss_file = base + ".rss"
    with open(base + ".yml", "w", encoding="utf-8") as handle:
        handle.write(playbook)
    with open(base + ".vars.json", "w", encoding="utf-8") as handle:
        json.dump(variables, handle)
    os.chmod(base + ".vars.json", 0o600)
    command = ["ansible-playbook", "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "@%s.vars.json" % base, base + ".yml"]
    if os.access("/usr/bin/time", os.X_OK):
        command = ["/usr/bin/time", "-v", "-o", rss_file] + command
    else:
        command = [sys.executable, "-c", RUSAGE_WRAPPER, rss_file] + command
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".venv", "collections"))
    with open(base + ".log", "wb") as out:
        started = time.monotonic()
        rc = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir)
        wall = time.monotonic() - started
    rss = None
    if os.path.exists(rss_file):
        with open(rss_file, encoding="utf-8") as handle:
            match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", handle.read())
            rss = int(match.group(1)) if match else None
    return wall, rc, rss, base + ".log"


def measure(workdir, scenario, size, server, connections, dialect):
    """Run a scenario and check, from the request log, that it did what it should."""
    before = len(server.requests())
    wall, rc, rss, log = run_playbook(workdir, scenario, size, server, connections, dialect)
    logged = server.requests()[before:]
    writes = [r for r in logged if r["method"] in ("POST", "PUT", "DELETE")]
    created = [r for r in writes if r["method"] == "POST" and r["path"].endswith("/connections") and r["status"] in (200, 201)]
    row = dict(size=size, scenario=scenario, dialect=dialect, wall=wall, requests=len(logged), writes=len(writes), rss=rss,
               rc=rc, server_ms=sum(r.get("duration_ms", 0) for r in logged), note="")
    expected_ok = len(writes) == 0 if scenario == "D" else (len(created) == size and len(writes) == size)
    if rc != 0 or not expected_ok:
        row["note"] = "FAILED: exit %d, %d writes (%d creates) logged; see %s" % (rc, len(writes), len(created), log)
    return row


def estimate(rows, scenario, size, dialect):
    """Seconds a scenario would take at `size`, and what the guess rests on: scaled linearly from the
    largest smaller size measured in the dialect, else the issue's figure of about 0.4 s of Ansible overhead per item."""
    smaller = [r for r in rows if r["scenario"] == scenario and r["dialect"] == dialect and r["size"] < size
               and r.get("wall") is not None]
    if not smaller:
        return SECONDS_PER_LOOP_ITEM * size, "%.1f s per item" % SECONDS_PER_LOOP_ITEM
    ref = max(smaller, key=lambda r: r["size"])
    return ref["wall"] * size / ref["size"], "N=%d" % ref["size"]


def run(sizes, scenarios, dialects, max_seconds, workdir):
    """Every scenario at every size, the dialects one right after the other (so that both meet the same load)."""
    rows = []
    for size in sizes:
        connections = declared_connections(size)
        for scenario in [s for s in ("A", "B", "C") if s in scenarios or (s == "A" and "D" in scenarios)]:
            for dialect in dialects:
                guess, basis = estimate(rows, scenario, size, dialect)
                if scenario in ("B", "C") and guess > max_seconds:
                    rows.append(dict(size=size, scenario=scenario, dialect=dialect, wall=None,
                                     note="skipped: about %.0f s estimated from %s (limit %d s)" % (guess, basis, max_seconds)))
                    report(rows[-1])
                    continue
                server = Server(workdir, "%s-%d-%s" % (scenario, size, dialect), dialect)
                try:
                    rows.append(measure(workdir, scenario, size, server, connections, dialect))
                    report(rows[-1])
                    if scenario == "A" and "D" in scenarios:
                        rows.append(measure(workdir, "D", size, server, connections, dialect))
                        report(rows[-1])
                finally:
                    server.stop()
    return rows


def report(row):
    head = "N=%-5d %s %-3s" % (row["size"], row["scenario"], row["dialect"])
    if row.get("wall") is None:
        print("%s  %s" % (head, row["note"]), flush=True)
    else:
        print("%s  %7.2f s  %5d requests  %s" % (head, row["wall"], row["requests"], row["note"]), flush=True)


def find(rows, size, scenario, dialect):
    """The measured row of a scenario, or None (not run, or skipped)."""
    for row in rows:
        if (row["size"], row["scenario"], row["dialect"]) == (size, scenario, dialect) and row.get("wall") is not None:
            return row
    return None


def ratio(rows, size, top, bottom, dialect):
    high, low = find(rows, size, top, dialect), find(rows, size, bottom, dialect)
    return high["wall"] / low["wall"] if high and low else None


def side_by_side(rows, size, scenario, dialects, cell):
    """One figure of a scenario in each dialect, 'v1 / 2.x'; '-' where it was not measured."""
    return " / ".join(cell(row) if row else "-" for row in (find(rows, size, scenario, d) for d in dialects))


def table(rows, sizes, dialects):
    both = " / ".join(dialects)
    lines = ["| N | run | wall s (%s) | requests (%s) | server ms (%s) | peak RSS MiB (%s) | note |" % ((both,) * 4),
             "|---:|---|---:|---:|---:|---:|---|"]
    for size in sizes:
        for scenario in SCENARIOS:
            measured = [r for r in rows if (r["size"], r["scenario"]) == (size, scenario)]
            if not measured:
                continue
            notes = "; ".join("%s: %s" % (r["dialect"], r["note"]) for r in measured if r["note"])
            lines.append("| %d | %s %s | %s | %s | %s | %s | %s |" % (
                size, scenario, SCENARIOS[scenario],
                side_by_side(rows, size, scenario, dialects, lambda r: "%.2f" % r["wall"]),
                side_by_side(rows, size, scenario, dialects, lambda r: "%d" % r["requests"]),
                side_by_side(rows, size, scenario, dialects, lambda r: "%.0f" % r["server_ms"]),
                side_by_side(rows, size, scenario, dialects, lambda r: "%.0f" % (r["rss"] / 1024.0) if r.get("rss") else "?"),
                notes))
    lines.append("")
    for size in sizes:
        parts = []
        for top in ("C", "B"):
            values = [ratio(rows, size, top, "A", d) for d in dialects]
            parts.append("%s/A = %s" % (top, " / ".join("%.1f" % v if v is not None else "n/a" for v in values)))
        lines.append("- N = %d (%s): %s" % (size, both, ", ".join(parts)))
    return "\n".join(lines)


def verdict(value, good):
    return "n/a (not measured)" if value is None else ("met" if good else "**missed**")


def targets(rows, dialects):
    """The issue's targets next to the measured figures, per dialect."""
    def shown(value, fmt):
        return (value, fmt % value) if value is not None else (None, "")

    def field(size, scenario, key, fmt):
        return dict((d, shown((find(rows, size, scenario, d) or {}).get(key), fmt)) for d in dialects)

    checks = [("N = 100: %s/A >= %d" % (top, TARGET_RATIO),
               dict((d, shown(ratio(rows, 100, top, "A", d), "%.1f")) for d in dialects), lambda v: v >= TARGET_RATIO)
              for top in ("C", "B")]
    checks += [("N = %d: no-op re-run at most %d requests" % (size, TARGET_NOOP_REQUESTS), field(size, "D", "requests", "%d"),
                lambda v: v <= TARGET_NOOP_REQUESTS) for size in sorted(set(r["size"] for r in rows))]
    checks += [("N = 1000: from empty (A) under %d s" % TARGET_A_1000_SECONDS, field(1000, "A", "wall", "%.2f s"),
                lambda v: v < TARGET_A_1000_SECONDS),
               ("N = 1000: no-op (D) under %d s" % TARGET_NOOP_SECONDS, field(1000, "D", "wall", "%.2f s"),
                lambda v: v < TARGET_NOOP_SECONDS)]
    lines = ["| target | %s |" % " | ".join(dialects), "|---|%s" % ("---|" * len(dialects))]
    for text, measured, good in checks:
        cells = ["%s: %s" % (measured[d][1], verdict(1, good(measured[d][0]))) if measured[d][0] is not None
                 else verdict(None, False) for d in dialects]
        lines.append("| %s | %s |" % (text, " | ".join(cells)))
    return "\n".join(lines)


def machine(load_at_start):
    """CPU model, cores, RAM, kernel, Python, ansible-core and server versions, and the load around the run."""
    cpu = "unknown CPU"
    memory = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            match = re.search(r"^model name\s*:\s*(.+)$", handle.read(), re.MULTILINE)
            cpu = match.group(1).strip() if match else cpu
        with open("/proc/meminfo", encoding="utf-8") as handle:
            match = re.search(r"^MemTotal:\s*(\d+) kB", handle.read(), re.MULTILINE)
            memory = int(match.group(1)) / 1024.0 / 1024.0 if match else None
    except OSError:
        pass
    ansible = subprocess.run(["ansible-playbook", "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"core ([0-9][^\]]*)\]", ansible)
    server = subprocess.run([sys.executable, "-m", "dbcs_server", "--version"], capture_output=True, text=True, check=False)
    return [
        "- CPU: %s, %d cores available (%d online)" % (cpu, len(os.sched_getaffinity(0)), os.cpu_count() or 0),
        "- RAM: %s" % ("%.1f GiB" % memory if memory else "unknown"),
        "- OS: %s %s" % (platform.system(), platform.release()),
        "- Python %s (%s), ansible-core %s, %s" % (platform.python_version(), shown_path(sys.executable), match.group(1) if match else "?",
                                                   (server.stdout or server.stderr).strip() or "dbcs-server"),
        "- load average (1, 5, 15 min) at the start: %s; at the end: %s (other work on the machine shares these cores)" % (
            ", ".join("%.2f" % v for v in load_at_start), ", ".join("%.2f" % v for v in os.getloadavg())),
        "- peak RSS: %s" % ("GNU time -v (largest single process of the ansible-playbook tree)" if os.access("/usr/bin/time", os.X_OK)
                            else "getrusage(RUSAGE_CHILDREN) of a wrapper around ansible-playbook"),
    ]


def shown_path(path):
    """A path as the doc shows it: relative to the repository when inside it."""
    relative = os.path.relpath(path, ROOT)
    return path if relative.startswith("..") else relative


def write_doc(path, rows, sizes, dialects, load_at_start):
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join([
        DOC_BEGIN,
        "Measured %s by `make bench` (`python tests/bench/bench.py --sizes %s`), all runs in one go on this machine, "
        "each figure as %s:" % (stamp, ",".join(str(s) for s in sizes), " / ".join(dialects)),
        "",
    ] + machine(load_at_start) + [
        "",
        "### Results",
        "",
        table(rows, sizes, dialects),
        "",
        "### The issue's targets",
        "",
        targets(rows, dialects),
        DOC_END,
    ])
    put_block(path, DOC_BEGIN, DOC_END, block)


def put_block(path, begin, end, block):
    """Write `block` (from `begin` to `end`) into the file at path: in place of the old one, else at its end."""
    text = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text or "# Performance: converging many connections\n\n"
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="comma-separated numbers of connections (default: %(default)s; e.g. 20 for a smoke run)")
    parser.add_argument("--runs", default="A,B,C,D", help="which of A, B, C, D to run (default: %(default)s; D runs A first)")
    parser.add_argument("--dialects", default=",".join(DIALECTS),
                        help="the API dialects to measure, side by side (default: %(default)s)")
    parser.add_argument("--max-seconds", type=int, default=180,
                        help="skip B and C at a size where a smaller size predicts more than this (default: %(default)s)")
    parser.add_argument("--doc", default=None,
                        help="write the table into this file (default: docs/performance.md after a run with the default "
                        "sizes, runs and dialects)")
    parser.add_argument("--no-doc", action="store_true", help="do not write any file")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (playbooks, logs, request logs)")
    args = parser.parse_args(argv)
    try:
        sizes = sorted(set(int(s) for s in args.sizes.split(",") if s.strip()))
    except ValueError:
        parser.error("--sizes must be comma-separated whole numbers, got %r" % args.sizes)
    if not sizes or min(sizes) < 1:
        parser.error("--sizes must name at least one size of 1 or more")
    scenarios = set(s.strip().upper() for s in args.runs.split(",") if s.strip())
    if not scenarios or scenarios - set(SCENARIOS):
        parser.error("--runs takes letters among A, B, C, D, got %r" % args.runs)
    wanted = set(d.strip() for d in args.dialects.split(",") if d.strip())
    if not wanted or wanted - set(DIALECTS):
        parser.error("--dialects takes %s, got %r" % (" and ".join(DIALECTS), args.dialects))
    dialects = [d for d in DIALECTS if d in wanted]
    full_run = tuple(sizes) == DEFAULT_SIZES and scenarios == set(SCENARIOS) and dialects == list(DIALECTS)
    doc = None if args.no_doc else (args.doc or (os.path.join(ROOT, "docs", "performance.md") if full_run else None))

    load_at_start = os.getloadavg()
    workdir = tempfile.mkdtemp(prefix="dbcs-bench-")
    try:
        print("bench: N = %s, API %s; playbooks, logs and request logs in %s" % (
            ", ".join(str(s) for s in sizes), " and ".join(dialects), workdir), flush=True)
        rows = run(sizes, scenarios, dialects, args.max_seconds, workdir)
        print()
        print(table(rows, sizes, dialects))
        print()
        print(targets(rows, dialects))
        if doc:
            write_doc(doc, rows, sizes, dialects, load_at_start)
            print("\nwritten into %s" % os.path.relpath(doc, ROOT))
    finally:
        if args.keep:
            print("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(r["note"].startswith("FAILED") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
