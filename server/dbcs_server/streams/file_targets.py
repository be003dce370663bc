"""Where a load writes files: a directory of a files connection, or a bucket of an s3 connection.

A run writes one file per table, `<table>.<fileFormat>`, in a directory of its own (the stream
id): `<basePath>/<stream id>/` on the server's disk, or `[<prefix>/][<outputDirectory>/]<stream id>/`
in the bucket. Table names are percent-encoded where they hold characters other than letters,
digits, `-`, `_`, `.` and `~` (a `/` never makes a directory). The engine (engine.py) calls these
classes through the target interface of streams/endpoints.py; every table is new to them, so
schemaPolicy and writeMode have nothing to decide.

Each bundle is written as it comes, so memory does not grow with the table:
  csv      a header of the column names, then one line per row (\n); every value quoted, NULL an empty
           unquoted field (pyarrow's CSV reader with quoted_strings_can_be_null=False, or Python 3.13's
           csv.QUOTE_NOTNULL, reads it back as null; "" is an empty text)
  jsonl    one JSON object per row, keys in column order; values JSON-safe (below)
  parquet  one row group per bundle (pyarrow's ParquetWriter), typed columns (below)

A local file is written as `<name>.part` and renamed when the table is complete; an s3 target
writes the same file to a private temporary directory and uploads it (boto3's managed transfer,
multipart for large files) when the table is complete, then removes it. So a file or object with
its final name always holds a whole table: the rows the run counted for it.

| source value                      | csv and jsonl                                  | parquet                        |
|-----------------------------------|------------------------------------------------|--------------------------------|
| integers                          | digits (jsonl: numbers)                        | int16/int32/int64, decimal for unsigned bigint |
| booleans (MySQL tinyint(1))       | true / false                                   | bool                           |
| decimal / numeric                 | digits as text (exact; jsonl: strings)         | decimal128/256(p, s); string without precision |
| float, double                     | numbers (jsonl: NaN and infinities as strings) | float32 / float64              |
| text, char, enum, set, uuid       | text                                           | string                         |
| json, jsonb                       | the JSON text (jsonl: the JSON value itself)   | string (the JSON text)         |
| binary, blob, bytea               | base64                                         | binary                         |
| date                              | YYYY-MM-DD                                     | date32                         |
| datetime, timestamp               | ISO 8601 (YYYY-MM-DDTHH:MM:SS[.ffffff][+00:00]) | timestamp[us] (UTC for MySQL timestamp, timestamptz) |
| time                              | HH:MM:SS[.ffffff] (MySQL: may be negative or past 24 h) | time64[us]; MySQL: duration[us] |
| anything else                     | its text                                       | string                         |
"""

import base64
import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
from boto3.exceptions import S3UploadFailedError

from dbcs_server.streams.types import MYSQL, Column, TableDef, is_boolean

EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}
JSON_BASES = ("json", "jsonb")
TEXT_CONVERTERS: dict[type, Callable[[Any], str]] = {
    Decimal: str,
    datetime: datetime.isoformat,
    date: date.isoformat,
    time: time.isoformat,
}


class FileTargetError(Exception):
    """A table cannot be written as a file (its name, the storage)."""


def file_name(table: str, file_format: str) -> str:
    name = quote(table, safe="")
    if name in (".", ".."):
        raise FileTargetError(f"table '{table}' cannot be written as a file: its name is {name!r}")
    return f"{name}.{EXTENSIONS[file_format]}"


def mysql_time(value: timedelta) -> str:
    """A MySQL TIME as MySQL writes it: [-]HH:MM:SS[.ffffff], hours past 24 allowed."""
    sign = "-" if value < timedelta(0) else ""
    micros = abs(value) // timedelta(microseconds=1)
    seconds, fraction = divmod(micros, 1_000_000)
    text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return text + (f".{fraction:06d}" if fraction else "")


def plain(column: Column, value: Any) -> Any:
    """The value as JSON has it (None, bool, int, float, str, or a parsed JSON value for JSON columns)."""
    if value is None or isinstance(value, str) and not (column.json or column.base in JSON_BASES):
        return value
    if is_boolean(column):
        return bool(value)
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, timedelta):
        return mysql_time(value)
    if isinstance(value, str):  # a JSON column's text
        try:
            return json.loads(value)
        except ValueError:
            return value
    convert = next((f for t, f in TEXT_CONVERTERS.items() if isinstance(value, t)), str)
    return convert(value)


