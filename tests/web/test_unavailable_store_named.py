"""A 503 says which store is down, in its detail; the code stays the same for every store."""

from __future__ import annotations

from pathlib import Path

from authward.runtime import build_runtime
from tests.conftest import http_client, make_settings
from tests.servers import free_port
from tests.web.helpers import PASSWORD


async def test_redis_down_is_named_in_the_503_and_in_healthz(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    runtime = build_runtime(settings)
    await runtime.open()  # Redis down at start: the server starts and answers 503
    try:
        async with http_client(runtime) as client:
            account = {"email": "ada@example.com", "password": PASSWORD}
            for path in ("/auth/register", "/auth/session/login"):
                answer = await client.post(path, json=account)
                assert answer.status_code == 503
                assert answer.json() == {
                    "detail": "A backing store (redis) is unavailable; try again shortly.",
                    "code": "store_unavailable",
                }
                assert answer.headers["Retry-After"] == "2"
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["stores"] == {
                "database": "ok",
                "redis": "down",
                "revocations": "down",
            }
    finally:
        await runtime.close()
