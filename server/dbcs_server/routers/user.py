"""The key owner: key validation and the session start every v1 client makes once per run."""

from typing import Any

from fastapi import APIRouter, Request

from dbcs_server.models import UserConfigs
from dbcs_server.state import StoreDep
from dbcs_server.wire import Dialect


def build(dialect: Dialect) -> APIRouter:
    router = APIRouter(tags=["user"], responses=dialect.responses(401))
    Caller = dialect.Caller  # pylint: disable=invalid-name

    @router.get("/user", response_model=dialect.user_info, summary="Validate an API key")
    def get_user(caller: Caller) -> Any:
        return dialect.show_user(caller)

    @router.get("/user/configs", response_model=UserConfigs,
                summary="Start a session: load the key's configurations (2.x: served, not needed)")
    def get_configs(request: Request, caller: Caller, store: StoreDep) -> dict:
        request.app.state.sessions.add(caller.owner)
        return {"connections": store.count(caller.owner), "streams": []}

    return router