def text(column: Column, value: Any) -> str | None:
    """The value as a csv field: None for NULL."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    found = plain(column, value)
    if isinstance(found, bool):
        return "true" if found else "false"
    return found if isinstance(found, str) else json.dumps(found)


# -- parquet types ------------------------------------------------------------------------

def _decimal(column: Column) -> pa.DataType | None:
    if not column.precision:
        return None
    return (pa.decimal128 if column.precision <= 38 else pa.decimal256)(column.precision, column.scale or 0)


def arrow_type(column: Column, source_kind: str) -> pa.DataType:
    """The parquet column type of a source column (string when nothing closer fits)."""
    base = column.base
    if is_boolean(column):
        return pa.bool_()
    if column.json or base in JSON_BASES:
        return pa.string()
    integers = {"tinyint": pa.int16(), "smallint": pa.int32() if column.unsigned else pa.int16(),
                "mediumint": pa.int32(), "int": pa.int64() if column.unsigned else pa.int32(),
                "bigint": pa.decimal128(20, 0) if column.unsigned else pa.int64(), "year": pa.int16(),
                "int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64()}
    if base in integers:
        return integers[base]
    if base in ("decimal", "numeric"):
        return _decimal(column) or pa.string()
    simple = {"float": pa.float32(), "float4": pa.float32(), "double": pa.float64(), "float8": pa.float64(),
              "date": pa.date32(), "binary": pa.binary(), "varbinary": pa.binary(), "tinyblob": pa.binary(),
              "blob": pa.binary(), "mediumblob": pa.binary(), "longblob": pa.binary(), "bytea": pa.binary()}
    if base in simple:
        return simple[base]
    if base == "datetime" or (base == "timestamp" and source_kind != MYSQL):
        return pa.timestamp("us")
    if base in ("timestamp", "timestamptz"):  # MySQL timestamp: a moment, read in UTC
        return pa.timestamp("us", tz="UTC")
    if base == "time":
        return pa.duration("us") if source_kind == MYSQL else pa.time64("us")
    return pa.string()


def arrow_values(column: Column, kind: pa.DataType, values: list[Any]) -> pa.Array:
    if pa.types.is_string(kind):
        values = [v if v is None or isinstance(v, str) else text(column, v) for v in values]
    elif pa.types.is_boolean(kind):
        values = [None if v is None else bool(v) for v in values]
    elif pa.types.is_decimal(kind):
        values = [None if v is None else Decimal(v) for v in values]
    elif pa.types.is_binary(kind):
        values = [None if v is None else bytes(v) for v in values]
    return pa.array(values, type=kind)


# -- writers ------------------------------------------------------------------------------

class CsvWriter:
    def __init__(self, out: io.BufferedWriter, table: TableDef):
        self.out = io.TextIOWrapper(out, encoding="utf-8", newline="")
        self.csv = csv.writer(self.out, quoting=csv.QUOTE_NOTNULL, lineterminator="\n")
        self.columns = table.columns
        self.csv.writerow([c.name for c in table.columns])

    def write(self, rows: list[tuple]) -> None:
        columns = self.columns
        self.csv.writerows([text(c, v) for c, v in zip(columns, row)] for row in rows)

    def close(self) -> None:
        self.out.close()


class JsonlWriter:
    def __init__(self, out: io.BufferedWriter, table: TableDef):
        self.out = io.TextIOWrapper(out, encoding="utf-8", newline="\n")
        self.columns = table.columns

    def write(self, rows: list[tuple]) -> None:
        columns = self.columns
        self.out.writelines(
            json.dumps({c.name: plain(c, v) for c, v in zip(columns, row)}, ensure_ascii=False, allow_nan=False) + "\n"
            for row in rows)

    def close(self) -> None:
        self.out.close()


class ParquetWriter:
    def __init__(self, out: io.BufferedWriter, table: TableDef, types: list[pa.DataType]):
        self.out = out
        self.columns = table.columns
        self.schema = pa.schema([pa.field(c.name, t, nullable=c.nullable) for c, t in zip(table.columns, types)])
        self.parquet = pq.ParquetWriter(out, self.schema)

    def write(self, rows: list[tuple]) -> None:
        arrays = [arrow_values(c, field.type, [row[i] for row in rows])
                  for i, (c, field) in enumerate(zip(self.columns, self.schema))]
        self.parquet.write_batch(pa.record_batch(arrays, schema=self.schema))

    def close(self) -> None:
        self.parquet.close()
        self.out.close()


def format_writer(file_format: str, out: io.BufferedWriter, table: TableDef, types: list[pa.DataType]) -> Any:
    if file_format == "parquet":
        return ParquetWriter(out, table, types)
    return (CsvWriter if file_format == "csv" else JsonlWriter)(out, table)


class TableFile:
    """The writer of one table's file: write(rows), then close() makes the file whole (renamed or uploaded)."""

    def __init__(self, target: "FileTarget", table: TableDef):
        self.target = target
        self.name = file_name(table.table, target.file_format)
        self.path = os.path.join(target.workdir, self.name + ".part")
        self.writer = format_writer(target.file_format, open(self.path, "wb"),  # pylint: disable=consider-using-with
                                    table, target.types[table.table])
        self.closed = False
        self.broken = False

    def write(self, rows: list[tuple]) -> None:
        self.broken = True  # until the bundle is all written: a file with part of a bundle is never published
        self.writer.write(rows)
        self.broken = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()
            if self.broken:
                os.unlink(self.path)
            else:
                self.target.publish(self.path, self.name)


