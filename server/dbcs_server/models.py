"""The contract: request and answer bodies of both dialects of the Connection API, v1 and 2.x.

Each concept has one base model holding the fields its request and answer models share; a
request model adds what only clients send (and refuses unknown fields), an answer model what
only the server sets. The per-kind models of 2.x's `spec.<kind>` are keyed by the spec keys of
kinds.py. Which dialect uses which model is wire.py's business.
"""

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, WithJsonSchema, model_validator,
)
from pydantic_core import PydanticCustomError

from dbcs_server.kinds import KINDS, SPEC_KEYS, V1_KINDS, kinds_with_spec

SSLMode = Literal["disabled", "require", "verify-ca", "verify-full"]
BASE64_PATTERN = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
IGNORED = "Ignored: accepted because the vendor's web client sends it back"
IGNORED_FIELD = Field(None, description=IGNORED, json_schema_extra={"readOnly": True})


def any_case(names: Iterable[str]) -> str:
    """A JSON Schema pattern matching one of the names in any case ('mysql' also as 'MySQL')."""
    def chars(name: str) -> str:
        return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in name)

    return "^(" + "|".join(chars(name) for name in names) + ")$"


def _unicode(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("unicode", "must be valid Unicode text") from None
    return value


def _type_of(names: tuple[str, ...]):
    expected = " or ".join(f"'{name}'" for name in names) if len(names) < 3 else (
        ", ".join(f"'{name}'" for name in names[:-1]) + f" or '{names[-1]}'"
    )

    def check(value: Any) -> str:
        if isinstance(value, str) and value.lower() in names:
            return value.lower()
        raise PydanticCustomError("connection_type", f"must be {expected} (any case)")

    return check


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


def _unset_if_empty(value: Any) -> Any:
    return None if value == "" else value


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise PydanticCustomError("absolute_path", "must be an absolute path (starting with /)")
    return value


def _type_field(names: tuple[str, ...], description: str):
    return Annotated[
        Literal[names],  # type: ignore[valid-type]
        BeforeValidator(_type_of(names)),
        WithJsonSchema({"type": "string", "pattern": any_case(names), "description": description}, mode="validation"),
    ]


Text = Annotated[str, AfterValidator(_unicode)]
NonEmpty = Annotated[str, Field(min_length=1), AfterValidator(_unicode)]
Name = Annotated[
    str, Field(min_length=1, max_length=255, description="Unique per API key; exact, case-sensitive"),
    AfterValidator(_unicode),
]
OptionalText = Annotated[
    Text | None, BeforeValidator(_unset_if_empty), Field(description="Empty or null means not set (left out of answers)")
]
Secret = Annotated[Text, Field(description="Required; may be empty. Left out of answers with --hide-passwords")]
Base64Pem = Annotated[
    Text | None,
    AfterValidator(_base64),
    Field(description="Base64 of the PEM file contents; empty or null means none"),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": BASE64_PATTERN}, {"type": "null"}]}, mode="validation"),
]
PortIn = Annotated[
    int,
    BeforeValidator(_port),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 65535}, mode="validation"),
]
TypeV1 = _type_field(V1_KINDS, "mysql or postgresql, in any case; stored lowercase")
TypeV2 = _type_field(tuple(KINDS), f"{', '.join(KINDS)}, in any case; stored lowercase")
AbsolutePath = Annotated[
    str, Field(min_length=1, description="An absolute path on the server", json_schema_extra={"pattern": "^/"}),
    AfterValidator(_unicode),
    AfterValidator(_absolute),
]


# -- pieces both dialects share ------------------------------------------------------------


class SSLConfig(BaseModel):
    """TLS settings for the database connection (top level in both dialects)."""

    model_config = ConfigDict(extra="forbid")

    mode: SSLMode
    ca: Base64Pem = None
    client_cert: Base64Pem = None
    client_key: Base64Pem = Field(None, description="A secret: left out of write answers and with --hide-passwords")


class IgnoredFields(BaseModel):
    """Members the vendor's web client sends back; accepted and dropped."""

    # readOnly: the server sets or ignores them (and fuzzers do not take a sent id for the new one's)
    id: Any = IGNORED_FIELD
    created: Any = IGNORED_FIELD
    databasesInfo: Any = IGNORED_FIELD
    status: Any = IGNORED_FIELD
    cloud_provider: Any = IGNORED_FIELD


