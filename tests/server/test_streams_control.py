"""Runs while they run: pause, resume and stop (plain and forced), one active run per configuration,
failures (a target that refuses a row, a connection that drops), a server killed during a run,
a server stopped during a run, the run list and history, and the log stream's events."""

import json
import threading
import time

import pytest
import requests

from server_helpers import ServerProcess, nested
from streams_helpers import (
    ACTIVE, CONFIRM, Pair, config_body, create_source, run_config, sample_rows, slow_target, wait_for, written,
)


@pytest.fixture
def pair(api2, databases, fresh_db):
    return Pair(api2, databases, fresh_db)


def slow_config(pair, databases, rows=300, seconds=0.01, bundle=5, name="slow", **options):
    """A configuration whose run takes about rows * seconds: its target sleeps on every row."""
    create_source(databases, "mysql", pair.database, "items", sample_rows(rows))
    slow_target(databases, pair.database, "items", seconds)
    body = config_body(name, pair.my, pair.pg, pair.database, tables=["items"], policy="validate_existing",
                       bundle=bundle, **options)
    response = pair.api.post("/stream-configs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def start(api, config):
    response = api.post(f"/stream-configs/{config['id']}/start")
    assert response.status_code == 200, response.text
    return response.json()["id"]


def running(stats):
    return stats["status"] == "RUNNING" and written(stats) > 0


def pg_count(databases, database, table="items"):
    with databases.pg(database) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def test_pause_parks_the_run_and_resume_finishes_it(pair, databases):
    config = slow_config(pair, databases, rows=200, seconds=0.002)
    stream = start(pair.api, config)
    wait_for(pair.api, stream, running)
    response = pair.api.post(f"/streams/{stream}/pause")
    assert response.status_code == 200
    assert response.json() == {"id": stream, "status": "PAUSED"}
    paused = wait_for(pair.api, stream, lambda s: s["status"] == "PAUSED")
    assert pair.api.post(f"/streams/{stream}/pause").json() == {"id": stream, "status": "PAUSED"}  # again: no change
    time.sleep(0.5)  # a paused run writes nothing, however long one waits: this is the wait
    again = pair.api.get(f"/streams/{stream}/stats").json()
    assert again == paused and 0 < written(paused) < 200
    assert pg_count(databases, pair.database) == written(paused)
    assert [s["status"] for s in pair.api.get("/streams").json() if s["id"] == stream] == ["PAUSED"]
    assert pair.api.post(f"/streams/{stream}/resume").json() == {"id": stream, "status": "RUNNING"}
    final = wait_for(pair.api, stream)
    assert final["status"] == "FINISHED" and written(final) == 200
    assert pg_count(databases, pair.database) == 200


def test_stop_ends_the_run_between_bundles(pair, databases):
    config = slow_config(pair, databases, rows=400, seconds=0.005)
    stream = start(pair.api, config)
    wait_for(pair.api, stream, running)
    started = time.monotonic()
    response = pair.api.post(f"/streams/{stream}/stop")
    assert response.status_code == 200 and response.json() == {"id": stream, "status": "STOPPED"}
    assert time.monotonic() - started < 5
    stats = pair.api.get(f"/streams/{stream}/stats").json()
    assert stats["status"] == "STOPPED" and 0 < written(stats) < 400
    assert written(stats) % 5 == 0  # whole bundles
    assert pg_count(databases, pair.database) == written(stats)
    [entry] = pair.api.get(f"/stream-configs/{config['id']}/history").json()
    assert entry["status"] == "STOPPED" and entry["rowsInserted"] == written(stats)


def test_a_forced_stop_interrupts_the_statement_in_flight(pair, databases):
    config = slow_config(pair, databases, rows=100, seconds=1, bundle=50)  # one bundle takes 50 s
    stream = start(pair.api, config)
    wait_for(pair.api, stream, lambda s: s["status"] == "RUNNING")
    with databases.pg(pair.database) as conn:  # the COPY is in flight once PostgreSQL runs the trigger
        deadline = time.monotonic() + 20
        while not conn.execute("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY%%' AND state = 'active'"
                               " AND datname = %s", (pair.database,)).fetchone():
            assert time.monotonic() < deadline, "the COPY never started"
            time.sleep(0.05)
    started = time.monotonic()
    response = pair.api.post(f"/streams/{stream}/stop", params={"force": "true"})
    assert response.status_code == 200 and response.json() == {"id": stream, "status": "STOPPED"}
    assert time.monotonic() - started < 5
    stats = pair.api.get(f"/streams/{stream}/stats").json()
    assert stats["status"] == "STOPPED" and written(stats) == 0
    assert pg_count(databases, pair.database) == 0  # the bundle in flight was rolled back


def test_acting_on_an_ended_run_is_409(pair, databases):
    create_source(databases, "mysql", pair.database, "items", sample_rows(3))
    _config, stats = run_config(pair.api, config_body("done", pair.my, pair.pg, pair.database, tables=["items"]))
    for action in ("pause", "resume", "stop"):
        response = pair.api.post(f"/streams/{stats['id']}/{action}")
        assert response.status_code == 409
        assert response.json() == {"error": f"stream '{stats['id']}' has ended (FINISHED)", "code": "CONFLICT",
                                   "details": {"field": "stream_state", "value": "FINISHED"}}


def test_one_active_run_per_configuration(pair, databases):
    config = slow_config(pair, databases, rows=100, seconds=0.01)
    stream = start(pair.api, config)
    response = pair.api.post(f"/stream-configs/{config['id']}/start")
    assert response.status_code == 409
    assert response.json() == {
        "error": f"stream configuration '{config['id']}' already has an active run: {stream}", "code": "CONFLICT",
        "details": {"field": "stream_state", "value": stream}}
    deleted = pair.api.delete(f"/stream-configs/{config['id']}", headers=CONFIRM)
    assert deleted.status_code == 409
    assert deleted.json()["error"] == (f"stream configuration '{config['id']}' has an active run ({stream}):"
                                       " stop it first")
    assert pair.api.post(f"/streams/{stream}/stop", params={"force": "true"}).json()["status"] == "STOPPED"
    second = start(pair.api, config)
    assert second != stream
    pair.api.post(f"/streams/{second}/stop", params={"force": "true"})
    history = pair.api.get(f"/stream-configs/{config['id']}/history").json()
    assert [h["streamId"] for h in history] == [second, stream]  # newest first
    assert pair.api.delete(f"/stream-configs/{config['id']}", headers=CONFIRM).status_code == 204


def test_starts_at_once_give_one_run(pair, databases):
    config = slow_config(pair, databases, rows=100, seconds=0.01)
    answers = []

    def start_one():
        answers.append(pair.api.post(f"/stream-configs/{config['id']}/start").status_code)

    threads = [threading.Thread(target=start_one) for _i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200] + [409] * 5
    [run] = [r for r in pair.api.get("/streams").json() if r["configId"] == config["id"]]
    pair.api.post(f"/streams/{run['id']}/stop", params={"force": "true"})


REFUSING_TARGETS = {
    # Row 5 has a NULL note: with bundles of 3, the bundle of rows 4 to 6 is refused, the 3 rows before it are in.
    "postgresql": ("CREATE TABLE items (id integer PRIMARY KEY, small smallint, big bigint, amount numeric(14,3),"
                   " name varchar(120) NOT NULL, note text NOT NULL, flag boolean, born date, seen timestamp(6),"
                   " doc jsonb, raw bytea)",
                   'null value in column "note" of relation "items" violates not-null constraint'),
    # A CHECK refuses id 8: with bundles of 3, the bundle of rows 7 to 9 is refused, 6 rows are in.
    "mysql": ("CREATE TABLE items (id int PRIMARY KEY, small smallint, big bigint, amount decimal(14,3),"
              " name varchar(120), note longtext, flag tinyint(1), born date, seen datetime(6), doc longtext,"
              " raw longblob, CHECK (id <> 8))",
              "CONSTRAINT `CONSTRAINT_1` failed for `{database}`.`items`"),
}


@pytest.mark.parametrize("target_kind, written_before", [("postgresql", 3), ("mysql", 6)])
def test_a_row_the_target_refuses_fails_the_run_with_the_database_message(
        pair, databases, target_kind, written_before):
    source_kind = "mysql" if target_kind == "postgresql" else "postgresql"
    rows = sample_rows(40)
    create_source(databases, source_kind, pair.database, "items", rows)
    ddl, message = REFUSING_TARGETS[target_kind]
    if target_kind == "postgresql":
        with databases.pg(pair.database) as conn:
            conn.execute(ddl)
    else:
        with databases.mysql(pair.database) as conn, conn.cursor() as cur:
            cur.execute(ddl)
    body = config_body("refused", pair.of(source_kind), pair.of(target_kind), pair.database, tables=["items"],
                       policy="validate_existing", bundle=3)
    config, stats = run_config(pair.api, body)
    assert stats["status"] == "FAILED"
    assert stats["errorMessage"] == message.format(database=pair.database)
    assert written(stats) == written_before
    [entry] = pair.api.get(f"/stream-configs/{config['id']}/history").json()
    assert entry["status"] == "FAILED" and entry["errorMessage"] == stats["errorMessage"]
    assert entry["rowsInserted"] == written_before
    if target_kind == "postgresql":
        assert pg_count(databases, pair.database) == written_before
        assert rows[3][4] not in json.dumps(stats)  # a value of the refused bundle (PostgreSQL's DETAIL quotes it)


def test_a_connection_that_drops_fails_the_run(pair, databases):
    config = slow_config(pair, databases, rows=300, seconds=0.01)
    stream = start(pair.api, config)
    wait_for(pair.api, stream, running)
    with databases.pg() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                     " AND application_name = 'dbcs-server'", (pair.database,))
    stats = wait_for(pair.api, stream)
    assert stats["status"] == "FAILED"
    assert "terminat" in stats["errorMessage"] or "closed" in stats["errorMessage"], stats
    assert pair.databases.pg_password not in json.dumps(stats)


