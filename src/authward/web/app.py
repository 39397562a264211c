"""The authward service as an ASGI app: `Authward`'s API, with the pages and operations."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from authward.runtime import Runtime, build_runtime
from authward.settings import Settings, load_settings
from authward.web import ops, pages
from authward.web.errors import install_error_handlers
from authward.web.facade import Authward
from authward.web.headers import install_middleware
from authward.web.pages.missing import http_error_page


def create_app(runtime: Runtime, *, open_runtime: bool = True) -> FastAPI:
    """Build the app around `runtime`; its lifespan opens and closes the runtime.

    Without `open_runtime` the caller opens and closes the runtime itself (tests).
    """
    auth = Authward.from_runtime(runtime)
    app = FastAPI(
        title="authward",
        version="0.1.0",
        summary="Sessions and JWTs done right.",
        lifespan=auth.lifespan if open_runtime else None,
        # No trailing-slash redirects (/login/ is a 404): Starlette builds their Location
        # from the request's Host header, so a client could point one at any host.
        redirect_slashes=False,
    )
    app.state.authward_runtime = runtime
    install_error_handlers(app)
    # The service is also a site: a browser lost on it gets a page, a program JSON.
    app.add_exception_handler(StarletteHTTPException, http_error_page)
    app.include_router(auth.router)
    app.include_router(ops.router, tags=["operations"])
    app.include_router(pages.router)
    if runtime.settings.demo_pages:
        app.include_router(pages.how_router)
    app.mount("/static", pages.static_files(), name="static")
    install_middleware(app, max_body_bytes=runtime.settings.max_body_bytes)
    return app


def app_from_env() -> FastAPI:
    """The app uvicorn starts in each worker: settings come from the environment."""
    settings: Settings = load_settings()
    return create_app(build_runtime(settings))
