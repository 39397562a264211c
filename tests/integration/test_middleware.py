"""`AuthwardMiddleware` in a plain Starlette app, beside the mounted API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import Message
from starlette.websockets import WebSocket

from authward import AuthUser, Authward, AuthwardMiddleware
from authward.runtime import Runtime
from tests.web.helpers import PASSWORD, register, session_login


def make_starlette(auth: Authward, *, load_email: bool = False) -> Starlette:
    async def who(request: Request) -> JSONResponse:
        user = request.user
        return JSONResponse(
            {
                "authenticated": user.is_authenticated,
                "name": user.display_name,
                "id": user.identity if user.is_authenticated else None,
                "scopes": request.auth.scopes,
                "is_auth_user": isinstance(user, AuthUser),
            }
        )

    @requires("authenticated", status_code=401)
    async def save(request: Request) -> JSONResponse:
        form = await request.form()  # the body the middleware read is replayed
        return JSONResponse({"text": form.get("text"), "id": request.user.identity})

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"authenticated": websocket.user.is_authenticated})
        await websocket.close()

    return Starlette(
        routes=[
            Route("/who", who),
            Route("/save", save, methods=["POST"]),
            WebSocketRoute("/ws", socket),
            Mount("/", app=auth.asgi_app),
        ],
        middleware=[Middleware(AuthwardMiddleware, auth=auth, load_email=load_email)],
    )


@pytest.fixture
async def web(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = make_starlette(Authward.from_runtime(runtime), load_email=True)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as client:
        yield client


async def test_anonymous_is_starlettes_unauthenticated_user(web: httpx.AsyncClient) -> None:
    who = (await web.get("/who")).json()
    assert who == {
        "authenticated": False,
        "name": "",
        "id": None,
        "scopes": [],
        "is_auth_user": False,
    }
    assert (await web.post("/save", data={"text": "x"})).status_code == 401


async def test_session_user_on_scope_with_the_email(web: httpx.AsyncClient) -> None:
    user_id = await register(web, "Ada@Example.com")
    await session_login(web, "ada@example.com")
    who = (await web.get("/who")).json()
    assert who == {
        "authenticated": True,
        "name": "ada@example.com",
        "id": user_id,
        "scopes": ["authenticated", "session"],
        "is_auth_user": True,
    }


async def test_form_csrf_field_is_read_and_the_body_replayed(web: httpx.AsyncClient) -> None:
    await register(web, "ada@example.com")
    csrf = await session_login(web, "ada@example.com")
    # Without the token a cookie-authenticated POST is anonymous (and @requires says 401).
    assert (await web.post("/save", data={"text": "x"})).status_code == 401
    saved = await web.post("/save", data={"text": "kept", "csrf_token": csrf})
    assert saved.status_code == 200 and saved.json()["text"] == "kept"
    by_header = await web.post("/save", data={"text": "h"}, headers={"X-CSRF-Token": csrf})
    assert by_header.json()["text"] == "h"
    too_big = await web.post("/save", data={"text": "x" * 20_000, "csrf_token": csrf})
    assert too_big.status_code == 413


async def test_login_still_works_while_a_session_is_live(web: httpx.AsyncClient) -> None:
    await register(web, "ada@example.com")
    await session_login(web, "ada@example.com")
    again = await web.post(
        "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert again.status_code == 200


async def test_bearer_tokens(web: httpx.AsyncClient) -> None:
    await register(web, "ada@example.com")
    token = (
        await web.post("/auth/token", json={"email": "ada@example.com", "password": PASSWORD})
    ).json()["access_token"]
    who = (await web.get("/who", headers={"Authorization": f"Bearer {token}"})).json()
    assert who["scopes"] == ["authenticated", "jwt"]
    bad = await web.get("/who", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401
    assert bad.json() == {"detail": "Invalid token.", "code": "invalid_token"}
    assert bad.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_stale_cookie_is_anonymous(web: httpx.AsyncClient) -> None:
    web.cookies.set("__Host-authward_session", "A" * 43, domain="app.test")
    assert (await web.get("/who")).json()["authenticated"] is False


async def _handshake(app: Starlette, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    """Open a websocket on /ws at the ASGI level; return what the app sent."""
    inbox: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "wss",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"app.test"), *headers],
        "client": ("198.51.100.4", 4000),
        "server": ("app.test", 443),
        "subprotocols": [],
    }
    await app(scope, receive, send)
    return sent


async def test_websocket_handshake_is_authenticated(runtime: Runtime) -> None:
    app = make_starlette(Authward.from_runtime(runtime))
    anonymous = await _handshake(app, [])
    assert anonymous[0]["type"] == "websocket.accept"
    assert b'"authenticated":false' in anonymous[1]["text"].encode()
    forged = await _handshake(app, [(b"authorization", b"Bearer forged")])
    assert forged == [{"type": "websocket.close", "code": 1008}]
