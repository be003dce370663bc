# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the stream configuration model: pure logic, no HTTP."""

from __future__ import annotations

import pytest

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import SpecError
from ansible_collections.dbconvert.streams.plugins.module_utils.stream import (
    STREAM_CONFIG_OPTIONS, ConnectionIndex, StreamConfigSpec, active_run, config_view, plan_run, plan_stream_changes, run_view,
    runs_of)

MY = "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5"
PG = "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU6"
CONNECTIONS = ConnectionIndex([dict(id=MY, name="shop", type="mysql"), dict(id=PG, name="warehouse", type="postgresql")])
CONFIG = {"id": "config_2sZyDMeIbdaXnN9OL7vYzzAiZU7", "name": "copy", "mode": "convert", "created": 1,
          "source": {"connections": [{"connectionId": MY, "database": "shop",
                                      "tables": [{"name": "orders"}, {"name": "customers"}]}],
                     "options": {"dataBundleSize": 500}},
          "target": {"id": PG, "spec": {"db": {"database": "analytics", "schema": "sales", "schemaPolicy": "create_missing_only",
                                               "writeMode": "append"}}},
          "limits": {"numberOfEvents": 0, "elapsedTime": 0}, "reportingInterval": 3}


def params(**kwargs):
    result = dict((key, spec.get("default")) for key, spec in STREAM_CONFIG_OPTIONS.items())
    result.update(kwargs)
    return result


def spec(**kwargs):
    return StreamConfigSpec(params(**kwargs))


def with_(base, **changes):
    """A copy of a declared dict with some keys changed."""
    return {**base, **changes}


DECLARED = dict(name="copy", mode="load", source=dict(connection="shop", database="shop", tables=["customers", "orders"]),
                target=dict(connection="warehouse", database="analytics", schema="sales"), bundle_size=500)


def test_a_configuration_that_matches_plans_nothing_tables_as_a_set_and_convert_as_load():
    (change,) = plan_stream_changes([spec(**DECLARED)], [CONFIG], CONNECTIONS)
    assert change.action == "none", change.changed_fields


def test_a_change_is_one_field_and_the_body_keeps_the_rest():
    declared = with_(DECLARED, target=with_(DECLARED["target"], write_mode="truncate_and_load"), source=dict(
        DECLARED["source"], tables=["orders"]))
    (change,) = plan_stream_changes([spec(**declared)], [CONFIG], CONNECTIONS)
    assert change.action == "update"
    assert change.changed_fields == ["source.tables", "target.write_mode"]
    assert change.body["target"]["spec"]["db"] == {"database": "analytics", "schema": "sales",
                                                   "schemaPolicy": "create_missing_only", "writeMode": "truncate_and_load"}
    assert change.body["source"]["connections"][0]["tables"] == [{"name": "orders"}]
    assert change.body["reportingInterval"] == 3 and "id" not in change.body


def test_create_resolves_names_to_ids_and_sends_the_defaults():
    (change,) = plan_stream_changes([spec(**with_(DECLARED, name="new"))], [CONFIG], CONNECTIONS)
    assert change.action == "create"
    assert change.body["source"]["connections"][0]["connectionId"] == MY and change.body["target"]["id"] == PG
    assert change.body["target"]["spec"]["db"]["writeMode"] == "append"
    assert change.body["limits"] == {"numberOfEvents": 0, "elapsedTime": 0}
    assert change.diff(CONNECTIONS)["after"]["target"] == {"connection": "warehouse", "database": "analytics",
                                                           "schema": "sales", "schema_policy": "create_missing_only",
                                                           "write_mode": "append"}


def test_a_connection_declared_by_id_matches_the_same_connection_by_name():
    declared = with_(DECLARED, source=with_(DECLARED["source"], connection=MY))
    (change,) = plan_stream_changes([spec(**declared)], [CONFIG], CONNECTIONS)
    assert change.action == "none"


def test_input_that_cannot_work_fails_before_any_write():
    with pytest.raises(SpecError, match=r"^source.connection: no connection is named 'nope'"):
        plan_stream_changes([spec(**with_(DECLARED, source=with_(DECLARED["source"], connection="nope")))], [], CONNECTIONS)
    with pytest.raises(SpecError, match=r"^target.schema is only valid for a PostgreSQL connection; 'shop' is mysql"):
        plan_stream_changes([spec(**with_(DECLARED, target=dict(connection="shop", database="x", schema="s")))], [], CONNECTIONS)
    with pytest.raises(SpecError, match=r"does not exist yet: to create it, set target.connection, target.database$"):
        plan_stream_changes([spec(name="n", source=dict(connection="shop", database="shop"))], [], CONNECTIONS)


