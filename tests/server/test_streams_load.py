"""The load engine against real MariaDB and PostgreSQL: the four directions, each target holding
exactly the source's rows (count and checksum computed by both databases), every schemaPolicy
and writeMode, bundles, every table of a database, and the row and time limits."""

import pytest

from server_helpers import nested
from streams_helpers import (
    CONFIRM, Pair, checksum, config_body, create_source, run_config, sample_rows, slow_target, written,
)

DIRECTIONS = [("mysql", "postgresql"), ("postgresql", "mysql"), ("mysql", "mysql"), ("postgresql", "postgresql")]


@pytest.fixture
def pair(api2, databases, fresh_db):
    return Pair(api2, databases, fresh_db)


@pytest.fixture
def second_db(databases, fresh_db):
    """Another database of both servers, for copies between two databases of one kind."""
    name = fresh_db + "_t"
    databases.create_database(name)
    yield name
    databases.drop_database(name)


def target_of(pair, kind, second_db):
    """(database, schema) a copy into `kind` lands in: another database (MySQL) or schema (PostgreSQL)."""
    return (second_db, None) if kind == "mysql" else (pair.database, "copy")


@pytest.mark.parametrize("source_kind, target_kind", DIRECTIONS, ids=[f"{a}-to-{b}" for a, b in DIRECTIONS])
def test_the_target_holds_exactly_the_source_rows(pair, databases, second_db, source_kind, target_kind):
    rows = sample_rows(1000)
    create_source(databases, source_kind, pair.database, "items", rows)
    database, schema = target_of(pair, target_kind, second_db)
    body = config_body("copy", pair.of(source_kind), pair.of(target_kind), database, schema=schema, tables=["items"],
                       source_database=pair.database, bundle=333)
    config, stats = run_config(pair.api, body)
    assert stats["status"] == "FINISHED", stats
    assert stats["tables"] == [{"name": "items", "rows": 1000}]
    assert [(n["type"], n["stat"]["counter"], n["stat"]["status"]) for n in stats["nodes"]] == [
        ("source", 1000, "FINISHED"), ("target", 1000, "FINISHED")]
    assert all(n["stat"]["bytes"] > 0 for n in stats["nodes"])
    source = checksum(databases, source_kind, pair.database, "items")
    assert source[0] == 1000
    assert checksum(databases, target_kind, database, "items", schema=schema) == source
    [entry] = pair.api.get(f"/stream-configs/{config['id']}/history").json()
    assert entry["status"] == "FINISHED" and entry["rowsInserted"] == 1000 and entry["streamId"] == stats["id"]


def test_types_and_the_primary_key_are_mapped_between_the_kinds(pair, databases):
    create_source(databases, "mysql", pair.database, "items", sample_rows(3))
    config, stats = run_config(pair.api, config_body("types", pair.my, pair.pg, pair.database, schema="copy",
                                                     tables=["items"]))
    assert stats["status"] == "FINISHED", stats
    with databases.pg(pair.database) as conn:
        types = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns"
                                  " WHERE table_schema = 'copy' AND table_name = 'items'").fetchall())
        key = conn.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                           " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'copy.items'::regclass"
                           " AND i.indisprimary").fetchall()
        numeric = conn.execute("SELECT numeric_precision, numeric_scale, character_maximum_length FROM"
                               " information_schema.columns WHERE table_schema = 'copy' AND table_name = 'items'"
                               " AND column_name IN ('amount', 'name') ORDER BY column_name").fetchall()
    assert types == {"id": "integer", "small": "smallint", "big": "bigint", "amount": "numeric",
                     "name": "character varying", "note": "text", "flag": "boolean", "born": "date",
                     "seen": "timestamp without time zone", "doc": "jsonb", "raw": "bytea"}
    assert numeric == [(14, 3, None), (None, None, 120)]
    assert key == [("id",)]
    # ... and back: PostgreSQL's types as MySQL ones.
    back = config_body("back", pair.pg, pair.my, pair.database, source_database=pair.database, source_schema="copy",
                       tables=["items"], policy="drop_and_recreate")
    back["target"]["spec"]["db"]["database"] = pair.database
    with databases.mysql(pair.database) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE items")
    _config, stats = run_config(pair.api, back)
    assert stats["status"] == "FINISHED", stats
    with databases.mysql(pair.database) as conn, conn.cursor() as cur:
        cur.execute("SELECT column_name, column_type, column_key FROM information_schema.columns WHERE"
                    " table_schema = %s AND table_name = 'items' ORDER BY ordinal_position", (pair.database,))
        described = {name: (kind, key) for name, kind, key in cur.fetchall()}
    assert described == {
        "id": ("int(11)", "PRI"), "small": ("smallint(6)", ""), "big": ("bigint(20)", ""),
        "amount": ("decimal(14,3)", ""), "name": ("varchar(120)", ""), "note": ("longtext", ""),
        "flag": ("tinyint(1)", ""), "born": ("date", ""), "seen": ("datetime(6)", ""), "doc": ("longtext", ""),
        "raw": ("longblob", ""),
    }


