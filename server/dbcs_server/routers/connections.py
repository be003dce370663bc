"""Connection records: create, list, get, full replace, delete, clone (both dialects)."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from dbcs_server.errors import ApiError
from dbcs_server.state import ConnectionId, SettingsDep, StoreDep, not_found
from dbcs_server.store import ConnectionInUse, NameTaken
from dbcs_server.wire import Dialect, ListQuery


def storing(write: Callable[..., Any], *args: Any) -> Any:
    """A store write; a name the key already uses, or a connection a stream configuration uses, is 409."""
    try:
        return write(*args)
    except (NameTaken, ConnectionInUse) as exc:
        raise ApiError(409, str(exc)) from None


def build(dialect: Dialect) -> APIRouter:
    router = APIRouter(tags=["connections"], responses=dialect.responses(401, 409))
    Caller = dialect.ConnectionCaller  # pylint: disable=invalid-name
    Body = dialect.connection_create  # pylint: disable=invalid-name
    FullBody = dialect.connection_in  # pylint: disable=invalid-name

    @router.post(
        "/connections",
        status_code=201,
        response_model=dialect.created,
        response_model_exclude_none=True,
        responses=dialect.responses(400),
        summary="Create a connection",
        description="v1: answers the object without secrets (or only {id, created} with --sparse-create);"
        " 2.x: {id, created}. 2.x takes the nested form or the flat form (spec wins when both are sent).",
    )
    def create_connection(body: Body, caller: Caller, store: StoreDep) -> Any:  # type: ignore[valid-type]
        return dialect.show_created(storing(store.create, caller.owner, dialect.record(body)))

    @router.get(
        "/connections",
        response_model=dialect.connection_list,
        response_model_exclude_none=True,
        summary="List the key's connections",
        description="Full objects (secrets included unless --hide-passwords); v1 --list-summary: summaries;"
        " 2.x: {items, total, filtered}.",
    )
    def list_connections(caller: Caller, store: StoreDep, settings: SettingsDep,
                         query: Annotated[ListQuery, Depends(dialect.list_query)]) -> Any:
        records = store.list(caller.owner, secrets=not settings.hide_passwords)
        return dialect.show_list(records, query)

    @router.get(
        "/connections/{id}",
        response_model=dialect.connection,
        response_model_exclude_none=True,
        responses=dialect.responses(404),
        summary="Get one connection",
    )
    def get_connection(connection_id: ConnectionId, caller: Caller, store: StoreDep, settings: SettingsDep) -> Any:
        record = store.get(caller.owner, connection_id, secrets=not settings.hide_passwords)
        if record is None:
            raise not_found(connection_id)
        return dialect.show(record)

    @router.put(
        "/connections/{id}",
        response_model=dialect.connection,
        response_model_exclude_none=True,
        responses=dialect.responses(400, 404),
        summary="Replace a connection (every required field must be sent)",
    )
    def replace_connection(connection_id: ConnectionId, body: FullBody, caller: Caller,  # type: ignore[valid-type]
                           store: StoreDep) -> Any:
        record = storing(store.replace, caller.owner, connection_id, dialect.record(body))
        if record is None:
            raise not_found(connection_id)
        return dialect.show_written(record)

    @router.delete(
        "/connections/{id}",
        status_code=204,
        response_class=Response,
        responses=dialect.responses(400, 404) if dialect.delete_openapi else dialect.responses(404),
        openapi_extra=dialect.delete_openapi,
        summary="Delete a connection",
        description="409 while a stream configuration uses it (the answer names the configurations).",
    )
    def delete_connection(connection_id: ConnectionId, caller: Caller, store: StoreDep,
                          _confirmed: Annotated[None, Depends(dialect.confirm_delete)]) -> Response:
        if not storing(store.delete, caller.owner, connection_id):
            raise not_found(connection_id)
        return Response(status_code=204)

    @router.put(
        "/connections/{id}/clone",
        response_model=dialect.clone_result,
        response_model_exclude_none=True,
        responses=dialect.responses(404),
        summary="Copy a connection under a new id",
        description="The copy is named '<name>-copy', or '<name>-copy-2', '-copy-3'... (the first free one).",
    )
    def clone_connection(connection_id: ConnectionId, caller: Caller, store: StoreDep) -> Any:
        result = store.clone(caller.owner, connection_id)
        if result is None:
            raise not_found(connection_id)
        return dialect.show_clone(result)

    return router
