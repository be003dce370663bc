"""Liveness, without auth (load balancers and clients check it before they log in)."""

from fastapi import APIRouter

from dbcs_server.models import Health
from dbcs_server.wire import Dialect


def build(dialect: Dialect) -> APIRouter:  # pylint: disable=unused-argument
    router = APIRouter(tags=["service"])

    @router.get("/health", response_model=Health, summary="Liveness check (no API key needed)")
    def health() -> dict:
        return {"status": "ok"}

    return router
