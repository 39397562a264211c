"""Step-up on the pages, over HTTP against the real ASGI app: /reauth and its detours.

The clock is the runtime's frozen one: a login goes stale by moving it past
``AUTHWARD_REAUTH_MAX_AGE``, never by waiting.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from authward.clock import FrozenClock
from authward.settings import Settings
from tests.conftest import make_settings
from tests.pages.helpers import PASSWORD, SAME_ORIGIN, csrf_of, form_token, post_form, sign_up
from tests.pages.test_mfa_pages import post_code, second_step_page
from tests.pages.test_passkey_pages import add_on_page, options
from tests.web.mfa_helpers import enrolled
from tests.web.passkey_helpers import SoftKey

EMAIL = "ada@example.com"
MAX_AGE = 300
SECURITY = "/account/security"
DETOUR = "/reauth?next=/account/security"
_NEXT = re.compile(r'name="next" value="([^"]*)"')


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return make_settings(
        tmp_path, public_url="https://testserver", reauth_max_age=MAX_AGE, login_max_failures=3
    )


def go_stale(clock: FrozenClock) -> None:
    clock.advance(MAX_AGE + 1)


async def reauth(
    client: httpx.AsyncClient, fields: dict[str, str], next_path: str = SECURITY
) -> httpx.Response:
    """Post the /reauth form as the page shows it for `next_path`."""
    token = await form_token(client, "/reauth?next=" + next_path)
    return await post_form(client, "/reauth", {"csrf_token": token, "next": next_path, **fields})


async def test_a_stale_login_goes_to_reauth_and_back_with_the_password(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await sign_up(client, EMAIL)
    assert (await client.get(SECURITY)).status_code == 200  # just signed in: recent
    go_stale(clock)
    detour = await client.get(SECURITY)
    assert detour.status_code == 303 and detour.headers["location"] == DETOUR
    page = await client.get(DETOUR)
    assert page.status_code == 200 and 'name="password"' in page.text
    assert 'name="code"' not in page.text and "data-passkey" not in page.text  # none on
    assert "passkeys.js" not in page.text  # no passkey, no script
    done = await reauth(client, {"password": PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == SECURITY
    assert (await client.get(SECURITY)).status_code == 200


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/account/security/totp", {}),
        ("/account/security/totp/off", {}),
        ("/account/security/recovery-codes", {}),
        ("/account/security/passkeys", {"name": "x", "credential": "{}"}),
        ("/account/security/passkeys/remove", {"passkey": "x"}),
    ],
)
async def test_every_change_on_the_security_page_needs_a_recent_login(
    client: httpx.AsyncClient, clock: FrozenClock, path: str, fields: dict[str, str]
) -> None:
    await sign_up(client, EMAIL)
    csrf = await form_token(client, SECURITY)
    go_stale(clock)
    refused = await post_form(client, path, {"csrf_token": csrf, **fields})
    assert refused.status_code == 303 and refused.headers["location"] == DETOUR
    if path == "/account/security/totp":
        # Nothing was started: a recent login's start shows the secret to confirm.
        assert (await reauth(client, {"password": PASSWORD})).status_code == 303
        begun = await post_form(client, path, {"csrf_token": csrf})
        assert begun.status_code == 200 and 'id="totp-secret"' in begun.text


async def test_the_totp_step_up_on_the_page(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    ada = await enrolled(client, clock, EMAIL)
    signed_in = await post_code(client, await second_step_page(client), ada.code(clock.now()))
    assert signed_in.status_code == 303
    go_stale(clock)
    page = await client.get(DETOUR)
    assert 'name="code"' in page.text
    wrong = await reauth(client, {"code": "000000" if ada.code(clock.now()) != "000000" else "1"})
    assert wrong.status_code == 400 and "code is not correct" in wrong.text
    assert (await client.get(SECURITY)).status_code == 303  # still stale
    done = await reauth(client, {"code": ada.code(clock.now())})
    assert done.status_code == 303 and done.headers["location"] == SECURITY
    assert (await client.get(SECURITY)).status_code == 200


async def test_the_passkey_step_up_on_the_page(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await sign_up(client, EMAIL)
    user_id = (await client.get("/auth/me")).json()["id"]
    key = SoftKey()
    assert (await add_on_page(client, key)).status_code == 303
    go_stale(clock)
    page = await client.get(DETOUR)
    assert 'data-passkey="reauth"' in page.text and "passkeys.js" in page.text
    answer = key.get(await options(client, "/auth/passkey/options"), user_id)
    done = await reauth(client, {"credential": json.dumps(answer)})
    assert done.status_code == 303 and done.headers["location"] == SECURITY
    assert (await client.get(SECURITY)).status_code == 200


async def test_someone_elses_passkey_is_no_step_up(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await sign_up(client, "bea@example.com")
    bea_id = (await client.get("/auth/me")).json()["id"]
    beas_key = SoftKey()
    assert (await add_on_page(client, beas_key)).status_code == 303
    client.cookies.clear()
    await sign_up(client, EMAIL)
    go_stale(clock)
    answer = beas_key.get(await options(client, "/auth/passkey/options"), bea_id)
    refused = await reauth(client, {"credential": json.dumps(answer)})
    assert refused.status_code == 400 and "passkey was not accepted" in refused.text
    assert (await client.get(SECURITY)).status_code == 303


async def test_a_wrong_password_is_the_page_again_and_counted_like_a_login(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await sign_up(client, EMAIL)
    go_stale(clock)
    for _ in range(3):  # login_max_failures
        wrong = await reauth(client, {"password": "not the password"})
        assert wrong.status_code == 400 and "password is not correct" in wrong.text
        assert (await client.get(SECURITY)).status_code == 303
    throttled = await reauth(client, {"password": PASSWORD})  # even the right one, now
    assert throttled.status_code == 429 and "Too many wrong tries" in throttled.text
    assert int(throttled.headers["retry-after"]) > 0
    assert (await client.get(SECURITY)).status_code == 303
    # Counted as failed logins of the account: signing in from here is paused as well.
    client.cookies.clear()
    login = await post_form(
        client, "/login", {"email": EMAIL, "password": PASSWORD}, token_from="/login"
    )
    assert login.status_code == 429


async def test_a_forged_reauth_is_refused(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    await sign_up(client, EMAIL)
    go_stale(clock)
    token = await form_token(client, DETOUR)
    fields = {"password": PASSWORD, "next": SECURITY}
    no_token = await post_form(client, "/reauth", fields)
    assert no_token.status_code == 403
    wrong_token = await post_form(client, "/reauth", {**fields, "csrf_token": token[:-2] + "xx"})
    assert wrong_token.status_code == 403
    cross_site = await client.post(
        "/reauth",
        data={**fields, "csrf_token": token},
        headers={"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    assert (await client.get(SECURITY)).status_code == 303  # none of them counted


async def test_without_a_session_reauth_sends_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get(DETOUR)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/account/security"
    posted = await post_form(client, "/reauth", {"password": PASSWORD, "next": SECURITY})
    assert posted.status_code == 303 and posted.headers["location"] == "/login"


NASTY_NEXT = [
    "",
    "account",
    "https://evil.example/",
    "http:/evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%2Fevil.example",
    "/%5Cevil.example",
    "%2F%2Fevil.example",
    " //evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\u3002/evil.example",
    "\uff0f\uff0fevil.example",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", NASTY_NEXT)
async def test_next_is_never_another_site(
    client: httpx.AsyncClient, clock: FrozenClock, target: str
) -> None:
    await sign_up(client, EMAIL)
    go_stale(clock)
    shown = await client.get("/reauth", params={"next": target})
    assert shown.status_code == 200
    assert _NEXT.findall(shown.text) == ["/account"]
    fields = {"csrf_token": csrf_of(shown.text), "password": PASSWORD, "next": target}
    done = await client.post("/reauth", data=fields, headers=SAME_ORIGIN)
    assert done.status_code == 303 and done.headers["location"] == "/account"


async def test_a_path_on_this_site_is_kept(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    await sign_up(client, EMAIL)
    go_stale(clock)
    done = await reauth(client, {"password": PASSWORD}, next_path="/how?x=1")
    assert done.status_code == 303 and done.headers["location"] == "/how?x=1"


@pytest.mark.parametrize(
    "fields",
    [
        {"code": "\u0661\u0662\u0663\u0664\u0665\u0666"},  # Arabic-Indic digits
        {"code": "9" * 5000},
        {"code": "12\x0034"},
        {"credential": "["},
        {"credential": "null"},
        {"credential": json.dumps({"id": "x", "response": {}})},
        {"password": "\x00" * 100},
        {"password": "p" * 100_000},
        {},
    ],
)
async def test_an_odd_proof_is_the_form_again_never_a_500(
    client: httpx.AsyncClient, clock: FrozenClock, fields: dict[str, str]
) -> None:
    await sign_up(client, EMAIL)
    go_stale(clock)
    answer = await reauth(client, fields)
    assert answer.status_code in {400, 413}, answer.text
    assert (await client.get(SECURITY)).status_code == 303
