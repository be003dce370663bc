"""The one auth check: X-API-Key, compared in constant time with every configured key, and on
2.x also X-Install-ID, equal to the install id of the data directory.

A caller is identified in storage by sha256(key) (its `owner`), never by the key itself. The
dependency differs per dialect only in what the OpenAPI document declares (2.x: both headers).
"""

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from dbcs_server.errors import ApiError

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKeyAuth",
    description="One of the keys given with --api-key or DBCS_API_KEYS",
)
install_id_header = APIKeyHeader(
    name="X-Install-ID",
    auto_error=False,
    scheme_name="InstallIdAuth",
    description="The installId that GET /system/defaults answers (2.x)",
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
    """Raise 401 unless the request carries a configured key (and, on 2.x, the install id)."""
    state = request.app.state
    presented = request.headers.get("x-api-key")
    if not match_key(presented, state.api_keys):
        raise ApiError(401, "missing or invalid API key (send it in the X-API-Key header)")
    if state.install_id is not None and not match_key(request.headers.get("x-install-id"), (state.install_id.encode(),)):
        raise ApiError(
            401, "missing or wrong X-Install-ID header: send the installId that GET /system/defaults answers",
            code="INSTALL_ID_REQUIRED",
        )
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


def caller_dependency(install_id: bool) -> Any:
    """The dependency every authenticated route takes, declaring the headers it checks."""
    if install_id:
        async def caller(request: Request, _key: Annotated[str | None, Security(api_key_header)] = None,
                         _install_id: Annotated[str | None, Security(install_id_header)] = None) -> Caller:
            return authenticate(request)
    else:
        async def caller(request: Request, _key: Annotated[str | None, Security(api_key_header)] = None) -> Caller:
            return authenticate(request)
    return caller


def connection_caller_dependency(caller: Any) -> Any:
    async def connection_caller(request: Request, who: Annotated[Caller, Depends(caller)]) -> Caller:
        require_session(request, who)
        return who

    return connection_caller
