"""The page login with a second factor: /login asks for the code, /login/mfa finishes.

The page login must be no way around the factor: the right password alone sets no
session cookie, and only a right code (or recovery code) on /login/mfa does.
"""

from __future__ import annotations

import re

import httpx

from authward.clock import FrozenClock
from tests.pages.helpers import SAME_ORIGIN, csrf_of, sign_in
from tests.web.mfa_helpers import Enrolled, enrolled

EMAIL = "ada@example.com"
SESSION_COOKIE = "__Host-authward_session"
_MFA_TOKEN = re.compile(r'name="mfa_token" value="([^"]+)"')


async def second_step_page(client: httpx.AsyncClient) -> str:
    """Sign in with the right password; return the second step's page."""
    response = await sign_in(client, EMAIL, next_path="/account")
    assert response.status_code == 200, response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert 'action="/login/mfa"' in response.text
    return response.text


async def post_code(client: httpx.AsyncClient, page: str, code: str) -> httpx.Response:
    match = _MFA_TOKEN.search(page)
    assert match is not None
    fields = {"csrf_token": csrf_of(page), "mfa_token": match.group(1), "code": code}
    return await client.post("/login/mfa", data={**fields, "next": "/account"}, headers=SAME_ORIGIN)


async def factor_on(client: httpx.AsyncClient, clock: FrozenClock) -> Enrolled:
    return await enrolled(client, clock, EMAIL)


async def test_the_right_password_alone_signs_no_one_in(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await factor_on(client, clock)
    await second_step_page(client)
    assert not client.cookies.get(SESSION_COOKIE)
    assert (await client.get("/account")).status_code == 303


async def test_a_right_code_finishes_the_sign_in(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await factor_on(client, clock)
    page = await second_step_page(client)
    wrong = await post_code(client, page, "000000" if ada.code(clock.now()) != "000000" else "1")
    assert wrong.status_code == 400 and "not correct" in wrong.text
    assert not client.cookies.get(SESSION_COOKIE)
    done = await post_code(client, wrong.text, ada.code(clock.now()))
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert client.cookies.get(SESSION_COOKIE)
    me = (await client.get("/auth/me")).json()
    assert (me["amr"], me["aal"]) == (["pwd", "otp"], "aal2")


async def test_a_recovery_code_finishes_the_sign_in(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await factor_on(client, clock)
    done = await post_code(client, await second_step_page(client), ada.recovery_codes[0])
    assert done.status_code == 303
    assert (await client.get("/auth/me")).json()["amr"] == ["pwd", "rc"]


async def test_a_forged_second_step_is_refused(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await factor_on(client, clock)
    page = await second_step_page(client)
    match = _MFA_TOKEN.search(page)
    assert match is not None
    fields = {"mfa_token": match.group(1), "code": ada.code(clock.now())}
    no_token = await client.post("/login/mfa", data=fields, headers=SAME_ORIGIN)
    assert no_token.status_code == 403 and not client.cookies.get(SESSION_COOKIE)
    cross = await client.post(
        "/login/mfa",
        data={**fields, "csrf_token": csrf_of(page)},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert cross.status_code == 403 and not client.cookies.get(SESSION_COOKIE)


async def test_a_token_logins_challenge_does_not_finish_on_the_page(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    from tests.web.mfa_helpers import first_step

    ada = await factor_on(client, clock)
    page = await second_step_page(client)
    jwt_token = await first_step(client, EMAIL, "/auth/token")
    fields = {"csrf_token": csrf_of(page), "mfa_token": jwt_token, "code": ada.code(clock.now())}
    response = await client.post("/login/mfa", data=fields, headers=SAME_ORIGIN)
    assert response.status_code == 303 and response.headers["location"] == "/login?notice=mfa"
    assert not client.cookies.get(SESSION_COOKIE)


async def test_the_second_step_page_alone_leads_back_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/login/mfa")
    assert response.status_code == 303 and response.headers["location"] == "/login"