class Created(BaseModel):
    """The answer to a create: the new connection's id and creation time."""

    id: str = Field(description="conn_ + a 27-character KSUID", examples=["conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5"])
    created: int = Field(description="Unix seconds")


class CloneResult(Created):
    name: str | None = Field(None, description="The copy's name: <name>-copy, then <name>-copy-2, ...")


class PingResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ping: Literal["ok", "failed"]
    error: str | None = None


class Success(BaseModel):
    status: Literal["success"]


class Health(BaseModel):
    status: Literal["ok"]


class UserInfo(BaseModel):
    apiKey: str


class UserConfigs(BaseModel):
    connections: int = Field(description="How many connections this key owns")
    streams: list[Any] = Field(default_factory=list)


class ErrorBody(BaseModel):
    """Every error answer of v1: {"error": "<text>"}, and no other member."""

    # additionalProperties: false in the document, so that conformance checks hold answers to the exact shape.
    model_config = ConfigDict(extra="forbid")

    error: str


# -- v1: flat fields -----------------------------------------------------------------------


class ConnectionV1Base(BaseModel):
    """A v1 connection's fields."""

    name: Name
    type: TypeV1
    host: NonEmpty
    port: PortIn
    username: NonEmpty
    password: str | None = Field(None, description="Only in GET answers, and not with --hide-passwords")
    database: Text = Field(description="Required; may be empty for mysql only")
    schema_: Text | None = Field(None, alias="schema", description="PostgreSQL only; empty or null means none")
    ssl: SSLConfig | None = None


class ConnectionV1In(ConnectionV1Base, IgnoredFields):
    """A connection as sent on create (POST) and full replace (PUT): every required field, every time."""

    # The per-type rules as JSON Schema, so that fuzzers generate what the server accepts.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"properties": {"type": {"pattern": any_case(["postgresql"])}, "database": {"minLength": 1}}},
                {
                    "properties": {
                        "type": {"pattern": any_case(["mysql"])},
                        "schema": {"anyOf": [{"type": "null"}, {"const": ""}]},
                    }
                },
            ]
        },
    )

    password: Secret

    @model_validator(mode="after")
    def _per_type_rules(self) -> "ConnectionV1In":
        if self.schema_ == "":
            self.schema_ = None
        if self.type == "postgresql" and self.database == "":
            raise PydanticCustomError("database", "database must not be empty for postgresql connections")
        if self.type == "mysql" and self.schema_ is not None:
            raise PydanticCustomError("schema", "schema is only supported for postgresql connections")
        return self


class ConnectionV1(ConnectionV1Base):
    """A stored connection. `password` (and ssl.client_key) only in GET answers, unless hidden."""

    id: str = Field(description="conn_ + a 27-character KSUID", examples=["conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5"])
    created: int = Field(description="Unix seconds")


class ConnectionV1ListItem(BaseModel):
    """A full connection (default) or, with --list-summary, only id, name, type, host and port."""

    id: str
    name: str
    type: TypeV1
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    database: str | None = None
    schema_: str | None = Field(None, alias="schema")
    created: int | None = None
    ssl: SSLConfig | None = None


class DatabaseInfoV1(BaseModel):
    name: str
    schemas: list[str] | None = Field(None, description="PostgreSQL only")


# -- 2.x: spec.<kind> ----------------------------------------------------------------------


class DatabaseSpecBase(BaseModel):
    """spec.database of a mysql or postgresql connection."""

    host: NonEmpty
    port: PortIn
    username: NonEmpty
    password: str | None = Field(None, description="Left out of write answers and with --hide-passwords")
    database: OptionalText = Field(None, description="The default database; empty or null means none")


class DatabaseSpecIn(DatabaseSpecBase):
    model_config = ConfigDict(extra="forbid")

    password: Secret


class DatabaseSpec(DatabaseSpecBase):
    pass


class FilesSpec(BaseModel):
    """spec.files: a directory on the server."""

    model_config = ConfigDict(extra="forbid")

    basePath: AbsolutePath


class S3Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accessKey: OptionalText = None
    secretKey: OptionalText = Field(None, description="A secret: left out of write answers and with --hide-passwords")
    sessionToken: OptionalText = Field(None, description="A secret: left out of write answers and with --hide-passwords")


class S3Scope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: OptionalText = None
    prefix: OptionalText = None