def test_a_failure_message_never_carries_a_password(pair, databases):
    create_source(databases, "mysql", pair.database, "items", sample_rows(3))
    wrong = pair.api.create(nested(databases.pg_spec(database=pair.database, password="pw-never-shown-1234")))
    body = config_body("wrong", pair.my, wrong, pair.database, tables=["items"])
    _config, stats = run_config(pair.api, body)
    assert stats["status"] == "FAILED"
    assert "password authentication failed" in stats["errorMessage"]
    assert "pw-never-shown-1234" not in json.dumps(stats)


def test_cdc_configurations_are_stored_but_not_started(pair, databases):
    create_source(databases, "mysql", pair.database, "items", sample_rows(1))
    body = config_body("follow", pair.my, pair.pg, pair.database, tables=["items"], mode="cdc")
    created = pair.api.post("/stream-configs", json=body)
    assert created.status_code == 201 and created.json()["mode"] == "cdc"
    response = pair.api.post(f"/stream-configs/{created.json()['id']}/start")
    assert response.status_code == 400
    assert response.json() == {"error": "cdc is not supported by the local server: it runs load configurations only",
                               "code": "BAD_REQUEST", "details": {"field": "mode", "value": "cdc"}}
    assert pair.api.get("/streams").json() == []


def test_convert_is_run_as_load(pair, databases):
    create_source(databases, "mysql", pair.database, "items", sample_rows(5))
    config, stats = run_config(pair.api, config_body("old", pair.my, pair.pg, pair.database, tables=["items"],
                                                     mode="convert"))
    assert config["mode"] == "convert" and stats["status"] == "FINISHED" and written(stats) == 5


