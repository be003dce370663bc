"""Loads into files and s3 targets, against real MariaDB and PostgreSQL and a real S3-compatible server
(moto_server): each file read back (csv, json, pyarrow) holds exactly the source's rows, compared by a
checksum of the rows rendered as the source database renders them (streams_helpers.checksum); the
validation of such targets; and s3 secrets kept out of answers and logs."""

import base64
import csv
import hashlib
import io
import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from server_helpers import ServerProcess
from streams_helpers import COLUMNS, Pair, checksum, config_body, create_source, run_config, sample_rows

ROWS = 500
BUNDLE = 150  # 4 bundles: 4 row groups of parquet


@pytest.fixture
def pair(api2, databases, fresh_db):
    return Pair(api2, databases, fresh_db)


def files_connection(pair: Pair, base_path: Path) -> dict[str, Any]:
    return pair.connect({"name": "files-" + secrets.token_hex(3), "type": "files",
                         "spec": {"files": {"basePath": str(base_path)}}})


def load_body(pair: Pair, source: dict, target: dict, target_spec: dict, tables=("items",), **options: Any) -> dict:
    body = config_body("to-files-" + secrets.token_hex(3), source, target, pair.database, tables=list(tables),
                       bundle=BUNDLE, **options)
    body["target"]["spec"] = target_spec
    return body


# -- reading the files back, rendered as streams_helpers.checksum renders rows in the database ----------


def render(kind: str, value: Any) -> str:
    """A value read back from a file as the source database writes it in checksum()."""
    if value is None:
        return "\\N"
    if kind == "boolean":
        return "1" if value in (True, "true") else "0"
    if kind == "timestamp":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    if kind == "date":
        return value if isinstance(value, str) else value.isoformat()
    if kind == "binary":
        return (value if isinstance(value, bytes) else base64.b64decode(value)).hex()
    if kind == "json" and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def digest(rows: list[dict[str, Any]]) -> tuple[int, str]:
    """(rows, md5 of the rows ordered by id), as checksum() computes it in the database."""
    lines = ["|".join(render(kind, row[name]) for name, kind, *_types in COLUMNS)
             for row in sorted(rows, key=lambda r: int(r["id"]))]
    return len(rows), hashlib.md5("\n".join(lines).encode("utf-8")).hexdigest()


def read_rows(data: bytes, file_format: str) -> list[dict[str, Any]]:
    if file_format == "csv":  # every field text; NULL is an unquoted empty field, "" an empty text
        names = [c[0] for c in COLUMNS]
        assert next(csv.reader(io.StringIO(data.decode("utf-8")))) == names  # the header
        table = pa_csv.read_csv(io.BytesIO(data), parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                                convert_options=pa_csv.ConvertOptions(
                                    column_types={name: pa.string() for name in names}, strings_can_be_null=True,
                                    quoted_strings_can_be_null=False, null_values=[""]))
        return table.to_pylist()
    if file_format == "jsonl":
        return [json.loads(line) for line in data.decode("utf-8").splitlines()]
    return pq.read_table(io.BytesIO(data)).to_pylist()


def finished(pair: Pair, config: dict, stats: dict, rows: int, status: str = "FINISHED") -> None:
    assert stats["status"] == status, stats
    assert stats["tables"] == [{"name": "items", "rows": rows}]
    [entry] = pair.api.get(f"/stream-configs/{config['id']}/history").json()
    assert (entry["status"], entry["rowsInserted"]) == (status, rows)


