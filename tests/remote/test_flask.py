"""The Flask decorator (run when Flask is installed: it is in the dev extra)."""

from __future__ import annotations

import pytest

from authward.clock import FrozenClock
from authward.remote.flask import token_required
from tests.remote.conftest import Endpoint

flask = pytest.importorskip("flask")


async def test_token_required(endpoint: Endpoint, clock: FrozenClock) -> None:
    verifier = endpoint.verifier(clock)
    app = flask.Flask("reports")

    @app.get("/reports")
    @token_required(verifier)
    def reports() -> dict[str, str]:
        return {"owner": flask.g.authward_user.id}

    token = await endpoint.token("user-7")
    client = app.test_client()
    ok = client.get("/reports", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.get_json() == {"owner": "user-7"}
    missing = client.get("/reports")
    assert missing.status_code == 401
    assert missing.get_json() == {"detail": "Not authenticated.", "code": "not_authenticated"}
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    forged = client.get("/reports", headers={"Authorization": f"Bearer {token}x"})
    assert forged.status_code == 401
    assert forged.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
