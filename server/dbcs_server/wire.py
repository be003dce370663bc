"""The two wire formats of one stored record: v1 (flat fields) and 2.x (spec.<kind> nested).

A Dialect turns request bodies into the neutral Record (record.py) and records into answer
bodies, names the models the routes declare, and shapes lists, database listings and errors.
The routes are declared once (routers/), for a Dialect; create_app picks one per process.
Secrets are named by path in kinds.py: an answer without secrets is the record with those
paths taken out, whatever the kind.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from dbcs_server import models
from dbcs_server.auth import Caller, caller_dependency, connection_caller_dependency
from dbcs_server.drivers import DatabaseEntry
from dbcs_server.errors import ApiError, responses
from dbcs_server.kinds import KINDS, V1_KINDS
from dbcs_server.record import Record, pop_paths
from dbcs_server.settings import Settings

CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
CONFIRM_DELETE = "X-Confirm-Delete"


def prune(value: Any) -> Any:
    """Drop unset members (None, and objects left empty) at every depth."""
    if isinstance(value, dict):
        pruned = {k: prune(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in pruned.items() if v != {}}
    return value


def without_secrets(record: Record) -> Record:
    document, _secrets = pop_paths(record.document(), KINDS[record.type].secret_paths)
    return Record.from_document(document, name=record.name, type=record.type, id=record.id, created=record.created)


@dataclass(frozen=True)
class ListQuery:
    search: str | None = None


class Dialect:
    """What both dialects share; the subclasses hold what differs."""

    version: int
    kinds: tuple[str, ...]
    connection_in: type[BaseModel]  # full replace (PUT)
    connection_create: type[BaseModel]  # create (POST)
    connection: type[BaseModel]  # one stored connection (GET)
    connection_list: Any  # the list answer
    created: Any  # the create answer
    clone_result = models.CloneResult
    database_info: type[BaseModel]
    error_body: type[BaseModel]
    user_info: type[BaseModel]
    cors_headers: tuple[str, ...]
    install_id: bool  # X-Install-ID is checked on every authenticated route
    delete_openapi: dict[str, Any] | None = None

    def __init__(self, settings: Settings):
        self.settings = settings
        caller = caller_dependency(self.install_id)
        self.Caller = Annotated[Caller, Depends(caller)]  # pylint: disable=invalid-name
        self.ConnectionCaller = Annotated[Caller, Depends(connection_caller_dependency(caller))]  # pylint: disable=invalid-name

    def responses(self, *statuses: int, **kwargs: Any) -> dict[int | str, dict[str, Any]]:
        return responses(self.error_body, *statuses, **kwargs)

    # -- connections -----------------------------------------------------------------------

    def record(self, body: Any) -> Record:
        raise NotImplementedError

    def body(self, record: Record) -> dict[str, Any]:
        raise NotImplementedError

    def show(self, record: Record) -> dict[str, Any]:
        """A read answer: secrets included unless --hide-passwords (the record was read accordingly)."""
        return self.body(record if not self.settings.hide_passwords else without_secrets(record))

    def show_written(self, record: Record) -> dict[str, Any]:
        """The object a write answers with: never a secret."""
        return self.body(without_secrets(record))

    def show_created(self, record: Record) -> dict[str, Any]:
        return {"id": record.id, "created": record.created}

    def show_clone(self, result: dict[str, Any]) -> dict[str, Any]:
        return result

    def show_list(self, records: list[Record], query: ListQuery) -> Any:
        raise NotImplementedError

    def show_user(self, caller: Caller) -> dict[str, Any]:
        return {"apiKey": caller.key}

    @staticmethod
    def list_query() -> ListQuery:
        return ListQuery()

    @staticmethod
    def confirm_delete() -> None:
        return None

    # -- databases and errors -------------------------------------------------------------

    def show_databases(self, entries: list[DatabaseEntry]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def error(self, status: int, message: str, code: str | None = None,
              details: dict[str, Any] | None = None) -> dict[str, Any]:
        raise NotImplementedError


class V1(Dialect):
    """The documented v1 API: flat fields, bare lists, {"error"} only."""

    version = 1
    kinds = V1_KINDS
    connection_in = models.ConnectionV1In
    connection_create = models.ConnectionV1In
    connection = models.ConnectionV1
    connection_list = list[models.ConnectionV1ListItem]
    created = models.ConnectionV1 | models.Created
    database_info = models.DatabaseInfoV1
    error_body = models.ErrorBody
    user_info = models.UserInfo
    cors_headers = ("Content-Type", "X-API-Key")
    install_id = False
    SUMMARY = ("id", "name", "type", "host", "port")

    def record(self, body: models.ConnectionV1In) -> Record:
        spec = {"host": body.host, "port": body.port, "username": body.username, "password": body.password,
                "database": body.database or None}
        return Record(
            name=body.name, type=body.type, spec=prune(spec),
            ssl=body.ssl.model_dump(exclude_none=True) if body.ssl else None, schema=body.schema_,
        )

    def body(self, record: Record) -> dict[str, Any]:
        spec = record.spec
        return prune({
            "id": record.id, "name": record.name, "type": record.type, "host": spec["host"], "port": spec["port"],
            "username": spec["username"], "password": spec.get("password"), "database": spec.get("database", ""),
            "schema": record.schema, "created": record.created, "ssl": record.ssl,
        })

    def show_created(self, record: Record) -> dict[str, Any]:
        return super().show_created(record) if self.settings.sparse_create else self.show_written(record)

    def show_clone(self, result: dict[str, Any]) -> dict[str, Any]:
        return {k: result[k] for k in ("id", "created")} if self.settings.sparse_create else result

    def show_list(self, records: list[Record], query: ListQuery) -> list[dict[str, Any]]:
        if self.settings.list_summary:
            return [{k: v for k, v in self.body(r).items() if k in self.SUMMARY} for r in records]
        return [self.show(r) for r in records]

    def show_databases(self, entries: list[DatabaseEntry]) -> list[dict[str, Any]]:
        shown = []
        for entry in entries:
            if entry.system or not entry.readable:
                continue
            item: dict[str, Any] = {"name": entry.name}
            if entry.schemas is not None:
                item["schemas"] = [s.name for s in entry.schemas if not s.system]
            shown.append(item)
        return shown

    def error(self, status: int, message: str, code: str | None = None,
              details: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"error": message}


def _search(search: str | None = Query(
    None, description="Keep the connections whose name or host contains this text (case-insensitive)",
)) -> ListQuery:
    return ListQuery(search=search)


def _confirm_delete(request: Request) -> None:
    if request.headers.get(CONFIRM_DELETE) != "true":
        raise ApiError(
            400, f"deleting needs the header {CONFIRM_DELETE}: true (nothing was deleted)", code="CONFIRMATION_REQUIRED"
        )


class V2(Dialect):
    """The 2.x API: spec.<kind> nested, list envelope, install id, confirmed deletes, coded errors."""

    version = 2
    kinds = tuple(KINDS)
    connection_in = models.ConnectionV2In
    connection_create = models.ConnectionV2Create
    connection = models.ConnectionV2
    connection_list = models.ConnectionListV2
    created = models.Created
    database_info = models.DatabaseInfoV2
    error_body = models.ErrorBodyV2
    user_info = models.UserInfoV2
    cors_headers = ("Content-Type", "X-API-Key", "X-Install-ID", CONFIRM_DELETE, "Idempotency-Key")
    install_id = True
    delete_openapi = {"parameters": [{
        "name": CONFIRM_DELETE, "in": "header", "required": True, "schema": {"type": "string", "enum": ["true"]},
        "description": "Must be 'true': without it the answer is 400 CONFIRMATION_REQUIRED and nothing is deleted",
    }]}
    list_query = staticmethod(_search)
    confirm_delete = staticmethod(_confirm_delete)

    def record(self, body: models.ConnectionV2In) -> Record:
        _key, fields = body.spec.member()
        return Record(
            name=body.name or "", type=body.type, spec=prune(fields.model_dump(by_alias=True)),
            ssl=body.ssl.model_dump(exclude_none=True) if body.ssl else None,
        )

    def body(self, record: Record) -> dict[str, Any]:
        return prune({
            "id": record.id, "name": record.name, "type": record.type, "created": record.created,
            "spec": {KINDS[record.type].spec_key: record.spec}, "ssl": record.ssl,
        })

    def show_user(self, caller: Caller) -> dict[str, Any]:
        # The local server has one kind of user: every key is its own, with nothing to pay.
        return {
            **super().show_user(caller), "userID": "user_" + caller.owner[:16], "email": "",
            "name": "dbcs-server user", "subscriptionStatus": "active",
            "subscription": {"id": 0, "name": "local", "monthly_price": 0, "yearly_price": 0, "interval": "month",
                             "status": "active"},
        }

    def show_list(self, records: list[Record], query: ListQuery) -> dict[str, Any]:
        kept = [r for r in records if matches(r, query.search)]
        return {"items": [self.show(r) for r in kept], "total": len(records), "filtered": len(kept)}

    def show_databases(self, entries: list[DatabaseEntry]) -> list[dict[str, Any]]:
        def flagged(name: str, system: str | None) -> dict[str, Any]:
            return prune({"name": name, "isSystem": system is not None, "systemReason": system})

        return [
            {**flagged(entry.name, entry.system), "schemas": [flagged(s.name, s.system) for s in entry.schemas or []]}
            for entry in entries
        ]

    def error(self, status: int, message: str, code: str | None = None,
              details: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"error": message, "code": code or CODES.get(status, "ERROR")}
        if details:
            body["details"] = details
        return body


def matches(record: Record, search: str | None) -> bool:
    """?search=: the text in the name, or in one of the kind's search fields (host), in any case."""
    if not search:
        return True
    wanted = search.casefold()
    values = [record.name] + [str(record.spec.get(field, "")) for field in KINDS[record.type].search]
    return any(wanted in value.casefold() for value in values)


def dialect_for(settings: Settings) -> Dialect:
    return {1: V1, 2: V2}[settings.api_version](settings)