class FileTarget:
    """A run's target directory: the base class writes on the server's disk (files connections)."""

    kind = "files"

    def __init__(self, directory: str, file_format: str):
        self.directory = directory
        self.workdir = directory
        self.file_format = file_format
        self.types: dict[str, list[pa.DataType]] = {}

    # The engine's target interface: every table is new, in a directory of the run's own.
    def exists(self, table: str) -> bool:
        return False

    def column_names(self, table: str) -> list[str]:
        return []

    def has_rows(self, table: str) -> bool:
        return False

    def drop(self, table: str) -> None:
        return None

    def truncate(self, table: str) -> None:
        return None

    def column_types(self, table: TableDef, source_kind: str) -> list[pa.DataType]:
        return [arrow_type(c, source_kind) for c in table.columns]

    def prepare_schema(self) -> None:
        os.makedirs(self.workdir, exist_ok=True)

    def create(self, table: TableDef, types: list[pa.DataType]) -> None:
        file_name(table.table, self.file_format)  # refuse a name that is no file name before any data moves
        self.types[table.table] = types

    def writer(self, table: TableDef, upsert: bool) -> TableFile:
        return TableFile(self, table)

    def publish(self, path: str, name: str) -> None:
        """The table's file is complete: give it its name."""
        os.replace(path, os.path.join(self.directory, name))

    def interrupt(self) -> None:
        return None  # local writes do not block

    def close(self) -> None:
        """Remove what an unfinished table left (its .part file)."""
        if os.path.isdir(self.workdir):
            for entry in os.listdir(self.workdir):
                if entry.endswith(".part"):
                    os.unlink(os.path.join(self.workdir, entry))


class S3FileTarget(FileTarget):
    """A run's files written to a private temporary directory, each uploaded once its table is complete."""

    kind = "s3"

    def __init__(self, client: Any, bucket: str, key_prefix: str, file_format: str, transfer: Any = None):
        super().__init__(key_prefix, file_format)
        self.client = client
        self.bucket = bucket
        self.transfer = transfer
        self.workdir = tempfile.mkdtemp(prefix="dbcs-s3-")

    def publish(self, path: str, name: str) -> None:
        key = f"{self.directory}/{name}"
        try:
            self.client.upload_file(path, self.bucket, key, Config=self.transfer)
        except S3UploadFailedError as exc:  # its text names the local file: the store's own error instead
            cause = exc.__context__ or exc
            raise FileTargetError(f"the upload to s3://{self.bucket}/{key} failed: {cause}") from None
        finally:
            os.unlink(path)

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
