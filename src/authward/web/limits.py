"""Limits enforced before any route runs: header size, body size and JSON nesting depth.

A pure ASGI middleware, so an oversized or hostile body is refused while it streams in,
before FastAPI or a parser allocates anything for it. The header limit here is exact
(413 past `MAX_HEADER_BYTES` of names and values); the HTTP server's own parser limit,
set by ``authward serve``, is what bounds the memory a header block can take first.
"""

from __future__ import annotations

import json
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from authward.errors import InvalidInput, PayloadTooLarge
from authward.web.buffered import read_body, replay

MAX_JSON_DEPTH: Final = 32
# Names and values together: room for an 8 KiB bearer token (transports.MAX_TOKEN_LENGTH)
# and a browser's cookies; nginx's default (4 buffers of 8 KiB) allows about as much.
MAX_HEADER_BYTES: Final = 32 * 1024


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Tell whether brackets nest deeper than `limit` (strings are skipped).

    Python's json module recurses per level: without this a few kilobytes of ``[``
    would raise RecursionError deep inside a parser.
    """
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


class RequestLimits:
    """Refuse oversized headers and bodies (413) and JSON nested too deep (422)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_header_bytes: int = MAX_HEADER_BYTES
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers", ())
        if sum(len(name) + len(value) for name, value in raw_headers) > self.max_header_bytes:
            await _refuse(send, 413, "Request headers too large.", PayloadTooLarge.code)
            return
        headers = dict(raw_headers)
        if b"content-length" not in headers and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: the hot path pays nothing
            return
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _refuse(send, 413, "Request body too large.", PayloadTooLarge.code)
            return
        try:
            body = await read_body(receive, self.max_body_bytes)
        except PayloadTooLarge:
            await _refuse(send, 413, "Request body too large.", PayloadTooLarge.code)
            return
        if b"json" in headers.get(b"content-type", b"") and json_too_deep(body):
            await _refuse(send, 422, "JSON nested too deeply.", InvalidInput.code)
            return
        await self.app(scope, replay(body, receive), send)


async def _refuse(send: Send, status: int, detail: str, code: str) -> None:
    payload = json.dumps({"detail": detail, "code": code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
