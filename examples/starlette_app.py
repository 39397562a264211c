"""A plain Starlette app: `AuthwardMiddleware` sets ``request.user``; the API is mounted.

Run it from the repository's root (plain HTTP on localhost; development only):

    AUTHWARD_INSECURE_COOKIES=1 python examples/starlette_app.py    # http://127.0.0.1:8000

``PORT`` picks the port. Sign in through the mounted API (``POST /auth/session/login``
or ``POST /auth/token``), then visit ``/`` and ``/private``.
"""

from __future__ import annotations

import os

import uvicorn
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from authward import Authward, AuthwardMiddleware

auth = Authward.from_env()


async def homepage(request: Request) -> PlainTextResponse:
    if request.user.is_authenticated:
        return PlainTextResponse(f"Hello, {request.user.display_name}")
    return PlainTextResponse("Hello, stranger")


@requires("authenticated", status_code=401)
async def private(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.user.identity, "scopes": request.auth.scopes})


@requires("authenticated", status_code=401)
async def update(request: Request) -> JSONResponse:
    # An unsafe method: by cookie it needs the session's CSRF token, else the
    # middleware leaves the request anonymous (and `requires` answers 401).
    form = await request.form()
    return JSONResponse({"id": request.user.identity, "saved": str(form.get("text", ""))})


app = Starlette(
    routes=[
        Route("/", homepage),
        Route("/private", private),
        Route("/private", update, methods=["POST"]),
        Mount("/", app=auth.asgi_app),  # /auth/..., /.well-known/jwks.json; last: it is "/"
    ],
    middleware=[Middleware(AuthwardMiddleware, auth=auth, load_email=True)],
    lifespan=auth.lifespan,
)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
