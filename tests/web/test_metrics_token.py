"""Issue 18.12: with AUTHWARD_METRICS_TOKEN set, /metrics answers its bearer alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from authward.runtime import build_runtime
from authward.settings import SettingsError, load_settings
from tests.conftest import http_client, make_settings

TOKEN = "metrics-" + "5f0c2a9e7b1d4c3a8e6f0b2d4a6c8e0f"


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    runtime = build_runtime(make_settings(tmp_path, metrics_token=TOKEN))
    await runtime.open(background=False)
    try:
        async with http_client(runtime) as client:
            yield client
    finally:
        await runtime.close()


async def test_the_token_opens_the_metrics(guarded: httpx.AsyncClient) -> None:
    response = await guarded.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert "authward_" in response.text


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        f"Basic {TOKEN}",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        "Bearer ",
        "Bearer",
        f"Bearer {TOKEN.upper()}",
    ],
)
async def test_anything_else_is_refused(
    guarded: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await guarded.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": response.json()["detail"], "code": "not_authenticated"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "authward_" not in response.text


async def test_unset_the_metrics_stay_open(client: httpx.AsyncClient) -> None:
    """Today's behaviour, kept: docs/deployment.md says how to keep them private."""
    assert (await client.get("/metrics")).status_code == 200


def test_a_short_token_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="AUTHWARD_METRICS_TOKEN"):
        load_settings(metrics_token="short", secret_key=None)
    assert load_settings(metrics_token="").metrics_token is None
