"""Connection records: create, list, get, full replace, delete, clone."""

from typing import Any

from fastapi import APIRouter, Response

from dbcs_server.auth import ConnectionCaller
from dbcs_server.errors import ApiError, responses
from dbcs_server.models import CloneResult, Connection, ConnectionListItem, ConnectionSpec, Created
from dbcs_server.state import ConnectionId, SettingsDep, StoreDep
from dbcs_server.store import NameTaken

router = APIRouter(tags=["connections"], responses=responses(401, 409))

SUMMARY_FIELDS = ("id", "name", "type", "host", "port")


def present(record: dict[str, Any], secrets: bool) -> dict[str, Any]:
    """The answer for one record; without secrets, no password and no ssl.client_key."""
    shown = {k: v for k, v in record.items() if v is not None}
    if not secrets:
        shown.pop("password", None)
        if shown.get("ssl"):
            shown["ssl"] = {k: v for k, v in shown["ssl"].items() if k != "client_key"}
    return shown


def not_found(connection_id: str) -> ApiError:
    return ApiError(404, f"connection '{connection_id}' not found")


@router.post(
    "/connections",
    status_code=201,
    response_model=Connection | Created,
    response_model_exclude_none=True,
    responses=responses(400),
    summary="Create a connection",
    description="Answers the object without password (or only {id, created} with --sparse-create).",
)
def create_connection(spec: ConnectionSpec, caller: ConnectionCaller, store: StoreDep, settings: SettingsDep) -> dict:
    try:
        record = store.create(caller.owner, spec.fields())
    except NameTaken as exc:
        raise ApiError(409, str(exc)) from None
    if settings.sparse_create:
        return {"id": record["id"], "created": record["created"]}
    return present(record, secrets=False)


@router.get(
    "/connections",
    response_model=list[ConnectionListItem],
    response_model_exclude_none=True,
    summary="List the key's connections",
    description="Full objects (password included unless --hide-passwords), or summaries with --list-summary.",
)
def list_connections(caller: ConnectionCaller, store: StoreDep, settings: SettingsDep) -> list[dict]:
    if settings.list_summary:
        return [{k: r[k] for k in SUMMARY_FIELDS} for r in store.list(caller.owner, secrets=False)]
    secrets = not settings.hide_passwords
    return [present(r, secrets) for r in store.list(caller.owner, secrets=secrets)]


@router.get(
    "/connections/{id}",
    response_model=Connection,
    response_model_exclude_none=True,
    responses=responses(404),
    summary="Get one connection",
)
def get_connection(connection_id: ConnectionId, caller: ConnectionCaller, store: StoreDep, settings: SettingsDep) -> dict:
    secrets = not settings.hide_passwords
    record = store.get(caller.owner, connection_id, secrets=secrets)
    if record is None:
        raise not_found(connection_id)
    return present(record, secrets)


@router.put(
    "/connections/{id}",
    response_model=Connection,
    response_model_exclude_none=True,
    responses=responses(400, 404),
    summary="Replace a connection (every required field must be sent)",
)
def replace_connection(
    connection_id: ConnectionId, spec: ConnectionSpec, caller: ConnectionCaller, store: StoreDep
) -> dict:
    try:
        record = store.replace(caller.owner, connection_id, spec.fields())
    except NameTaken as exc:
        raise ApiError(409, str(exc)) from None
    if record is None:
        raise not_found(connection_id)
    return present(record, secrets=False)


@router.delete(
    "/connections/{id}",
    status_code=204,
    response_class=Response,
    responses=responses(404),
    summary="Delete a connection",
)
def delete_connection(connection_id: ConnectionId, caller: ConnectionCaller, store: StoreDep) -> Response:
    if not store.delete(caller.owner, connection_id):
        raise not_found(connection_id)
    return Response(status_code=204)


@router.put(
    "/connections/{id}/clone",
    response_model=CloneResult,
    response_model_exclude_none=True,
    responses=responses(404),
    summary="Copy a connection under a new id",
    description="The copy is named '<name>-copy', or '<name>-copy-2', '-copy-3'... (the first free one).",
)
def clone_connection(connection_id: ConnectionId, caller: ConnectionCaller, store: StoreDep, settings: SettingsDep) -> dict:
    result = store.clone(caller.owner, connection_id)
    if result is None:
        raise not_found(connection_id)
    if settings.sparse_create:
        return {"id": result["id"], "created": result["created"]}
    return result
