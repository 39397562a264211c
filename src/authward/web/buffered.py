"""Read a request's whole body in ASGI middleware, then hand it on as if unread.

Middleware that must see the body before the app does (its size, its JSON depth, a
form's CSRF field) reads it here, within a limit, and gives the app a `replay` of it.
"""

from __future__ import annotations

from starlette.types import Message, Receive

from authward.errors import PayloadTooLarge


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, chunk by chunk; PayloadTooLarge as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` once, whole, then what `receive` gives."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for http.disconnect as usual

    return replayed
