"""How many passkeys an account holds, over HTTP, on SQLite and PostgreSQL.

The cap is answered 409 ``too_many_passkeys`` at the options (no challenge is kept for a
passkey that could not be registered) and at the registration itself, where the store
counts and keeps in one step: registrations racing at the cap less one keep one passkey.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.runtime import Runtime
from authward.settings import Settings
from tests.conftest import make_settings
from tests.web.helpers import PASSWORD, register, session_login
from tests.web.passkey_helpers import SoftKey
from tests.web.test_passkeys import Json, add, registration_options

EMAIL = "ada@example.com"
CAP = 3


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: object) -> Settings:
    # A plain function: an async fixture cannot look up another one (pytest-asyncio).
    if request.param == "postgres":
        engine: AsyncEngine = request.getfixturevalue("postgres_engine")
        url = engine.url.render_as_string(hide_password=False)
        return make_settings(tmp_path, public_url="https://testserver", database_url=url)
    return make_settings(tmp_path, public_url="https://testserver")


@pytest.fixture
def capped(runtime: Runtime) -> Runtime:
    runtime.passkeys.max_passkeys = CAP
    return runtime


def keep(client: httpx.AsyncClient, csrf: str, options: Json, name: str) -> httpx.Request:
    body = {"credential": SoftKey().create(options), "name": name, "current_password": PASSWORD}
    return client.build_request(
        "POST", "/auth/factors/passkeys", json=body, headers={"X-CSRF-Token": csrf}
    )


async def test_at_the_cap_options_and_registrations_are_409_until_one_goes(
    capped: Runtime, client: httpx.AsyncClient
) -> None:
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    for n in range(CAP - 1):
        assert (await add(client, csrf, SoftKey(), f"Key {n}")).status_code == 201
    # Two ceremonies begun below the cap: the first to finish takes the last place.
    early = [await registration_options(client, csrf) for _ in range(2)]
    assert (await client.send(keep(client, csrf, early[0], "Last"))).status_code == 201
    late = await client.send(keep(client, csrf, early[1], "One too many"))
    assert late.status_code == 409 and late.json()["code"] == "too_many_passkeys", late.text
    options = await client.post(
        "/auth/factors/passkeys/options", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert options.status_code == 409 and options.json()["code"] == "too_many_passkeys"
    listed = (await client.get("/auth/factors")).json()["passkeys"]
    assert len(listed) == CAP
    removed = await client.request(
        "DELETE",
        f"/auth/factors/passkeys/{listed[0]['id']}",
        json={"current_password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert removed.status_code == 204
    assert (await add(client, csrf, SoftKey(), "Room again")).status_code == 201


async def test_registrations_racing_at_the_cap_less_one_keep_exactly_one(
    capped: Runtime, client: httpx.AsyncClient
) -> None:
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    for n in range(CAP - 1):
        assert (await add(client, csrf, SoftKey(), f"Key {n}")).status_code == 201
    ceremonies = [await registration_options(client, csrf) for _ in range(6)]
    answers = await asyncio.gather(
        *(client.send(keep(client, csrf, o, f"Racer {n}")) for n, o in enumerate(ceremonies))
    )
    counts = Counter(answer.status_code for answer in answers)
    assert counts == {201: 1, 409: 5}, counts
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"too_many_passkeys"}
    assert len((await client.get("/auth/factors")).json()["passkeys"]) == CAP
