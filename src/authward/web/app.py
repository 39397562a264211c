"""The authward service as an ASGI app: `Authward`'s API, with the pages and operations."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

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
    auth.document(app)  # also when the caller opens the runtime (no lifespan)
    return app


def app_from_env() -> FastAPI:
    """The app uvicorn starts in each worker: settings come from the environment."""
    settings: Settings = load_settings()
    return freeze_heap_after_startup(create_app(build_runtime(settings)))


def freeze_heap_after_startup(app: FastAPI) -> FastAPI:
    """Once `app` has started, move every object then alive out of the collector's sight.

    Under load, requests that wait on a store read keep their objects alive long enough
    to be promoted, and Python's full collections then walk the whole heap, the
    modules, routes and caches of startup included: one every ~1,000 requests, 100–180 ms
    each, the p99 of a store-bound route (benchmarks/README.md, "Under load"). What
    startup made lives as long as the process, so the collector has nothing to find in
    it. Only for the process `authward serve` owns: an app that embeds authward decides
    for its own heap.
    """
    started = app.router.lifespan_context

    @asynccontextmanager
    async def frozen(served: Any) -> AsyncIterator[Any]:  # Any: Starlette's Lifespan union
        opened: AbstractAsyncContextManager[Mapping[str, Any] | None] = started(served)
        async with opened as state:
            gc.collect()  # what startup left as garbage goes now, not frozen with the rest
            gc.freeze()
            try:
                yield state
            finally:
                gc.unfreeze()  # back to the collector before shutdown's own garbage

    app.router.lifespan_context = frozen
    return app
