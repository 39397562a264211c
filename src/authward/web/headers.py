"""Security headers on every response, added by a pure ASGI middleware."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authward.web.limits import RequestLimits

BASE_HEADERS: Final = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
RawHeaders = list[tuple[bytes, bytes]]
_BASE: Final = [(name.encode(), value.encode()) for name, value in BASE_HEADERS.items()]
_NO_STORE: Final = (b"cache-control", b"no-store")
_VARY: Final = (b"vary", b"Cookie, Authorization")
_HSTS: Final = (b"strict-transport-security", b"max-age=63072000")


def install_middleware(app: Starlette, *, max_body_bytes: int) -> None:
    """Add the middleware of every app authward builds, SecurityHeaders outermost.

    Starlette runs the middleware added last first. Added before the limits (as it once
    was), SecurityHeaders sat inside them, so their 413s and 422s went out bare; added
    last, it sees every answer, whichever layer gave it. A middleware that can answer
    on its own belongs before the SecurityHeaders line.
    """
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """Add the headers every answer needs; ``/auth/`` answers are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = str(scope.get("path", "")).startswith("/auth/")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = secured(message.get("headers", ()), private, https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secured(raw: Iterable[tuple[bytes, bytes]], private: bool, https: bool) -> RawHeaders:
    """`raw` with the security headers added: what Starlette's MutableHeaders would make
    (setdefault for each, cache-control set over any other), in one pass over the list."""
    headers = list(raw)
    present = {name for name, _ in headers}
    additions = [header for header in _BASE if header[0] not in present]
    if private:
        if _NO_STORE[0] in present:  # set: the first one takes the value, others go
            at = next(i for i, (name, _) in enumerate(headers) if name == _NO_STORE[0])
            headers = [h for i, h in enumerate(headers) if i == at or h[0] != _NO_STORE[0]]
            headers[at] = _NO_STORE
        else:
            additions.append(_NO_STORE)
        if _VARY[0] not in present:
            additions.append(_VARY)
    if https and _HSTS[0] not in present:
        additions.append(_HSTS)
    return headers + additions
