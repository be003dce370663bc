"""The key owner: key validation and the session start every client makes once per run."""

from fastapi import APIRouter, Request

from dbcs_server.auth import ApiKey
from dbcs_server.errors import responses
from dbcs_server.models import UserConfigs, UserInfo
from dbcs_server.state import StoreDep

router = APIRouter(tags=["user"], responses=responses(401))


@router.get("/user", response_model=UserInfo, summary="Validate an API key")
def get_user(caller: ApiKey) -> dict:
    return {"apiKey": caller.key}


@router.get("/user/configs", response_model=UserConfigs, summary="Start a session: load the key's configurations")
def get_configs(request: Request, caller: ApiKey, store: StoreDep) -> dict:
    request.app.state.sessions.add(caller.owner)
    return {"connections": store.count(caller.owner), "streams": []}