def test_every_table_of_the_database_when_none_is_listed(pair, databases):
    create_source(databases, "postgresql", pair.database, "first", sample_rows(40))
    create_source(databases, "postgresql", pair.database, "second", sample_rows(70))
    _config, stats = run_config(pair.api, config_body("all", pair.pg, pair.my, pair.database, bundle=25))
    assert stats["status"] == "FINISHED", stats
    assert stats["tables"] == [{"name": "first", "rows": 40}, {"name": "second", "rows": 70}]
    for table in ("first", "second"):
        assert checksum(databases, "mysql", pair.database, table) == checksum(databases, "postgresql", pair.database, table)


def test_a_schema_qualified_source_table(pair, databases):
    create_source(databases, "postgresql", pair.database, "orders", sample_rows(20), schema="sales")
    _config, stats = run_config(pair.api, config_body("qualified", pair.pg, pair.my, pair.database,
                                                      tables=["sales.orders"]))
    assert stats["status"] == "FINISHED", stats
    assert checksum(databases, "mysql", pair.database, "orders") == checksum(
        databases, "postgresql", pair.database, "orders", schema="sales")


# -- schemaPolicy -------------------------------------------------------------------------------


def precreate(databases, database, table="items", rows=0, extra_column=False, schema="copy"):
    """A PostgreSQL target table of COLUMNS in `schema` (with `rows` rows of ids 5001..)."""
    create_source(databases, "postgresql", database, table, sample_rows(rows, start=5001), schema=schema)
    if extra_column:
        with databases.pg(database) as conn:
            conn.execute(f'ALTER TABLE "{schema}"."{table}" ADD COLUMN extra text')


def load(pair, databases, policy=None, write=None, rows=30, **options):
    create_source(databases, "mysql", pair.database, "items", sample_rows(rows))
    body = config_body(f"{policy}-{write}", pair.my, pair.pg, pair.database, schema="copy", tables=["items"],
                       policy=policy, write=write, bundle=10, **options)
    return run_config(pair.api, body)[1]


def pg_ids(databases, database, table="items", schema="copy"):
    with databases.pg(database) as conn:
        return [row[0] for row in conn.execute(f'SELECT id FROM "{schema}"."{table}" ORDER BY id')]


@pytest.mark.parametrize("policy", ["fail_if_exists", "validate_existing", "create_missing_only", "drop_and_recreate"])
def test_schema_policies_on_a_missing_table(pair, databases, policy):
    stats = load(pair, databases, policy)
    if policy == "validate_existing":
        assert stats["status"] == "FAILED"
        assert stats["errorMessage"] == "the target table 'items' does not exist (schemaPolicy validate_existing)"
        assert stats["tables"] == []
    else:
        assert stats["status"] == "FINISHED", stats
        assert pg_ids(databases, pair.database) == list(range(1, 31))