class S3Spec(BaseModel):
    """spec.s3: an S3 or S3-compatible object store (credentials and scope optional)."""

    model_config = ConfigDict(extra="forbid")

    region: NonEmpty
    credentials: S3Credentials | None = None
    endpoint: OptionalText = Field(None, description="For S3-compatible services")
    scope: S3Scope | None = None


class SnowflakeSpecBase(BaseModel):
    """spec.snowflake."""

    account: NonEmpty
    username: NonEmpty
    password: str | None = Field(None, description="Left out of write answers and with --hide-passwords")
    database: OptionalText = None
    schema_: OptionalText = Field(None, alias="schema")
    warehouse: OptionalText = None
    role: OptionalText = None


class SnowflakeSpecIn(SnowflakeSpecBase):
    model_config = ConfigDict(extra="forbid")

    password: Secret


class SnowflakeSpec(SnowflakeSpecBase):
    pass


def one_member_schema(schema: dict[str, Any]) -> None:
    """The members are objects, never null (the Python None default only means 'not this one')."""
    for member in schema["properties"].values():
        choices = member.pop("anyOf")
        member.update(next(choice for choice in choices if choice.get("type") != "null"))
    schema.update({"minProperties": 1, "maxProperties": 1})


class OneMember(BaseModel):
    """Exactly one member, an object: which one says the kind (its fields are optional, default None)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=one_member_schema)

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if isinstance(data, dict) and (len(data) != 1 or not isinstance(next(iter(data.values())), (dict, BaseModel))):
            raise PydanticCustomError("one_member", f"must hold exactly one of {', '.join(cls.model_fields)}, as an object")
        return data

    def member(self) -> tuple[str, BaseModel]:
        """The key and value of the one member."""
        return next((key, value) for key in type(self).model_fields if (value := getattr(self, key)) is not None)


class SpecIn(OneMember):
    """Exactly one member: the kind's fields."""

    database: DatabaseSpecIn | None = None
    files: FilesSpec | None = None
    s3: S3Spec | None = None
    snowflake: SnowflakeSpecIn | None = None


class Spec(BaseModel):
    """One member: the kind's fields."""

    database: DatabaseSpec | None = None
    files: FilesSpec | None = None
    s3: S3Spec | None = None
    snowflake: SnowflakeSpec | None = None


assert set(SpecIn.model_fields) == set(Spec.model_fields) == set(SPEC_KEYS), "a spec model per kinds.py spec key"


class ConnectionV2Base(BaseModel):
    """A 2.x connection's fields besides spec."""

    name: Name
    type: TypeV2
    ssl: SSLConfig | None = Field(None, description="TLS for mysql and postgresql (kept for every kind)")


FLAT_FIELDS = ("host", "port", "username", "password")


def _spec_rules(flat: bool) -> dict[str, Any]:
    """The type <-> spec member rule (and the flat form's) as JSON Schema, for fuzzers."""
    branches: list[dict[str, Any]] = [
        {
            **({"required": ["spec"]} if flat else {}),
            "properties": {
                "type": {"pattern": any_case(kinds_with_spec(key))},
                "spec": {"type": "object", "required": [key]},
            },
        }
        for key in SPEC_KEYS
    ]
    if flat:
        branches.append({
            "required": list(FLAT_FIELDS),
            "properties": {
                "type": {"pattern": any_case(kinds_with_spec("database"))},
                "spec": {"type": "null"},
                **{field: {"type": "integer" if field == "port" else "string"} for field in FLAT_FIELDS},
            },
        })
    return {"anyOf": branches}


def _refuse_schema(data: Any) -> Any:
    if isinstance(data, dict) and "schema" in data:
        raise PydanticCustomError(
            "schema",
            "schema is not a connection field in this API (2.x): name the schema where it is used"
            " (a stream's target, ?schemas= of the tables route)",
        )
    return data


