"""The password policy: common passwords, the email, and the breached check, wired in.

The list is the real one (zxcvbn's); the service is the real one on SQLite; the range
server is a local one (`tests.accounts.range_server`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable

import httpx
import pytest

from authward.accounts.blocklist import CommonPasswords, zxcvbn_passwords
from authward.accounts.policy import PasswordPolicy
from authward.clock import FrozenClock
from authward.errors import CommonPassword, InvalidInput, PasswordContainsEmail
from authward.runtime import Runtime, build_runtime
from authward.settings import SettingsError, load_settings
from tests.accounts.range_server import range_server
from tests.conftest import CHEAP_ARGON2, TEST_SECRET, http_client, make_settings
from tests.web.helpers import PASSWORD, register, session_login

UNLEAKED = "a passphrase nobody leaked"
COMMON_DETAIL = "This password is one of the most common passwords; choose another."


def test_the_list_is_zxcvbns_and_holds_at_least_ten_thousand_long_enough_entries() -> None:
    words = list(zxcvbn_passwords())
    assert len(words) >= 10_000
    assert sum(1 for word in words if len(word) >= 8) >= 10_000  # shorter ones fail by length


@pytest.mark.parametrize(
    "password", ["password1", "Password1", "PASSWORD1", "iloveyou", "1qaz2wsx"]
)
async def test_common_passwords_are_refused_in_any_case(password: str) -> None:
    with pytest.raises(CommonPassword) as refused:
        await PasswordPolicy().check(password)
    assert refused.value.message == COMMON_DETAIL


@pytest.mark.parametrize("password", [PASSWORD, "a brand new passphrase", "x7#Kq9!vLm2p"])
async def test_other_passwords_pass(password: str) -> None:
    await PasswordPolicy().check(password, email="ada@example.com")


async def test_length_is_still_checked_first() -> None:
    with pytest.raises(InvalidInput, match="8 to 1024"):
        await PasswordPolicy().check("short")


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("ada.lovelace@example.com", "ada.lovelace@example.com"),
        ("ADA.LOVELACE@example.com!", "ada.lovelace@example.com"),
        ("my name is ada.lovelace", "ada.lovelace@example.com"),
        ("lovelace-lovelace", "lovelace+news@example.com"),  # the +tag is no part of the name
        ("ada@example.com is me", "ada@example.com"),
    ],
)
async def test_a_password_holding_the_email_or_its_name_is_refused(
    password: str, email: str
) -> None:
    with pytest.raises(PasswordContainsEmail):
        await PasswordPolicy().check(password, email=email)


async def test_a_name_part_under_four_characters_refuses_nothing() -> None:
    await PasswordPolicy().check("adamant passphrase", email="ada@example.com")


async def test_the_list_loads_once_off_the_event_loop_however_many_ask_at_once() -> None:
    loads: list[int] = []
    loop_thread = threading.get_ident()

    def load() -> Iterable[str]:
        loads.append(threading.get_ident())
        return ["Hunter2hunter2"]

    common = CommonPasswords(load)
    found = await asyncio.gather(*(common.contains("hunter2HUNTER2") for _ in range(20)))
    assert found == [True] * 20
    assert len(loads) == 1 and loads[0] != loop_thread
    assert not await common.contains("something else entirely")
    assert len(loads) == 1


# --- wired into the service: register, change, the pages -------------------------------


async def test_registration_refuses_a_common_password_with_its_code(
    client: httpx.AsyncClient,
) -> None:
    body = {"email": "ada@example.com", "password": "Password123"}
    response = await client.post("/auth/register", json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": COMMON_DETAIL, "code": "common_password"}
    named = {"email": "grace.hopper@example.com", "password": "grace.hopper1906"}
    response = await client.post("/auth/register", json=named)
    assert (response.status_code, response.json()["code"]) == (422, "password_contains_email")


async def test_a_password_change_refuses_a_common_password(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    response = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "iloveyou1"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "common_password"
    assert (await session_login(client, "ada@example.com")) is not None  # unchanged


async def test_the_register_page_says_why(client: httpx.AsyncClient) -> None:
    from tests.pages.helpers import form_token, post_form

    fields = {
        "email": "ada@example.com",
        "password": "qwertyuiop",
        "csrf_token": await form_token(client, "/register"),
    }
    response = await post_form(client, "/register", fields)
    assert response.status_code == 400
    assert "one of the most common passwords" in response.text


# --- the breached check, through the service ---------------------------------------------


@pytest.fixture
async def hibp_runtime(tmp_path: object, clock: FrozenClock) -> AsyncIterator[Runtime]:
    with range_server() as server:
        server.add(PASSWORD, 42)
        server.add(UNLEAKED, 0)  # its range holds only padding: a real range is never empty
        settings = make_settings(
            tmp_path, breached_passwords="hibp", breached_passwords_url=server.url
        )
        runtime = build_runtime(settings, clock=clock)
        await runtime.open(background=False)
        try:
            yield runtime
        finally:
            await runtime.close()


async def test_registration_refuses_a_breached_password(hibp_runtime: Runtime) -> None:
    async with http_client(hibp_runtime) as client:
        response = await client.post(
            "/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "breached_password"
        other = {"email": "ada@example.com", "password": UNLEAKED}
        assert (await client.post("/auth/register", json=other)).status_code == 201


async def test_a_breached_check_that_fails_closed_is_a_503(
    tmp_path: object, clock: FrozenClock
) -> None:
    from authward.cli.loadgen import free_port

    settings = make_settings(
        tmp_path,
        breached_passwords="hibp",
        breached_passwords_url=f"http://127.0.0.1:{free_port()}/range/",
    )
    runtime = build_runtime(settings, clock=clock)
    await runtime.open(background=False)
    try:
        async with http_client(runtime) as client:
            body = {"email": "ada@example.com", "password": PASSWORD}
            response = await client.post("/auth/register", json=body)
            assert response.status_code == 503
            assert response.json()["code"] == "store_unavailable"
    finally:
        await runtime.close()


@pytest.mark.parametrize(
    "url",
    ["http://api.pwnedpasswords.com/range/", "ftp://127.0.0.1/range/", "https:///range/"],
)
def test_the_range_url_must_be_https_or_loopback(url: str) -> None:
    with pytest.raises(SettingsError, match="BREACHED_PASSWORDS_URL"):
        load_settings(secret_key=TEST_SECRET, breached_passwords_url=url, **CHEAP_ARGON2)
