"""A test's runtime is gone once the test is: nothing of the suite or of authward keeps it.

Each test builds a runtime (engines, clients, caches) and an app around it. One that
something keeps alive stays to the end of the run, and with three thousand tests that
was 3.4 GB, full collections of seconds every half minute and a minute of collection at
exit. This builds both as the fixtures do, uses them, closes them, forgets FastAPI's
callable caches as the suite does after each test (tests/conftest.py), and asks.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from tests.conftest import forget_fastapi_callables, http_client, make_settings


async def used_and_closed(tmp_path: Path) -> weakref.ref[Runtime]:
    """A runtime served by the service's app, then closed.

    (Not by an app of the tests' own: `make_app` writes ``Annotated[..., Depends(...)]``
    anew for each app, and typing keeps the last 128 of those, as in any process.)
    """
    runtime = build_runtime(make_settings(tmp_path), clock=FrozenClock())
    await runtime.open(background=False)
    try:
        async with http_client(runtime) as service:
            assert (await service.get("/auth/me")).status_code == 401
    finally:
        await runtime.close()
    return weakref.ref(runtime)


async def test_a_closed_runtime_and_its_apps_are_collected(tmp_path: Path) -> None:
    # In a task of its own, as each test runs: what a request leaves in its context
    # variables goes with the task.
    released = await asyncio.create_task(used_and_closed(tmp_path))

    forget_fastapi_callables()
    gc.collect()

    kept = released()
    holders = [] if kept is None else [type(holder).__name__ for holder in gc.get_referrers(kept)]
    del kept
    assert released() is None, f"the runtime is still referred to by {holders}"