def test_runs_are_listed_with_their_ends(pair, databases):
    create_source(databases, "mysql", pair.database, "items", sample_rows(3))
    config, stats = run_config(pair.api, config_body("listed", pair.my, pair.pg, pair.database, tables=["items"]))
    [item] = pair.api.get("/streams").json()
    assert item["id"] == stats["id"] and item["configId"] == config["id"] and item["status"] == "FINISHED"
    assert config["created"] <= item["created"] <= item["finished"] <= time.time()
    [entry] = pair.api.get(f"/stream-configs/{config['id']}/history").json()
    assert entry == {"id": "run_" + stats["id"].removeprefix("stream_"), "configId": config["id"],
                     "streamId": stats["id"], "timestamp": item["created"], "durationMs": entry["durationMs"],
                     "status": "FINISHED", "rowsInserted": 3, "dataSize": entry["dataSize"]}
    assert entry["durationMs"] >= 0 and entry["dataSize"].endswith((" B", " KB"))


# -- restarts --------------------------------------------------------------------------------


@pytest.fixture
def own_server(tmp_path):
    proc = ServerProcess(tmp_path, key_count=1, api_version=2)
    proc.start()
    yield proc
    proc.stop()


def test_a_run_killed_with_its_server_is_failed_after_the_restart(own_server, databases, fresh_db):
    pair = Pair(own_server.api(own_server.key, session=False), databases, fresh_db)
    config = slow_config(pair, databases, rows=400, seconds=0.01)
    stream = start(pair.api, config)
    wait_for(pair.api, stream, lambda s: written(s) >= 150)  # 1.5 s of running: the counts were saved
    own_server.kill9()
    own_server.start()
    pair.api = own_server.api(own_server.key, session=False)
    stats = pair.api.get(f"/streams/{stream}/stats").json()
    assert stats["status"] == "FAILED"
    assert stats["errorMessage"] == "the server stopped while this run was active (runs do not survive a restart)"
    assert 0 < written(stats) <= pg_count(databases, pair.database)  # the counts saved last, at most a second old
    assert [s["status"] for s in pair.api.get("/streams").json()] == ["FAILED"]
    [entry] = pair.api.get(f"/stream-configs/{config['id']}/history").json()
    assert entry["status"] == "FAILED" and entry["errorMessage"] == stats["errorMessage"]
    assert "stream run(s) were active when the server stopped" in own_server.stderr()
    restarted = start(pair.api, config)  # the configuration is free again
    assert pair.api.post(f"/streams/{restarted}/stop", params={"force": "true"}).json()["status"] == "STOPPED"