@pytest.mark.parametrize("policy, status, ids", [
    ("fail_if_exists", "FAILED", [5001, 5002]),
    ("validate_existing", "FINISHED", list(range(1, 31)) + [5001, 5002]),
    ("create_missing_only", "FINISHED", list(range(1, 31)) + [5001, 5002]),
    ("drop_and_recreate", "FINISHED", list(range(1, 31))),
])
def test_schema_policies_on_an_existing_table(pair, databases, policy, status, ids):
    precreate(databases, pair.database, rows=2, extra_column=True)
    stats = load(pair, databases, policy)
    assert stats["status"] == status, stats
    if status == "FAILED":
        assert stats["errorMessage"] == "the target table 'items' exists already (schemaPolicy fail_if_exists)"
    assert pg_ids(databases, pair.database) == ids
    with databases.pg(pair.database) as conn:
        columns = [r[0] for r in conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = 'copy.items'::regclass"
                                              " AND attnum > 0 AND NOT attisdropped")]
    assert ("extra" in columns) == (policy != "drop_and_recreate")


def test_validate_existing_refuses_a_table_without_the_source_columns(pair, databases):
    with databases.pg(pair.database) as conn:
        conn.execute("CREATE SCHEMA copy")
        conn.execute("CREATE TABLE copy.items (id integer PRIMARY KEY, name text)")
    stats = load(pair, databases, "validate_existing")
    assert stats["status"] == "FAILED"
    assert stats["errorMessage"] == ("the target table 'items' has no column small, big, amount, note, flag, born, seen,"
                                     " doc, raw (schemaPolicy validate_existing)")


# -- writeMode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("write, status, ids", [
    ("fail_if_not_empty", "FAILED", [5001, 5002]),
    ("append", "FINISHED", list(range(1, 31)) + [5001, 5002]),
    ("truncate_and_load", "FINISHED", list(range(1, 31))),
    ("upsert", "FINISHED", list(range(1, 31)) + [5001, 5002]),
])
def test_write_modes_on_a_table_with_rows(pair, databases, write, status, ids):
    precreate(databases, pair.database, rows=2)
    stats = load(pair, databases, "create_missing_only", write)
    assert stats["status"] == status, stats
    if status == "FAILED":
        assert stats["errorMessage"] == "the target table 'items' is not empty (writeMode fail_if_not_empty)"
    assert pg_ids(databases, pair.database) == ids


def test_fail_if_not_empty_writes_into_an_empty_table(pair, databases):
    precreate(databases, pair.database)
    assert load(pair, databases, "validate_existing", "fail_if_not_empty")["status"] == "FINISHED"
    assert pg_ids(databases, pair.database) == list(range(1, 31))


@pytest.mark.parametrize("target_kind", ["postgresql", "mysql"])
def test_upsert_updates_the_rows_whose_key_exists_and_adds_the_others(pair, databases, second_db, target_kind):
    source_kind = "postgresql" if target_kind == "mysql" else "mysql"
    rows = sample_rows(50)
    create_source(databases, source_kind, pair.database, "items", rows)
    database, schema = (second_db, None) if target_kind == "mysql" else (pair.database, "copy")
    stale = [(*row[:4], "stale", *row[5:]) for row in rows[:20]] + sample_rows(3, start=9001)
    if target_kind == "mysql":
        create_source(databases, "mysql", database, "items", stale)
    else:
        create_source(databases, "postgresql", database, "items", stale, schema=schema)
    body = config_body("upsert", pair.of(source_kind), pair.of(target_kind), database, schema=schema,
                       source_database=pair.database, tables=["items"], policy="validate_existing", write="upsert",
                       bundle=7)
    _config, stats = run_config(pair.api, body)
    assert stats["status"] == "FINISHED", stats
    assert written(stats) == 50
    # Exactly the source's rows, plus the three the source does not have.
    create_source(databases, source_kind, pair.database, "expected", rows + sample_rows(3, start=9001))
    assert checksum(databases, target_kind, database, "items", schema=schema) == checksum(
        databases, source_kind, pair.database, "expected")


