"""The authward service as an ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from authward.runtime import Runtime, build_runtime
from authward.settings import Settings, load_settings
from authward.web import api, ops, pages, token_api
from authward.web.errors import install_error_handlers
from authward.web.headers import SecurityHeaders
from authward.web.limits import RequestLimits


def create_app(runtime: Runtime, *, open_runtime: bool = True) -> FastAPI:
    """Build the app around `runtime`; its lifespan opens and closes the runtime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if open_runtime:
            await runtime.open()
        try:
            yield
        finally:
            if open_runtime:
                await runtime.close()

    app = FastAPI(
        title="authward",
        version="0.1.0",
        summary="Sessions and JWTs done right.",
        lifespan=lifespan,
    )
    app.state.authward_runtime = runtime
    install_error_handlers(app)
    app.include_router(api.router, tags=["accounts and sessions"])
    app.include_router(token_api.router, tags=["tokens"])
    app.include_router(ops.router, tags=["operations"])
    app.include_router(pages.router)
    if runtime.settings.demo_pages:
        app.include_router(pages.how_router)
    app.mount("/static", pages.static_files(), name="static")
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestLimits, max_body_bytes=runtime.settings.max_body_bytes)
    return app


def app_from_env() -> FastAPI:
    """The app uvicorn starts in each worker: settings come from the environment."""
    settings: Settings = load_settings()
    return create_app(build_runtime(settings))
