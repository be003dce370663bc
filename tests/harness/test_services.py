"""The services harness (tools/services.py) and the test runner's parallel ansible-test runs.

Real processes throughout: PostgreSQL, MariaDB, moto_server and dbcs-server started and stopped by the harness,
its command line as the scripts and molecule call it, tools/demo.sh, and tools/ansible-test.sh.
"""

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import psycopg
import pymysql
import pytest
import requests

from server_helpers import REPO_ROOT  # puts tools/ on sys.path

import services  # noqa: E402  pylint: disable=wrong-import-order

SERVICES = [sys.executable, str(REPO_ROOT / "tools" / "services.py")]
LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


def cli(*args, env=None, check=True):
    result = subprocess.run([*SERVICES, *map(str, args)], capture_output=True, text=True, env=env, timeout=300, check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def listening_addresses(port):
    """The local addresses of the sockets listening on this port (as /proc/net/tcp{,6} write them)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text(encoding="ascii").splitlines()[1:]:
            fields = row.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def session_members(session_id):
    """Pids of the live processes in this session (every service is started as a session leader)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text(errors="replace").rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session_id and fields[0] != "Z":
                members.append(int(entry.name))
    return members


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """start-db, start-s3 and start-server through the command line with a private TMPDIR (below pytest's 0700
    base directory, which the postgres and mysql users cannot enter), the state directory in it."""
    private = tmp_path_factory.mktemp("private")
    directory = private / "services"
    env = dict(os.environ, TMPDIR=str(private))
    cli("start-db", directory, env=env)
    cli("start-s3", directory, env=env)
    cli("start-server", directory, "main", "--api-version", "1", "--strict-configs", env=env)
    yield directory
    cli("stop", directory)


def test_one_json_file_records_every_service(started):
    state_file = started / "services.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600  # it holds passwords and keys
    state = json.loads(state_file.read_text())
    assert {name: record["kind"] for name, record in state["services"].items()} == {
        "postgresql": "postgresql", "mariadb": "mariadb", "s3": "s3", "main": "dbcs-server"}
    for record in state["services"].values():
        assert services.process_start_time(record["pid"]) == record["started"]
        assert listening_addresses(record["port"]) == {LOOPBACK_HEX}, record
        assert Path(record["log"]).parent.parent == started  # every log in DIR
    assert state["services"]["main"]["args"] == ["--api-version", "1", "--strict-configs"]
    assert state["services"]["main"]["url"] == "http://127.0.0.1:%d/api/v1" % state["services"]["main"]["port"]
    assert state["services"]["s3"]["endpoint"] == "http://127.0.0.1:%d" % state["services"]["s3"]["port"]


def test_a_private_directory_puts_the_database_files_where_their_users_can_go(started):
    state = json.loads((started / "services.json").read_text())
    data_root = Path(state["data_root"])
    assert data_root.parent == Path("/tmp")
    for kind in ("postgresql", "mariadb"):
        assert Path(state["services"][kind]["data_dir"]).is_relative_to(data_root)


def test_the_recorded_credentials_and_key_work(started):
    env = dict(line.removeprefix("export ").split("=", 1) for line in cli("env", started, "main").stdout.splitlines())
    env = {name: value.strip("'") for name, value in env.items()}
    with psycopg.connect(host=env["DBCS_PG_HOST"], port=int(env["DBCS_PG_PORT"]), user=env["DBCS_PG_USER"],
                         password=env["DBCS_PG_PASSWORD"], dbname=env["DBCS_PG_DATABASE"], connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    conn = pymysql.connect(host=env["DBCS_MY_HOST"], port=int(env["DBCS_MY_PORT"]), user=env["DBCS_MY_USER"],
                           password=env["DBCS_MY_PASSWORD"], connect_timeout=5)
    conn.close()
    answer = requests.get(env["DBCS_API_URL"] + "/user", headers={"X-API-Key": env["DBCS_API_KEY"]}, timeout=10)
    assert answer.status_code == 200
    assert Path(env["DBCS_REQUEST_LOG"]).exists() and Path(env["DBCS_SERVER_LOG"]).exists()
    s3 = boto3.session.Session().client("s3", endpoint_url=env["DBCS_S3_ENDPOINT"], region_name=env["DBCS_S3_REGION"],
                                        aws_access_key_id=env["DBCS_S3_ACCESS_KEY"],
                                        aws_secret_access_key=env["DBCS_S3_SECRET_KEY"])
    assert s3.list_objects_v2(Bucket=env["DBCS_S3_BUCKET"])["KeyCount"] == 0
    wrong = boto3.session.Session().client("s3", endpoint_url=env["DBCS_S3_ENDPOINT"], region_name=env["DBCS_S3_REGION"],
                                           aws_access_key_id=env["DBCS_S3_ACCESS_KEY"], aws_secret_access_key="wrong")
    with pytest.raises(Exception, match="SignatureDoesNotMatch"):  # moto checks signatures
        wrong.list_objects_v2(Bucket=env["DBCS_S3_BUCKET"])


def test_vars_for_ansible_runs(started, tmp_path):
    cli("vars", started, "main", "--output", tmp_path / "vars.yml")
    assert stat.S_IMODE((tmp_path / "vars.yml").stat().st_mode) == 0o600
    variables = json.loads((tmp_path / "vars.yml").read_text())
    assert variables["dbcs_server_hides_passwords"] is False
    assert set(variables["dbcs_pg"]) == {"host", "port", "user", "password", "database"}
    assert variables["dbcs_api_url"].startswith("http://127.0.0.1:")
    assert set(variables["dbcs_s3"]) == {"endpoint", "region", "bucket", "access_key", "secret_key"}


def test_start_db_again_keeps_what_runs(started):
    before = json.loads((started / "services.json").read_text())["services"]
    cli("start-db", started)
    cli("start-s3", started)
    after = json.loads((started / "services.json").read_text())["services"]
    assert after == before


def test_stop_by_pid_leaves_no_process(tmp_path_factory):
    directory = tmp_path_factory.mktemp("stop")
    cli("start-db", directory)
    cli("start-s3", directory)
    cli("start-server", directory, "one")
    records = json.loads((directory / "services.json").read_text())["services"]
    data_root = json.loads((directory / "services.json").read_text())["data_root"]
    assert all(session_members(r["pid"]) for r in records.values())
    cli("stop", directory)
    for name, record in records.items():
        assert services.process_start_time(record["pid"]) is None, name
        assert session_members(record["pid"]) == [], name  # PostgreSQL's children too
    assert json.loads((directory / "services.json").read_text()) == {"services": {}}
    assert not Path(data_root).exists()


def test_a_taken_preferred_port_falls_back_to_one_the_server_binds(tmp_path):
    harness = services.Services(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        record = harness.start_server("demo", port=port)
    try:
        assert record["port"] != port
        assert "Address already in use" in Path(record["log"]).read_text()
        assert requests.get(record["url"] + "/health", timeout=10).status_code == 200
    finally:
        harness.stop()


def test_a_database_whose_port_is_taken_is_started_on_another(tmp_path, monkeypatch):
    """PostgreSQL and MariaDB cannot report a port-0 bind: the harness picks a port, and when the database
    says its address is in use, starts it again on another. The first pick is forced onto a taken port."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        picks = {}

        def pick_taken_first():
            # The first pick of each database's thread is the taken port.
            thread = threading.get_ident()
            picks[thread] = picks.get(thread, 0) + 1
            return port if picks[thread] == 1 else real_pick()

        real_pick = services.pick_port
        monkeypatch.setattr(services, "pick_port", pick_taken_first)
        harness = services.Services(tmp_path)
        try:
            records = harness.start_databases()
            for kind, record in records.items():
                assert record["port"] != port, kind
                assert "Address already in use" in Path(record["log"]).read_text(), kind
        finally:
            harness.stop()


def test_a_database_that_fails_shows_its_own_error_and_what_to_do(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(services.StartError) as failed:
        services.Services(tmp_path / "state").start_postgresql(root=closed)
    message = str(failed.value)
    assert "PostgreSQL did not start: initdb exited" in message
    assert "Permission denied" in message  # initdb's own words, from its log
    assert "What to do: the postgres user cannot enter" in message


def test_a_server_that_fails_shows_its_own_error(tmp_path):
    result = cli("start-server", tmp_path, "bad", "--tls-cert", tmp_path / "missing.pem", check=False)
    assert result.returncode == 1
    assert "dbcs-server 'bad' did not start" in result.stderr
    assert "dbcs-server: --tls-cert and --tls-key go together" in result.stderr  # the server's own message
    assert "What to do:" in result.stderr
    assert services.Services(tmp_path).state()["services"] == {}


@pytest.mark.skipif(os.geteuid() != 0, reason="the demo runs as root")
def test_the_demo_shows_why_a_database_did_not_start(tmp_path):
    """Issue 14, item 12: the database's own error used to go to a log the demo's cleanup deleted, and
    `make demo` said only `Error 1`. A private TMPDIR now works (above); here the data is forced into it."""
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    env = dict(os.environ, TMPDIR=str(closed), DBCS_SERVICES_DATA_ROOT=str(closed))
    result = subprocess.run([str(REPO_ROOT / "tools" / "demo.sh")], capture_output=True, text=True, env=env,
                            timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "PostgreSQL did not start" in output, output
    assert "Permission denied" in output, output
    assert "What to do:" in output, output
    assert "Stopping what the demo started" in output
    assert list(closed.iterdir()) == []  # the demo removed its state and the database files


def test_parallel_ansible_test_integration_runs_on_a_fresh_home(tmp_path):
    """Issue 14, item 13: with no ~/.ansible/test/id_rsa yet, ansible-test runs started at once raced to
    make it, and all but one stopped at ssh-keygen's "Overwrite (y/n)?". Three runs (as many as the
    integration flavours will be) share a fresh HOME. Without integration variables each stops at the
    setup target's first task, which is after the SSH key: reaching it is the point."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), DBCS_INTEGRATION_CONFIG=str(tmp_path / "none.yml"))
    runs = [subprocess.Popen([str(REPO_ROOT / "tools" / "ansible-test.sh"), "integration", "--color", "no",  # pylint: disable=consider-using-with
                              "dbcs_connection_info"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _i in range(3)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    for output in outputs:
        assert "ssh-keygen" not in output and "Overwrite" not in output, output
        assert "Running dbcs_connection_info integration test role" in output, output
    key = home / ".ansible" / "test" / "id_rsa"
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True).stdout
    assert derived.split()[:2] == key.with_suffix(".pub").read_text().split()[:2]  # one pair, whole