def test_upsert_of_a_source_table_without_primary_key_is_refused(pair, databases):
    create_source(databases, "mysql", pair.database, "nokey", sample_rows(3), key=False)
    body = config_body("nokey", pair.my, pair.pg, pair.database, tables=["nokey"], write="upsert")
    response = pair.api.post("/stream-configs", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "error": f"upsert needs a primary key: table 'nokey' of database '{pair.database}' has none",
        "code": "VALIDATION_ERROR", "details": {"field": "target.spec.db.writeMode", "value": "upsert"}}


def test_a_table_without_primary_key_is_copied_without_one(pair, databases):
    create_source(databases, "mysql", pair.database, "nokey", sample_rows(12), key=False)
    _config, stats = run_config(pair.api, config_body("nokey", pair.my, pair.pg, pair.database, tables=["nokey"]))
    assert stats["status"] == "FINISHED", stats
    assert checksum(databases, "postgresql", pair.database, "nokey") == checksum(
        databases, "mysql", pair.database, "nokey")


# -- limits and bundles ------------------------------------------------------------------------


def test_the_row_limit_cuts_the_last_bundle_and_ends_the_run(pair, databases):
    stats = load(pair, databases, rows=100, limits={"numberOfEvents": 35, "elapsedTime": 0})
    assert stats["status"] == "EVENT_LIMIT_REACHED", stats
    assert written(stats) == 35 and stats["tables"] == [{"name": "items", "rows": 35}]
    assert pg_ids(databases, pair.database) == list(range(1, 36))


def test_a_row_limit_equal_to_the_rows_finishes(pair, databases):
    stats = load(pair, databases, rows=30, limits={"numberOfEvents": 30})
    assert stats["status"] == "FINISHED", stats
    assert written(stats) == 30


def test_the_row_limit_counts_every_table(pair, databases):
    create_source(databases, "postgresql", pair.database, "a", sample_rows(20))
    create_source(databases, "postgresql", pair.database, "b", sample_rows(20))
    body = config_body("two", pair.pg, pair.my, pair.database, tables=["a", "b"], bundle=20,
                       limits={"numberOfEvents": 20})
    _config, stats = run_config(pair.api, body)
    assert stats["status"] == "EVENT_LIMIT_REACHED", stats
    assert stats["tables"] == [{"name": "a", "rows": 20}, {"name": "b", "rows": 0}]


def test_the_time_limit_ends_a_slow_run(pair, databases):
    create_source(databases, "mysql", pair.database, "items", sample_rows(200))
    slow_target(databases, pair.database, "items", 0.02)  # 50 rows a second at most
    body = config_body("slow", pair.my, pair.pg, pair.database, tables=["items"], policy="validate_existing",
                       bundle=5, limits={"elapsedTime": 1})
    _config, stats = run_config(pair.api, body)
    assert stats["status"] == "TIME_LIMIT_REACHED", stats
    assert 0 < written(stats) < 200
    assert len(pg_ids(databases, pair.database, schema="public")) == written(stats)


def test_a_connection_used_by_a_configuration_cannot_be_deleted(pair, databases):
    create_source(databases, "mysql", pair.database, "items", sample_rows(1))
    body = config_body("uses", pair.my, pair.pg, pair.database, tables=["items"])
    created = pair.api.post("/stream-configs", json=body).json()
    for connection in (pair.my, pair.pg):
        response = pair.api.delete(f"/connections/{connection['id']}", headers=CONFIRM)
        assert response.status_code == 409
        assert response.json() == {
            "error": f"connection '{connection['id']}' is used by the stream configuration 'uses': delete them or"
                     " point them at another connection first", "code": "CONFLICT"}
    assert pair.api.delete(f"/stream-configs/{created['id']}", headers=CONFIRM).status_code == 204
    assert pair.api.delete(f"/connections/{pair.my['id']}", headers=CONFIRM).status_code == 204
    unused = pair.api.create(nested(databases.my_spec(name="unused")))
    assert pair.api.delete(f"/connections/{unused['id']}", headers=CONFIRM).status_code == 204
