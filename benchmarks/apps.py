"""The apps the HTTP benchmarks load, each with a bare route beside a protected one.

``/bench/bare`` answers without authentication: the ceiling a protected route is
measured against, on the same app, middleware stack and server. ``/bench/protected``
answers the same body behind the library's current-user dependency, and ``/bench/noop``
behind a dependency that checks nothing: what FastAPI's ``Depends`` costs by itself, the
floor under any dependency-based authentication. ``/bench/direct`` calls the same
``current_user`` from inside the endpoint (``await auth.current_user(request)``): the
same checks and answers, without FastAPI's dependency machinery.

* `library_app`: a FastAPI app of your own using authward as a library (the `Authward`
  facade: its router and its ``current_user`` dependency).
* `service_app`: the authward service itself (`create_app`, with its middleware), where
  ``/auth/me`` is measured against ``/bench/bare``.

Settings come from ``AUTHWARD_*`` variables, as for ``authward serve``.
"""

# No `from __future__ import annotations`: FastAPI must see the local Annotated alias.
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from authward.integration import Account, AuthUser, Authward
from authward.runtime import build_runtime
from authward.settings import load_settings
from authward.web.app import create_app, freeze_heap_after_startup

BARE_BODY = {"id": "anonymous"}
NOBODY = AuthUser("anonymous", "jwt", None)


async def nobody(request: Request) -> AuthUser:
    """A dependency shaped like ``current_user`` (it takes the request) that checks nothing."""
    return NOBODY


def library_app() -> FastAPI:
    """A user's app: authward's router, a bare route, and one behind ``current_user``."""
    auth = Authward.from_env()
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    app.state.authward = auth
    current_user = Annotated[AuthUser, Depends(auth.current_user)]

    @app.get("/bench/bare")
    async def bare() -> dict[str, str]:
        return BARE_BODY

    @app.get("/bench/protected")
    async def protected(user: current_user) -> dict[str, str]:
        return {"id": user.id}

    @app.get("/bench/direct")
    async def direct(request: Request) -> dict[str, str]:
        user = await auth.current_user(request)
        return {"id": user.id}

    @app.get("/bench/noop")
    async def noop(user: Annotated[AuthUser, Depends(nobody)]) -> dict[str, str]:
        return {"id": user.id}

    return app


def readme_app() -> FastAPI:
    """The README's ten-line app as it stands (``/notes`` behind ``Depends(auth.current_user)``,
    default settings), plus what every bench app has after it: ``/bench/bare``,
    ``/bench/direct`` (the same check awaited in the endpoint) and ``/bench/noop`` (the
    Depends floor); and ``/bench/account``, behind ``Depends(auth.current_account)`` (loads
    the user)."""
    auth = Authward.from_env()
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    app.state.authward = auth

    @app.get("/notes")
    async def notes(user: Annotated[AuthUser, Depends(auth.current_user)]) -> dict[str, str]:
        return {"owner": user.id}

    @app.get("/bench/bare")
    async def bare() -> dict[str, str]:
        return BARE_BODY

    @app.get("/bench/direct")
    async def direct(request: Request) -> dict[str, str]:
        user = await auth.current_user(request)
        return {"owner": user.id}

    @app.get("/bench/noop")
    async def noop(user: Annotated[AuthUser, Depends(nobody)]) -> dict[str, str]:
        return {"owner": user.id}

    @app.get("/bench/account")
    async def account(user: Annotated[Account, Depends(auth.current_account)]) -> dict[str, str]:
        return {"owner": user.id, "email": user.email}

    return app


def service_app() -> FastAPI:
    """The authward service as `authward serve` runs it (its heap frozen once started),
    plus ``/bench/bare``."""
    app = freeze_heap_after_startup(create_app(build_runtime(load_settings())))

    @app.get("/bench/bare", include_in_schema=False)
    async def bare() -> dict[str, str]:
        return BARE_BODY

    return app