@pytest.mark.parametrize("declared, message", [
    (dict(limits=dict(rows=-1)), r"^limits.rows must be a whole number of at least 0 \(0 means no limit\), got -1"),
    (dict(bundle_size=0), r"^bundle_size must be a whole number of at least 1, got 0"),
    (dict(source=dict(connection="shop", tables=[])), r"^source.tables must name at least one table"),
    (dict(source=dict(connection="shop", tables=["a", "a"])), r"^source.tables names 'a' more than once"),
    (dict(name="a\nb"), r"^name must not contain control characters"),
])
def test_bad_input_names_the_option(declared, message):
    with pytest.raises(SpecError, match=message):
        spec(**{"name": "n", **declared})


def test_the_view_shows_connections_by_name_and_id():
    view = config_view(CONFIG, CONNECTIONS)
    assert view["source"] == {"connection": "shop", "connection_id": MY, "database": "shop", "tables": ["customers", "orders"]}
    assert view["mode"] == "load" and view["bundle_size"] == 500 and view["limits"] == {"rows": 0, "seconds": 0}


def test_purge_deletes_the_undeclared_and_absent_deletes_by_name():
    (purged,) = plan_stream_changes([], [CONFIG], CONNECTIONS, purge=True)
    (absent,) = plan_stream_changes([spec(name="copy", state="absent")], [CONFIG], CONNECTIONS)
    assert purged.action == absent.action == "delete"


def test_runs_newest_first_and_the_active_one():
    runs = [dict(id="s1", configId="c", status="FINISHED", created=1), dict(id="s2", configId="c", status="RUNNING", created=2),
            dict(id="s3", configId="other", status="RUNNING", created=3)]
    mine = runs_of(runs, "c")
    assert [run["id"] for run in mine] == ["s2", "s1"] and active_run(mine)["id"] == "s2"
    view = run_view(mine[1], {"tables": [{"name": "t", "rows": 7}]}, {"rowsInserted": 7, "durationMs": 1500})
    assert view == {"id": "s1", "status": "FINISHED", "rows": {"t": 7}, "rows_total": 7, "duration_s": 1.5, "created": 1}


@pytest.mark.parametrize("state, runs, config, force, expected", [
    ("running", [], {}, False, "start"),
    ("running", [{"status": "RUNNING"}], {}, False, "none"),
    ("running", [{"status": "PAUSED"}], {}, False, "resume"),
    ("running", [{"status": "RUNNING"}], {}, True, "restart"),
    ("paused", [{"status": "RUNNING"}], {}, False, "pause"),
    ("paused", [{"status": "PAUSED"}], {}, False, "none"),
    ("paused", [{"status": "FINISHED"}], {}, False, "none"),
    ("stopped", [{"status": "READY"}], {}, False, "stop"),
    ("stopped", [{"status": "FAILED"}], {}, False, "none"),
    ("finished", [], {}, False, "start"),
    ("finished", [{"status": "RUNNING"}], {}, False, "wait"),
    ("finished", [{"status": "PAUSED"}], {}, False, "resume"),
    ("finished", [{"status": "FINISHED", "created": 100}], {"updated": 90}, False, "none"),
    ("finished", [{"status": "FINISHED", "created": 100}], {"updated": 110}, False, "start"),  # changed since
    ("finished", [{"status": "FINISHED", "created": 100}], {}, True, "start"),
    ("finished", [{"status": "FAILED", "created": 100}], {}, False, "start"),
    ("finished", [{"status": "FINISHED"}, {"status": "RUNNING"}], {}, False, "wait"),
])
def test_what_a_run_state_needs(state, runs, config, force, expected):
    assert plan_run(state, runs, config, force=force)[0] == expected


def test_an_accepted_end_other_than_finished_counts_as_done():
    runs = [{"status": "EVENT_LIMIT_REACHED", "created": 5}]
    assert plan_run("finished", runs, {}, accept=("FINISHED", "EVENT_LIMIT_REACHED"))[0] == "none"
    assert plan_run("finished", runs, {})[0] == "start"


