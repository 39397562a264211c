"""Operations endpoints: health and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from authward.metrics import exposition
from authward.web.auth import runtime_of
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


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus text format."""
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
