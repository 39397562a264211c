"""`JwksVerifier.current_user` as a FastAPI dependency.

No ``from __future__ import annotations``: FastAPI reads the route's annotations, which
name the local `verifier`, at definition time.
"""

from typing import Annotated

import httpx
from fastapi import Depends, FastAPI

from authward import AuthUser
from authward.clock import FrozenClock
from tests.remote.conftest import Endpoint


async def test_fastapi_dependency(endpoint: Endpoint, clock: FrozenClock) -> None:
    verifier = endpoint.verifier(clock)
    app = FastAPI()

    @app.get("/reports")
    async def reports(user: Annotated[AuthUser, Depends(verifier.current_user)]) -> dict[str, str]:
        return {"id": user.id, "via": user.via}

    token = await endpoint.token("user-9")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://svc") as client:
        ok = await client.get("/reports", headers={"Authorization": f"Bearer {token}"})
        assert ok.json() == {"id": "user-9", "via": "jwt"}
        missing = await client.get("/reports")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        forged = await client.get("/reports", headers={"Authorization": f"Bearer {token}x"})
        assert forged.status_code == 401
        assert forged.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        endpoint.down = True
        clock.advance(0)
        fresh = endpoint.verifier(clock)
        app.dependency_overrides[verifier.current_user] = fresh.current_user
        down = await client.get("/reports", headers={"Authorization": f"Bearer {token}"})
        assert down.status_code == 503