def test_check_mode_plans_with_connections_an_earlier_task_would_create():
    declared = with_(DECLARED, name="new", source=with_(DECLARED["source"], connection="not-yet"))
    with pytest.raises(SpecError, match=r"^source.connection: no connection is named 'not-yet'"):
        plan_stream_changes([spec(**declared)], [], ConnectionIndex([dict(id=PG, name="warehouse", type="postgresql")]))
    connections = ConnectionIndex([dict(id=PG, name="warehouse", type="postgresql")])
    (change,) = plan_stream_changes([spec(**declared)], [], connections, check_mode=True)
    assert change.action == "create"
    assert change.warnings == ["source.connection: no connection 'not-yet' exists yet; check mode takes it to be one that "
                               "an earlier task would create, and plans as if it existed. Without check mode this fails "
                               "unless it exists by then"]
    assert change.diff(connections)["after"]["source"]["connection"] == "not-yet"


# -- files and s3 targets (2.x) ---------------------------------------------------------------------------

FILES = "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU8"
S3 = "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU9"
KINDS = ConnectionIndex(CONNECTIONS.connections + [dict(id=FILES, name="exports", type="files"),
                                                   dict(id=S3, name="lake", type="s3")])
SOURCE = dict(connection="shop", database="shop", tables=["orders"])


def test_a_files_target_takes_a_file_format_and_no_database_defaults():
    (change,) = plan_stream_changes([spec(name="dump", source=SOURCE, target=dict(connection="exports", file_format="parquet"))],
                                    [], KINDS)
    assert change.action == "create"
    assert change.body["target"] == {"id": FILES, "spec": {"files": {"fileFormat": "parquet"}}}
    server = dict(change.body, id="config_2sZyDMeIbdaXnN9OL7vYzzAiZUa")
    (again,) = plan_stream_changes([spec(name="dump", source=SOURCE, target=dict(connection="exports", file_format="parquet"))],
                                   [server], KINDS)
    assert again.action == "none"
    assert config_view(server, KINDS, with_ids=False)["target"] == {"connection": "exports", "file_format": "parquet"}


def test_an_s3_target_places_its_directory_and_bucket():
    declared = dict(connection="lake", file_format="csv", output_directory="nightly", bucket="analytics", prefix="shop")
    (change,) = plan_stream_changes([spec(name="up", source=SOURCE, target=declared)], [], KINDS)
    assert change.body["target"] == {"id": S3, "spec": {"s3": {"fileFormat": "csv", "outputDirectory": "nightly",
                                                               "upload": {"bucket": "analytics", "prefix": "shop"}}}}
    assert config_view(change.body, KINDS, with_ids=False)["target"] == declared


def test_a_target_option_of_another_kind_fails_before_any_write():
    with pytest.raises(SpecError, match=r"^target.database is only valid for a target of kind mysql or postgresql; 'exports' is a "
                                        r"files connection$"):
        plan_stream_changes([spec(name="x", source=SOURCE, target=dict(connection="exports", database="d"))], [], KINDS)
    with pytest.raises(SpecError, match=r"^target.file_format is only valid for a target of kind files or s3; 'warehouse' is a "
                                        r"postgresql connection$"):
        target = dict(connection="warehouse", database="d", file_format="csv")
        plan_stream_changes([spec(name="x", source=SOURCE, target=target)], [], KINDS)
    with pytest.raises(SpecError, match=r"^target.bucket is only valid for a target of kind s3; 'exports' is a files connection$"):
        target = dict(connection="exports", file_format="csv", bucket="b")
        plan_stream_changes([spec(name="x", source=SOURCE, target=target)], [], KINDS)
    with pytest.raises(SpecError, match=r"does not exist yet: to create it, set target.file_format$"):
        plan_stream_changes([spec(name="x", source=SOURCE, target=dict(connection="exports"))], [], KINDS)


def test_moving_a_configuration_from_a_database_to_files_replaces_the_target_member():
    (change,) = plan_stream_changes([spec(name="copy", target=dict(connection="exports", file_format="jsonl"))], [CONFIG],
                                    KINDS)
    assert change.action == "update"
    assert change.body["target"] == {"id": FILES, "spec": {"files": {"fileFormat": "jsonl"}}}
    assert change.body["source"] == CONFIG["source"]
