"""The contract of stream configurations and runs (2.x): request and answer bodies.

A configuration's fields are declared once, in StreamConfigBase: the request model adds the
members clients may send back and the server ignores (id, created, updated) and refuses any
other unknown field; the answer model adds what the server sets. Runs have answer models only.
Numbers are whole JSON numbers (5 and 5.0; never "5" or true), as the JSON Schema says.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from dbcs_server.models import IGNORED_FIELD, Name, NonEmpty, OptionalText

ACTIVE = ("READY", "RUNNING", "PAUSED")
TERMINAL = ("FINISHED", "STOPPED", "FAILED", "TIME_LIMIT_REACHED", "EVENT_LIMIT_REACHED")
RunStatus = Literal["READY", "RUNNING", "PAUSED", "FINISHED", "STOPPED", "FAILED", "TIME_LIMIT_REACHED",
                    "EVENT_LIMIT_REACHED"]
Mode = Literal["load", "cdc", "convert"]
SchemaPolicy = Literal["fail_if_exists", "validate_existing", "create_missing_only", "drop_and_recreate"]
WriteMode = Literal["fail_if_not_empty", "append", "truncate_and_load", "upsert"]
DEFAULT_SCHEMA_POLICY = "create_missing_only"
DEFAULT_WRITE_MODE = "append"
DEFAULT_BUNDLE_SIZE = 1000
MAX_BUNDLE_SIZE = 100_000
DEFAULT_REPORTING_INTERVAL = 3
CONFIG_ID_PATTERN = "^config_[0-9A-Za-z]{27}$"
STREAM_ID_PATTERN = "^stream_[0-9A-Za-z]{27}$"


def _whole(minimum: int, maximum: int | None = None):
    def check(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise PydanticCustomError("whole_number", "must be a whole number")
        if value < minimum or (maximum is not None and value > maximum):
            limit = f"between {minimum} and {maximum}" if maximum is not None else f"{minimum} or more"
            raise PydanticCustomError("whole_number_range", f"must be {limit}")
        return value

    return check


def Whole(minimum: int, maximum: int | None = None, description: str = "") -> Any:  # pylint: disable=invalid-name
    """An optional whole number in [minimum, maximum] (JSON Schema: an integer)."""
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return Annotated[
        int | None, BeforeValidator(lambda v: None if v is None else _whole(minimum, maximum)(v)),
        WithJsonSchema({"anyOf": [schema, {"type": "null"}], "description": description}, mode="validation"),
    ]


TableName = Annotated[str, Field(min_length=1, max_length=255)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TableRef(Strict):
    name: Annotated[NonEmpty, Field(max_length=255, description=(
        "A table of the source database; PostgreSQL: 'table' in the source schema (default public)"
        " or 'schema.table'"))]


class SourceConnection(Strict):
    connectionId: NonEmpty = Field(description="A mysql or postgresql connection of the same API key")
    database: OptionalText = Field(None, description="Default: the connection's database")
    schema_: OptionalText = Field(None, alias="schema", description="PostgreSQL only: where the tables are")
    tables: list[TableRef] | None = Field(None, description="None or empty: every table of the database (schema)")


class SourceOptions(Strict):
    dataBundleSize: Whole(1, MAX_BUNDLE_SIZE, f"Rows per bundle (default {DEFAULT_BUNDLE_SIZE})") = None


class SourceConfig(Strict):
    connections: list[SourceConnection] = Field(min_length=1)
    options: SourceOptions | None = None


class DatabaseTarget(Strict):
    database: NonEmpty
    schema_: OptionalText = Field(None, alias="schema", description="PostgreSQL only (default public)")
    schemaPolicy: SchemaPolicy | None = Field(None, description=f"Default {DEFAULT_SCHEMA_POLICY}")
    writeMode: WriteMode | None = Field(None, description=f"Default {DEFAULT_WRITE_MODE}; upsert needs a primary key")


class TargetSpec(Strict):
    db: DatabaseTarget


class TargetConfig(Strict):
    id: NonEmpty = Field(description="A mysql or postgresql connection of the same API key")
    spec: TargetSpec


class Limits(Strict):
    numberOfEvents: Whole(0, description="Rows to copy at most, over all tables; 0: no limit") = None
    elapsedTime: Whole(0, description="Seconds of running at most (pauses do not count); 0: no limit") = None


class StreamConfigBase(BaseModel):
    """A stream configuration's fields."""

    model_config = ConfigDict(populate_by_name=True)

    name: Name
    mode: Mode = Field(description="load (copy once), cdc (follow changes: stored, not run by this server);"
                                   " convert is what older clients send for load, kept as sent")
    description: OptionalText = None
    source: SourceConfig
    target: TargetConfig
    limits: Limits | None = None
    reportingInterval: Whole(1, 3600, "Seconds between stat events of a run (default 3)") = None


class StreamConfigIn(StreamConfigBase):
    """A configuration as sent on create and full replace."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: Any = IGNORED_FIELD
    created: Any = IGNORED_FIELD
    updated: Any = IGNORED_FIELD

    def document(self) -> dict[str, Any]:
        """The fields the store keeps (all but the identity), unset ones left out."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude={"id", "created", "updated", "name"})


class StreamConfig(StreamConfigBase):
    id: str = Field(description="config_ + a 27-character KSUID", examples=["config_2sZyDMeIbdaXnN9OL7vYzzAiZU5"])
    created: int = Field(description="Unix seconds")
    updated: int = Field(description="Unix seconds of the last create or PUT. A local-server stand-in: the vendor's"
                                     " server may not send it")


class StreamConfigList(BaseModel):
    items: list[StreamConfig]
    total: int = Field(description="How many configurations the key owns")
    filtered: int = Field(description="How many of them ?search= kept (before limit and offset)")
    search: str | None = None
    limit: int | None = None
    offset: int | None = None


class StreamStarted(BaseModel):
    id: str = Field(description="The new run: stream_ + a 27-character KSUID")


class StreamRun(BaseModel):
    id: str
    configId: str
    status: RunStatus
    created: int = Field(description="Unix seconds")
    finished: int | None = Field(None, description="Unix seconds; once the run has ended")


class RunState(BaseModel):
    """The answer to pause, resume and stop."""

    id: str
    status: RunStatus


class NodeStat(BaseModel):
    counter: int = Field(description="Rows read (source) or written (target)")
    bytes: int = Field(description="An estimate: the text size of the values of sampled rows, scaled")
    status: RunStatus


class Node(BaseModel):
    id: str
    type: Literal["source", "target"]
    stat: NodeStat


class TableRows(BaseModel):
    name: str
    rows: int = Field(description="Rows written to the target")


class StreamStats(BaseModel):
    id: str
    configId: str
    status: RunStatus
    nodes: list[Node]
    tables: list[TableRows]
    errorMessage: str | None = Field(None, description="Why a FAILED run failed (a local-server stand-in)")


class HistoryEntry(BaseModel):
    id: str = Field(description="run_ + the KSUID of the run's stream id")
    configId: str
    streamId: str
    timestamp: int = Field(description="Unix seconds: when the run started")
    durationMs: int
    status: RunStatus
    rowsInserted: int
    dataSize: str | None = Field(None, description="As the vendor's client shows sizes, e.g. '1.20 MB'")
    errorMessage: str | None = None
