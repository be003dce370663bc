"""The one auth dependency: X-API-Key, compared in constant time with every configured key.

A caller is identified in storage by sha256(key) (its `owner`), never by the key itself.
"""

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from dbcs_server.errors import ApiError

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKeyAuth",
    description="One of the keys given with --api-key or DBCS_API_KEYS",
)


@dataclass(frozen=True)
class Caller:
    key: str
    owner: str


def owner_of(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def match_key(presented: str | None, keys: tuple[bytes, ...]) -> bool:
    if not presented:
        return False
    candidate = presented.encode("utf-8", "surrogateescape")
    found = False
    for key in keys:  # no early exit: the time taken does not depend on which key matched
        found |= hmac.compare_digest(candidate, key)
    return found


def authenticate(request: Request) -> Caller:
    """Raise 401 unless the request carries a configured key."""
    presented = request.headers.get("x-api-key")
    if not match_key(presented, request.app.state.api_keys):
        raise ApiError(401, "missing or invalid API key (send it in the X-API-Key header)")
    return Caller(key=presented, owner=owner_of(presented))


def require_session(request: Request, caller: Caller) -> None:
    """With --strict-configs, connection routes need a prior GET /user/configs by this key."""
    if request.app.state.settings.strict_configs and caller.owner not in request.app.state.sessions:
        raise ApiError(409, "call /user/configs first")


def precheck(request: Request) -> None:
    """The checks the route's dependencies would make, for errors raised before they run."""
    caller = authenticate(request)
    if request.url.path.startswith("/api/v1/connections"):
        require_session(request, caller)


async def api_key(request: Request, _header: Annotated[str | None, Security(api_key_header)] = None) -> Caller:
    return authenticate(request)


async def connection_caller(request: Request, caller: Annotated[Caller, Depends(api_key)]) -> Caller:
    require_session(request, caller)
    return caller


ApiKey = Annotated[Caller, Depends(api_key)]
ConnectionCaller = Annotated[Caller, Depends(connection_caller)]
