"""Tables as a load sees them, and the column types a target table gets.

A source describes each column by its declared type (as the source database writes it), its
base type name and modifiers. Between databases of the same kind the declared type is kept
(numeric(12,2) stays numeric(12,2)); between MySQL and PostgreSQL it is mapped by the tables
below. Primary keys are kept; a text or binary key column gets a bounded type on MySQL, which
cannot index unbounded ones. Defaults, indexes other than the key, and constraints are not copied.

| MySQL / MariaDB                     | PostgreSQL                   | back to MySQL           |
|-------------------------------------|------------------------------|-------------------------|
| tinyint(1)                          | boolean                      | tinyint(1)              |
| tinyint, smallint                   | smallint                     | smallint                |
| mediumint, int                      | integer                      | int                     |
| bigint                              | bigint                       | bigint                  |
| unsigned: smallint/int/bigint       | integer/bigint/numeric(20,0) |                         |
| decimal(p,s)                        | numeric(p,s)                 | decimal(p,s)            |
| float, double                       | real, double precision       | float, double           |
| char(n), varchar(n)                 | char(n), varchar(n)          | char(n), varchar(n)     |
| *text, enum, set                    | text                         | longtext                |
| json (MariaDB: longtext json_valid) | jsonb                        | json                    |
| binary, varbinary, *blob            | bytea                        | longblob                |
| date, time(p), datetime(p)          | date, time(p), timestamp(p)  | date, time(p), datetime(p) |
| timestamp(p)                        | timestamptz(p)               | datetime(p), in UTC     |
| year                                | smallint                     | smallint                |
| uuid (MariaDB)                      | uuid                         | char(36)                |
"""

from dataclasses import dataclass

MYSQL = "mysql"
POSTGRESQL = "postgresql"
KEY_TEXT_MYSQL = "varchar(768)"  # InnoDB indexes at most 3072 bytes: 768 utf8mb4 characters
KEY_BINARY_MYSQL = "varbinary(3072)"
MYSQL_VARCHAR_MAX = 16383  # utf8mb4 characters in a row of 65535 bytes


class Unmappable(Exception):
    """A column whose type the local server cannot carry to the target's kind."""


@dataclass(frozen=True)
class Column:
    name: str
    declared: str  # as the source writes it: numeric(12,2), int(10) unsigned, timestamp(3) with time zone
    base: str  # lowercase, no modifiers: numeric, int, timestamptz, varchar, longtext
    nullable: bool = True
    length: int | None = None  # characters (char, varchar)
    precision: int | None = None  # digits (numeric) or fractional second digits (time types)
    scale: int | None = None
    unsigned: bool = False
    json: bool = False  # MariaDB's JSON is longtext with a json_valid() check


@dataclass(frozen=True)
class TableDef:
    name: str  # as the configuration names it
    schema: str | None  # PostgreSQL source: the schema it is in
    table: str  # its own name: the target table's name
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # primary key columns, in key order


def _fraction(column: Column, default: int) -> str:
    return f"({column.precision if column.precision is not None and column.precision >= 0 else default})"


def mysql_to_postgresql(column: Column) -> str:
    base, unsigned = column.base, column.unsigned
    if column.json or base == "json":
        return "jsonb"
    if base == "tinyint":
        return "boolean" if column.declared.lower().startswith("tinyint(1)") and not unsigned else "smallint"
    integers = {"smallint": ("smallint", "integer"), "mediumint": ("integer", "integer"), "int": ("integer", "bigint"),
                "bigint": ("bigint", "numeric(20,0)")}
    if base in integers:
        return integers[base][unsigned]
    if base == "decimal":
        return f"numeric({column.precision},{column.scale})"
    simple = {"float": "real", "double": "double precision", "date": "date", "year": "smallint", "uuid": "uuid",
              "tinytext": "text", "text": "text", "mediumtext": "text", "longtext": "text", "enum": "text",
              "set": "text", "binary": "bytea", "varbinary": "bytea", "tinyblob": "bytea", "blob": "bytea",
              "mediumblob": "bytea", "longblob": "bytea"}
    if base in simple:
        return simple[base]
    if base in ("char", "varchar"):
        return f"{base}({column.length})"
    if base == "time":
        return "time" + _fraction(column, 0)
    if base == "datetime":
        return "timestamp" + _fraction(column, 0)
    if base == "timestamp":
        return "timestamptz" + _fraction(column, 0)
    raise Unmappable(f"column '{column.name}' has the type {column.declared}, which the local server cannot map"
                     " to postgresql")


def postgresql_to_mysql(column: Column, in_key: bool) -> str:
    base = column.base
    simple = {"int2": "smallint", "int4": "int", "int8": "bigint", "float4": "float", "float8": "double",
              "bool": "tinyint(1)", "date": "date", "uuid": "char(36)", "json": "json", "jsonb": "json"}
    if base in simple:
        return simple[base]
    if base == "numeric":
        return f"decimal({column.precision},{column.scale})" if column.precision else "decimal(65,30)"
    if base == "bpchar" and column.length and column.length <= 255:
        return f"char({column.length})"
    if base == "varchar" and column.length and column.length <= MYSQL_VARCHAR_MAX:
        return f"varchar({column.length})"
    if base in ("text", "varchar", "bpchar"):
        return KEY_TEXT_MYSQL if in_key else "longtext"
    if base == "bytea":
        return KEY_BINARY_MYSQL if in_key else "longblob"
    if base in ("timestamp", "timestamptz"):
        return "datetime" + _fraction(column, 6)
    if base == "time":
        return "time" + _fraction(column, 6)
    raise Unmappable(f"column '{column.name}' has the type {column.declared}, which the local server cannot map"
                     " to mysql")


def target_type(column: Column, source_kind: str, target_kind: str, in_key: bool) -> str:
    """The column's type in a target table of `target_kind`."""
    if source_kind == target_kind:
        return "json" if column.json else column.declared
    if target_kind == POSTGRESQL:
        return mysql_to_postgresql(column)
    return postgresql_to_mysql(column, in_key)
