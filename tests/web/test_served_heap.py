"""The process `authward serve` owns keeps its startup heap out of the collector's walks.

Full collections over the modules, routes and caches of startup were the p99 of a
store-bound route under load (benchmarks/README.md, "Under load"); the served app freezes
what startup made once it has started, and gives it back at shutdown.
"""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
import pytest

from authward.web.app import app_from_env
from tests.conftest import CHEAP_ARGON2, TEST_SECRET


async def test_the_served_app_freezes_its_startup_heap_while_it_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHWARD_DATABASE_URL", f"sqlite:///{tmp_path}/served.db")
    monkeypatch.setenv("AUTHWARD_SECRET_KEY", TEST_SECRET)
    for name, value in CHEAP_ARGON2.items():
        monkeypatch.setenv(f"AUTHWARD_{name.upper()}", str(value))
    assert gc.get_freeze_count() == 0
    app = app_from_env()
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://served") as client:
                assert (await client.get("/healthz")).status_code == 200
        # The whole startup heap, not a handful: the app, its routes, the modules loaded.
        assert frozen > 10_000
        assert gc.get_freeze_count() == 0  # given back at shutdown
    finally:
        gc.unfreeze()  # whatever happened, the rest of the suite runs with its usual heap