def test_a_server_stopped_during_a_run_ends_it_failed(own_server, databases, fresh_db):
    pair = Pair(own_server.api(own_server.key, session=False), databases, fresh_db)
    config = slow_config(pair, databases, rows=400, seconds=0.01)
    stream = start(pair.api, config)
    wait_for(pair.api, stream, running)
    started = time.monotonic()
    own_server.stop()
    assert time.monotonic() - started < 10
    own_server.start()
    stats = own_server.api(own_server.key, session=False).get(f"/streams/{stream}/stats").json()
    assert stats["status"] == "FAILED"
    assert stats["errorMessage"] == "the server was stopped while this run was active"
    assert written(stats) == pg_count(databases, pair.database)


def test_a_second_server_on_the_same_data_directory_keeps_a_live_run(own_server, databases, fresh_db, tmp_path):
    pair = Pair(own_server.api(own_server.key, session=False), databases, fresh_db)
    # About 30 s of run (stopped below): starting the second server takes seconds on a busy machine.
    config = slow_config(pair, databases, rows=3000, seconds=0.01)
    stream = start(pair.api, config)
    wait_for(pair.api, stream, running)
    other = ServerProcess(tmp_path / "other", key_count=0, api_version=2, data_dir=own_server.data_dir)
    other.keys = own_server.keys
    other.start()
    try:
        assert other.api(own_server.key, session=False).get(f"/streams/{stream}/stats").json()["status"] in ACTIVE
    finally:
        other.stop()
    assert pair.api.post(f"/streams/{stream}/stop", params={"force": "true"}).json()["status"] == "STOPPED"