# -- files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("source_kind, file_format", [
    ("mysql", "csv"), ("mysql", "jsonl"), ("mysql", "parquet"), ("postgresql", "csv"),
])
def test_a_load_writes_one_file_per_table_holding_exactly_the_source_rows(pair, databases, tmp_path, source_kind,
                                                                          file_format):
    create_source(databases, source_kind, pair.database, "items", sample_rows(ROWS))
    target = files_connection(pair, tmp_path)
    body = load_body(pair, pair.of(source_kind), target, {"files": {"fileFormat": file_format}})
    config, stats = run_config(pair.api, body)
    finished(pair, config, stats, ROWS)
    written = tmp_path / stats["id"] / f"items.{file_format}"
    assert sorted(p.name for p in (tmp_path / stats["id"]).iterdir()) == [written.name]  # no .part left
    rows = read_rows(written.read_bytes(), file_format)
    assert digest(rows) == checksum(databases, source_kind, pair.database, "items")
    if file_format == "parquet":
        meta = pq.read_metadata(written)
        assert meta.num_row_groups == -(-ROWS // BUNDLE)  # a row group per bundle
        schema = pq.read_schema(written)
        assert {f.name: str(f.type) for f in schema} == {
            "id": "int32", "small": "int16", "big": "int64", "amount": "decimal128(14, 3)", "name": "string",
            "note": "string", "flag": "bool", "born": "date32[day]", "seen": "timestamp[us]", "doc": "string",
            "raw": "binary"}
    if file_format == "jsonl":  # JSON columns are JSON values, decimals exact strings, binary base64
        first = rows[0]
        assert first["doc"] == {"a": 1, "b": [1, "two"], "text": ""}
        assert isinstance(first["amount"], str) and isinstance(first["flag"], bool)


def test_the_row_limit_leaves_a_whole_file_of_the_rows_counted(pair, databases, tmp_path):
    create_source(databases, "mysql", pair.database, "items", sample_rows(ROWS))
    body = load_body(pair, pair.my, files_connection(pair, tmp_path), {"files": {"fileFormat": "jsonl"}},
                     limits={"numberOfEvents": 200})
    config, stats = run_config(pair.api, body)
    finished(pair, config, stats, 200, status="EVENT_LIMIT_REACHED")
    assert len(read_rows((tmp_path / stats["id"] / "items.jsonl").read_bytes(), "jsonl")) == 200


def test_a_missing_base_path_fails_the_run_saying_so(pair, databases, tmp_path):
    create_source(databases, "mysql", pair.database, "items", sample_rows(3))
    body = load_body(pair, pair.my, files_connection(pair, tmp_path / "gone"), {"files": {"fileFormat": "csv"}})
    _config, stats = run_config(pair.api, body)
    assert stats["status"] == "FAILED"
    assert stats["errorMessage"] == f"basePath {tmp_path / 'gone'} does not exist"
    assert not (tmp_path / "gone").exists()


# -- s3 ------------------------------------------------------------------------------------------


def test_a_load_to_s3_uploads_a_parquet_file_per_table(pair, databases, s3):
    create_source(databases, "mysql", pair.database, "items", sample_rows(ROWS))
    target = pair.connect(s3.connection(scope={"bucket": s3.bucket, "prefix": "lake"}))
    body = load_body(pair, pair.my, target, {"s3": {"outputDirectory": "exports/nightly", "fileFormat": "parquet"}})
    config, stats = run_config(pair.api, body)
    finished(pair, config, stats, ROWS)
    key = f"lake/exports/nightly/{stats['id']}/items.parquet"
    data = s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    assert digest(read_rows(data, "parquet")) == checksum(databases, "mysql", pair.database, "items")
    assert pq.read_metadata(io.BytesIO(data)).num_row_groups == -(-ROWS // BUNDLE)


# -- validation ----------------------------------------------------------------------------------


def refused(pair: Pair, body: dict, error: str, field: str, value: Any = None) -> None:
    response = pair.api.post("/stream-configs", json=body)
    assert response.status_code == 400, response.text
    details = {"field": field, **({"value": value} if value is not None else {})}
    assert response.json() == {"error": error, "code": "VALIDATION_ERROR", "details": details}


def test_files_and_s3_targets_are_validated(pair, databases, tmp_path, s3):
    create_source(databases, "mysql", pair.database, "items", sample_rows(1))
    files = files_connection(pair, tmp_path)
    bucketless = pair.connect(s3.connection(scope={}))
    cases = [
        (files, {"files": {}}, "target.spec.files.fileFormat is required", "target.spec.files.fileFormat", None),
        (files, {"files": {"fileFormat": "xml"}},
         "target.spec.files.fileFormat must be one of 'csv', 'jsonl' or 'parquet'", "target.spec.files.fileFormat",
         "xml"),
        (files, {"files": {"fileFormat": "csv", "schema": "sales"}}, "unknown field 'target.spec.files.schema'",
         "target.spec.files.schema", "sales"),
        (files, {"s3": {"fileFormat": "csv"}}, "a files target takes target.spec.files, not target.spec.s3",
         "target.spec", None),
        (pair.my, {"files": {"fileFormat": "csv"}}, "a mysql target takes target.spec.db, not target.spec.files",
         "target.spec", None),
        (bucketless, {"s3": {"fileFormat": "csv"}},
         f"target.spec.s3.upload.bucket is required: connection '{bucketless['name']}' has no scope.bucket",
         "target.spec.s3", None),
    ]
    for target, spec, error, field, value in cases:
        refused(pair, load_body(pair, pair.my, target, spec), error, field, value)
    # ... and a bucket in the target's upload is enough.
    body = load_body(pair, pair.my, bucketless, {"s3": {"fileFormat": "csv", "upload": {"bucket": s3.bucket}}})
    assert pair.api.post("/stream-configs", json=body).status_code == 201
    # Files and s3 connections are targets only.
    for source in (files, bucketless):
        refused(pair, load_body(pair, source, pair.pg, {"db": {"database": pair.database}}),
                f"a {source['name'].split('-')[0]} connection cannot be a stream source: the local server reads from"
                " mysql and postgresql", "source.connections.0.connectionId")


# -- secrets -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hidden_debug(tmp_path_factory):
    """--hide-passwords, and every logger at DEBUG (botocore's would print request headers)."""
    proc = ServerProcess(tmp_path_factory.mktemp("hidden-debug"), key_count=4, api_version=2,
                         args=["--hide-passwords", "--log-level", "debug"])
    proc.start()
    yield proc
    proc.stop()


def test_s3_secrets_stay_out_of_answers_and_logs(hidden_debug, databases, fresh_db, s3):
    api = hidden_debug.api(session=False)
    token = secrets.token_hex(6)
    hidden = ["s3-secret-" + token, "s3-session-" + token]
    pair = Pair(api, databases, fresh_db)
    create_source(databases, "mysql", fresh_db, "items", sample_rows(3))
    answers = []
    for credentials in ({"secretKey": hidden[0], "sessionToken": hidden[1]}, {"sessionToken": hidden[1]}):
        body = s3.connection(**credentials)
        target = pair.connect(body)
        answers += [api.post(f"/connections/{target['id']}/ping"), api.post("/connections/test", json=body),
                    api.get(f"/connections/{target['id']}"), api.get("/connections")]
        config, stats = run_config(api, load_body(pair, pair.my, target, {"s3": {"fileFormat": "csv"}}))
        assert stats["status"] == "FAILED", stats  # moto refuses the made-up session token
        assert stats["errorMessage"].startswith(f"the upload to s3://{s3.bucket}/{stats['id']}/items.csv failed: ")
        answers += [api.get(f"/streams/{stats['id']}/stats"), api.get(f"/stream-configs/{config['id']}/history")]
    assert all(a.status_code in (200, 503) for a in answers)
    assert answers[3].json()["items"][-1]["spec"]["s3"]["credentials"] == {"accessKey": s3.access_key}
    logged = hidden_debug.request_log.read_text() + hidden_debug.stderr()
    assert "DEBUG" in logged
    for secret in hidden + [s3.secret_key]:
        for answer in answers:
            assert secret not in answer.text
        assert secret not in logged
