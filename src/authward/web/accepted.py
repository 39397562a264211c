"""A 202 whose work happens after the answer: one body, whatever the work will find.

Used where the answer must not tell whether an account exists (a reset, a resend, a
registration with verification required): the route counts the client's attempt, answers,
and only then looks the account up, hashes, and writes the mail (Starlette runs a
response's background task once the response has been sent).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, ParamSpec

from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

log = logging.getLogger("authward")

P = ParamSpec("P")

ACCEPTED: Final = {
    "detail": "Request accepted: if it can be carried out, a mail is on its way.",
    "code": "accepted",
}


def later(work: Callable[P, Awaitable[None]], *args: P.args, **kwargs: P.kwargs) -> BackgroundTask:
    """Run `work` after the answer is sent; a failure is logged, never answered."""

    async def run() -> None:
        try:
            await work(*args, **kwargs)
        except Exception:  # the answer is out: nobody else can hear it
            log.exception("background work %s failed", getattr(work, "__qualname__", work))

    return BackgroundTask(run)


def accepted(background: BackgroundTask | None = None) -> JSONResponse:
    return JSONResponse(ACCEPTED, status_code=202, background=background)