# -- the log stream ---------------------------------------------------------------------------


class Events:
    """The events of an open SSE answer, read from one line iterator."""

    def __init__(self, response):
        self.lines = response.iter_lines(decode_unicode=True)

    def until(self, done, limit=500):
        """(event, data) pairs, read until `done(pairs)` holds."""
        found, current = [], {}
        for line in self.lines:
            if line == "":
                found.append((current.get("event"), json.loads(current["data"])))
                current = {}
                if done(found) or len(found) >= limit:
                    break
            else:
                name, _sep, value = line.partition(": ")
                current[name] = value
        return found


def test_the_log_stream_tells_of_runs_without_data_or_secrets(pair, databases, server2):
    rows = sample_rows(30)
    create_source(databases, "mysql", pair.database, "items", rows)
    body = config_body("told", pair.my, pair.pg, pair.database, tables=["items"], bundle=10)
    config = pair.api.post("/stream-configs", json=body).json()
    with requests.get(server2.url + "/logs/stream", stream=True, timeout=30) as response:
        events = Events(response)
        assert events.until(lambda found: True)[0][0] == "heartbeat"
        stream = start(pair.api, config)

        def ended(found):
            return any(e == "log" and d.get("streamId") == stream and "FINISHED" in d["message"] for e, d in found)

        received = [(e, d) for e, d in events.until(ended) if e == "log" and d.get("streamId") == stream]
    messages = [d["message"] for _e, d in received]
    assert messages[0] == f"stream {stream} started: a load of configuration {config['id']}"
    assert "table items: 30 rows written" in messages
    assert messages[-1] == f"stream {stream} FINISHED: 30 rows written"
    for _event, data in received:
        assert data["level"] in ("info", "error") and data["type"] in ("api", "source", "target")
        assert data["timestamp"].endswith("Z") and data["category"] in ("general", "stat", "error")
    stats = [d for _e, d in received if d["category"] == "stat"]
    final = {d["nodeId"]: d for d in stats if d["status"] == "FINISHED"}
    assert set(final) == {"source-1", "target-1"}
    assert final["target-1"]["events"] == 30 and final["target-1"]["type"] == "target"
    assert final["target-1"]["table"] == "" and final["target-1"]["size"].endswith("B")
    text = json.dumps(received)
    for secret in (databases.pg_password, databases.my_password, pair.api.key):
        assert secret not in text
    for row in rows:
        assert row[4] not in text  # no row value (the names are unique per row)


def test_a_failure_on_the_log_stream_names_its_code_not_the_row(pair, databases, server2):
    create_source(databases, "mysql", pair.database, "items", sample_rows(10))
    with databases.pg(pair.database) as conn:
        conn.execute("CREATE TABLE items (id integer PRIMARY KEY, small smallint, big bigint, amount numeric(14,3),"
                     " name varchar(120) CHECK (name NOT LIKE 'name-5-%'), note text, flag boolean, born date,"
                     " seen timestamp(6), doc jsonb, raw bytea)")
    body = config_body("bad", pair.my, pair.pg, pair.database, tables=["items"], policy="validate_existing")
    config = pair.api.post("/stream-configs", json=body).json()
    with requests.get(server2.url + "/logs/stream", stream=True, timeout=30) as response:
        events = Events(response)
        events.until(lambda found: True)
        stream = start(pair.api, config)
        found = events.until(lambda f: any(d.get("streamId") == stream and d["category"] == "error" for _e, d in f))
    [failure] = [d for _e, d in found if d.get("streamId") == stream and d["category"] == "error"]
    assert failure["level"] == "error"
    assert failure["message"] == (f"stream {stream} FAILED (SQLSTATE 23514): the error is in"
                                  f" GET /streams/{stream}/stats")