class ConnectionV2In(ConnectionV2Base, IgnoredFields):
    """A connection as sent on full replace (PUT): the nested form, every required field."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_spec_rules(flat=False))

    spec: SpecIn

    @model_validator(mode="before")
    @classmethod
    def _no_schema(cls, data: Any) -> Any:
        return _refuse_schema(data)

    def resolved_spec(self) -> SpecIn:
        return self.spec

    @model_validator(mode="after")
    def _type_matches_spec(self) -> "ConnectionV2In":
        self.spec = self.resolved_spec()
        key, _fields = self.spec.member()
        wanted = KINDS[self.type].spec_key
        if key != wanted:
            raise PydanticCustomError("spec", f"type '{self.type}' needs spec.{wanted}, not spec.{key}")
        return self


class ConnectionV2Create(ConnectionV2In):
    """A connection as sent on create: the nested form, or the flat form of the vendor's docs
    (host, port, username, password, defaultDatabase at the top level; mysql and postgresql only).
    When both are sent, spec wins."""

    model_config = ConfigDict(json_schema_extra=_spec_rules(flat=True))

    spec: SpecIn | None = None  # type: ignore[assignment]
    host: NonEmpty | None = Field(None, description="Flat form (when spec is not sent)")
    port: PortIn | None = Field(None, description="Flat form (when spec is not sent)")
    username: NonEmpty | None = Field(None, description="Flat form (when spec is not sent)")
    password: Text | None = Field(None, description="Flat form (when spec is not sent)")
    defaultDatabase: OptionalText = Field(None, description="Flat form (when spec is not sent): spec.database.database")

    def resolved_spec(self) -> SpecIn:
        if self.spec is not None:
            return self.spec
        if KINDS[self.type].spec_key != "database":
            raise PydanticCustomError("spec", f"spec is required for type '{self.type}' (spec.{KINDS[self.type].spec_key})")
        missing = [field for field in FLAT_FIELDS if getattr(self, field) is None]
        if missing:
            raise PydanticCustomError(
                "spec", "spec is required, or the flat form's host, port, username and password at the top level"
                f" (missing: {', '.join(missing)})",
            )
        return SpecIn(database=DatabaseSpecIn(
            host=self.host, port=self.port, username=self.username, password=self.password,
            database=self.defaultDatabase,
        ))


class ConnectionV2Test(ConnectionV2Create):
    """An unsaved connection to test (POST /connections/test): a create body, name optional."""

    name: Name | None = None  # type: ignore[assignment]


class ConnectionV2(ConnectionV2Base):
    """A stored connection. Secrets only in GET answers, unless hidden."""

    id: str = Field(description="conn_ + a 27-character KSUID", examples=["conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5"])
    created: int = Field(description="Unix seconds")
    spec: Spec


class ConnectionListV2(BaseModel):
    items: list[ConnectionV2]
    total: int = Field(description="How many connections the key owns")
    filtered: int = Field(description="How many of them ?search= kept (= len(items))")


class SchemaInfoV2(BaseModel):
    name: str
    isSystem: bool
    systemReason: str | None = Field(None, description="Why it counts as a system object")


class DatabaseInfoV2(SchemaInfoV2):
    schemas: list[SchemaInfoV2] = Field(description="Empty for mysql, and for a database the user cannot connect to")


class Subscription(BaseModel):
    id: int
    name: str
    monthly_price: float
    yearly_price: float
    interval: Literal["month", "year"]
    status: str


class UserInfoV2(UserInfo):
    userID: str
    email: str
    name: str
    subscription: Subscription
    subscriptionStatus: str


class SystemDefaults(BaseModel):
    installId: str = Field(description="Send it as X-Install-ID with every authenticated request")
    mode: Literal["server"]
    defaultExportPath: str


class Ready(BaseModel):
    status: Literal["ready"]


class ServiceStatus(BaseModel):
    name: str
    status: Literal["passing", "critical", "unknown", "initializing"]


class ServicesStatus(BaseModel):
    services: list[ServiceStatus]


SqlCaptureMode = Literal["off", "minimal", "verbose"]


class SqlLoggingIn(BaseModel):
    """Either or both settings."""

    model_config = ConfigDict(extra="forbid")

    sqlCaptureMode: SqlCaptureMode | None = None
    forwardSQLLogs: StrictBool | None = None


class SqlLogging(BaseModel):
    sqlCaptureMode: SqlCaptureMode
    forwardSQLLogs: bool


class ErrorDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    value: Any = Field(None, description="The value refused (never a secret's)")


class ErrorBodyV2(ErrorBody):
    """Every error answer of 2.x: {"error": "<text>", "code": "<CODE>", "details"?: {"field", "value"}}."""

    code: str | None = Field(None, examples=["INSTALL_ID_REQUIRED"])
    details: ErrorDetails | None = None
