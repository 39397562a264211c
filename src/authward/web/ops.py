"""Operations endpoints: health and metrics."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.models import HTTPBearer
from fastapi.responses import JSONResponse, Response
from fastapi.security.base import SecurityBase
from prometheus_client import CONTENT_TYPE_LATEST

from authward.errors import NotAuthenticated
from authward.metrics import exposition
from authward.web.auth import runtime_of
from authward.web.errors import http_exception
from authward.web.schemas import HealthOut

router = APIRouter()


@router.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def healthz(request: Request) -> JSONResponse:
    """200 when every store answers; 503 naming the one that does not.

    Also states the bounds on propagation between nodes (and workers) while it is 200.
    """
    runtime = runtime_of(request)
    stores = await runtime.health()
    healthy = all(stores.values())
    body = HealthOut(
        status="ok" if healthy else "unavailable",
        stores={name: "ok" if up else "down" for name, up in stores.items()},
        **runtime.staleness(),
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


class MetricsToken(SecurityBase):
    """The check of ``AUTHWARD_METRICS_TOKEN``, and its scheme in the OpenAPI document."""

    def __init__(self) -> None:
        self.model = HTTPBearer(description="AUTHWARD_METRICS_TOKEN, when it is set.")
        self.scheme_name = "metricsToken"

    async def __call__(self, request: Request) -> None:
        require_metrics_token(request)


def require_metrics_token(request: Request) -> None:
    """Refuse (401) a request without ``AUTHWARD_METRICS_TOKEN`` as its bearer token, if set."""
    expected = runtime_of(request).settings.metrics_token
    if expected is None:
        return
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    # Digests first: equal lengths, so the comparison's time tells nothing of the token's.
    matches = hmac.compare_digest(
        hashlib.sha256(presented.strip().encode()).digest(),
        hashlib.sha256(expected.get_secret_value().encode()).digest(),
    )
    if scheme.lower() != "bearer" or not matches:
        raise http_exception(NotAuthenticated(), bearer=True)


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(MetricsToken())],
    responses={401: {"description": "AUTHWARD_METRICS_TOKEN is set and was not presented."}},
)
async def metrics() -> Response:
    """Prometheus text format; with ``AUTHWARD_METRICS_TOKEN`` set, for its bearer only."""
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
