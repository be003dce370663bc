"""The contract: request and response bodies of the Connection API (shared/API.md)."""

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

ConnectionType = Literal["mysql", "postgresql"]
SSLMode = Literal["disabled", "require", "verify-ca", "verify-full"]

MYSQL_PATTERN = "^[Mm][Yy][Ss][Qq][Ll]$"
POSTGRESQL_PATTERN = "^[Pp][Oo][Ss][Tt][Gg][Rr][Ee][Ss][Qq][Ll]$"
TYPE_PATTERN = "^([Mm][Yy][Ss][Qq][Ll]|[Pp][Oo][Ss][Tt][Gg][Rr][Ee][Ss][Qq][Ll])$"
BASE64_PATTERN = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
IGNORED = "Ignored: accepted because the vendor's web client sends it back"


def _unicode(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("unicode", "must be valid Unicode text") from None
    return value


def _connection_type(value: Any) -> str:
    if isinstance(value, str) and value.lower() in ("mysql", "postgresql"):
        return value.lower()
    raise PydanticCustomError("connection_type", "must be 'mysql' or 'postgresql' (any case)")


def _port(value: Any) -> int:
    # JSON Schema counts 5432.0 as an integer; booleans and strings are not.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise PydanticCustomError("port", "must be an integer between 1 and 65535")
    return value


def _base64(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PydanticCustomError("base64", "must be base64 (of the PEM file contents, no line breaks)") from None
    return value


Text = Annotated[str, AfterValidator(_unicode)]
Base64Pem = Annotated[
    Text | None,
    AfterValidator(_base64),
    Field(description="Base64 of the PEM file contents; empty or null means none"),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": BASE64_PATTERN}, {"type": "null"}]}, mode="validation"),
]
TypeIn = Annotated[
    ConnectionType,
    BeforeValidator(_connection_type),
    WithJsonSchema(
        {"type": "string", "pattern": TYPE_PATTERN, "description": "mysql or postgresql, in any case; stored lowercase"},
        mode="validation",
    ),
]
PortIn = Annotated[
    int,
    BeforeValidator(_port),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 65535}, mode="validation"),
]


class SSLConfig(BaseModel):
    """TLS settings for the database connection."""

    model_config = ConfigDict(extra="forbid")

    mode: SSLMode
    ca: Base64Pem = None
    client_cert: Base64Pem = None
    client_key: Base64Pem = None


class ConnectionSpec(BaseModel):
    """A connection as sent on create (POST) and full replace (PUT): every required field, every time."""

    # The per-type rules as JSON Schema, so that fuzzers generate what the server accepts.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"properties": {"type": {"pattern": POSTGRESQL_PATTERN}, "database": {"minLength": 1}}},
                {
                    "properties": {
                        "type": {"pattern": MYSQL_PATTERN},
                        "schema": {"anyOf": [{"type": "null"}, {"const": ""}]},
                    }
                },
            ]
        },
    )

    name: Text = Field(min_length=1, max_length=255, description="Unique per API key; exact, case-sensitive")
    type: TypeIn
    host: Text = Field(min_length=1)
    port: PortIn
    username: Text = Field(min_length=1)
    password: Text = Field(description="Required; may be empty")
    database: Text = Field(description="Required; may be empty for mysql only")
    schema_: Text | None = Field(None, alias="schema", description="PostgreSQL only; empty or null means none")
    ssl: SSLConfig | None = None

    id: Any = Field(None, description=IGNORED)
    created: Any = Field(None, description=IGNORED)
    databasesInfo: Any = Field(None, description=IGNORED)
    status: Any = Field(None, description=IGNORED)
    cloud_provider: Any = Field(None, description=IGNORED)

    @model_validator(mode="after")
    def _per_type_rules(self) -> "ConnectionSpec":
        if self.schema_ == "":
            self.schema_ = None
        if self.type == "postgresql" and self.database == "":
            raise PydanticCustomError("database", "database must not be empty for postgresql connections")
        if self.type == "mysql" and self.schema_ is not None:
            raise PydanticCustomError("schema", "schema is only supported for postgresql connections")
        return self

    def fields(self) -> dict[str, Any]:
        """The stored fields, without the ignored ones."""
        return {
            "name": self.name,
            "type": self.type,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "database": self.database,
            "schema": self.schema_,
            "ssl": self.ssl.model_dump(exclude_none=True) if self.ssl else None,
        }


class SSLInfo(BaseModel):
    mode: SSLMode
    ca: str | None = None
    client_cert: str | None = None
    client_key: str | None = Field(None, description="Left out when passwords are hidden and in write responses")


class ConnectionSummary(BaseModel):
    id: str = Field(description="conn_ + a 27-character KSUID", examples=["conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5"])
    name: str
    type: ConnectionType
    host: str
    port: int


class Connection(ConnectionSummary):
    """A stored connection. `password` (and ssl.client_key) only in GET answers, unless hidden."""

    username: str
    password: str | None = Field(None, description="Only in GET answers, and not with --hide-passwords")
    database: str
    schema_: str | None = Field(None, alias="schema")
    created: int = Field(description="Unix seconds")
    ssl: SSLInfo | None = None


class ConnectionListItem(ConnectionSummary):
    """A full connection (default) or, with --list-summary, only id, name, type, host and port."""

    username: str | None = None
    password: str | None = None
    database: str | None = None
    schema_: str | None = Field(None, alias="schema")
    created: int | None = None
    ssl: SSLInfo | None = None


class Created(BaseModel):
    """The sparse create answer (--sparse-create), as the vendor's v1 server gives it."""

    id: str
    created: int


class CloneResult(BaseModel):
    id: str
    created: int
    name: str | None = Field(None, description="The copy's name: <name>-copy, then <name>-copy-2, ...")


class PingResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ping: Literal["ok", "failed"]
    error: str | None = None


class DatabaseInfo(BaseModel):
    name: str
    schemas: list[str] | None = Field(None, description="PostgreSQL only")


class SchemaCreated(BaseModel):
    status: Literal["success"]


class Health(BaseModel):
    status: Literal["ok"]


class UserInfo(BaseModel):
    apiKey: str


class UserConfigs(BaseModel):
    connections: int = Field(description="How many connections this key owns")
    streams: list[Any] = Field(default_factory=list)
