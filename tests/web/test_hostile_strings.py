"""A NUL, or any string not of the shape authward mints, never reaches a store: no 500.

PostgreSQL refuses a NUL in text, and asyncpg's error once escaped as a 500:
``DELETE /auth/sessions/%00``, ``POST /account/sign-out`` with ``handle=a%00b``, a ``sid``
claim of ``"\\u0000"`` on ``/how``, a user agent with a NUL. Each request is made here on
SQLite and on PostgreSQL alike. A handle in a path is a 404, in a form the page's own
answer, a token whose claims are not of our shapes a 401; a user agent is kept with its
control characters replaced.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest

from authward import crypto
from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from tests.conftest import http_client, make_settings
from tests.pages.helpers import SAME_ORIGIN, account_token, post_form, sign_up
from tests.web.helpers import COOKIE, PASSWORD, register, session_login

NUL_HANDLES = ["%00", "a%00b", "abcdefg%00hijklmn", "%00" * 16]
HOW_COOKIE = "__Secure-authward_how_token"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/authward.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def runtime_on(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Runtime]:
    """The whole service on SQLite or PostgreSQL, the /how demo included."""
    settings = make_settings(tmp_path, database_url=database_url, demo_pages=True)
    runtime = build_runtime(settings, clock=clock)
    await runtime.open(background=False)
    yield runtime
    await runtime.close()


@pytest.fixture
async def web(runtime_on: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(runtime_on) as client:
        yield client


def new_email() -> str:
    return f"{crypto.new_handle().lower()}@example.com"


def signed(runtime: Runtime, **changes: object) -> str:
    """An access token signed with the service's own key, its claims changed as given."""
    key = runtime.tokens.ring.signing_key()
    now = int(runtime.clock.now().timestamp())
    claims = {
        "iss": runtime.settings.issuer, "aud": runtime.settings.audience,
        "sub": crypto.new_user_id(), "iat": now, "exp": now + 60,
        "jti": crypto.new_token_id(), "sid": crypto.new_handle(),
        "client_id": runtime.settings.audience, **changes,
    }  # fmt: skip
    headers = {"kid": key.kid, "typ": "at+jwt"}
    return jwt.encode(claims, key.material, algorithm=key.alg, headers=headers)


async def test_a_nul_in_a_handle_in_the_path_is_404(web: httpx.AsyncClient) -> None:
    email = new_email()
    await register(web, email)
    csrf = await session_login(web, email)
    tokens = await web.post("/auth/token", json={"email": email, "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    for handle in NUL_HANDLES:
        by_cookie = await web.delete(f"/auth/sessions/{handle}", headers={"X-CSRF-Token": csrf})
        assert by_cookie.status_code == 404, (handle, by_cookie.text)
        assert by_cookie.json() == {"detail": "Not found.", "code": "not_found"}
        by_token = await web.delete(f"/auth/sessions/{handle}", headers=bearer)
        assert by_token.status_code == 404, (handle, by_token.text)
    assert (await web.get("/auth/me")).status_code == 200
    assert (await web.get("/auth/me", headers=bearer)).status_code == 200


async def test_a_nul_in_the_sign_out_form_is_the_pages_own_answer(web: httpx.AsyncClient) -> None:
    await sign_up(web, new_email())
    csrf = await account_token(web)
    for handle in ("a\x00b", "\x00", "abcdefg\x00hijklmn"):
        response = await post_form(web, "/account/sign-out", {"handle": handle, "csrf_token": csrf})
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/account?notice=gone"
    assert (await web.get("/account")).status_code == 200  # this session goes on


async def test_a_nul_sid_in_the_how_token_cookie(web: httpx.AsyncClient) -> None:
    """/how revokes the token its cookie held before issuing another, by the unverified sid."""
    await sign_up(web, new_email())
    csrf = await account_token(web)

    def segment(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    token = f"{segment({'alg': 'EdDSA'})}.{segment({'sid': chr(0)})}.{segment({})}"
    cookies = f"{COOKIE}={web.cookies[COOKIE]}; {HOW_COOKIE}={token}"
    shown = await web.get("/how", headers={"Cookie": cookies})
    assert shown.status_code == 200
    issued = await web.post(
        "/how/token", data={"csrf_token": csrf}, headers={**SAME_ORIGIN, "Cookie": cookies}
    )
    assert issued.status_code == 303, issued.text
    assert issued.headers["location"] == "/how"


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": "\x00"},
        {"sub": "a\x00b"},
        {"sid": "\x00"},
        {"sid": "abcdefg\x00hijklmn"},
        {"jti": "\x00"},
    ],
    ids=["sub-nul", "sub-nul-inside", "sid-nul", "sid-nul-inside", "jti-nul"],
)
async def test_a_signed_token_whose_claims_are_not_our_shapes_is_401(
    web: httpx.AsyncClient, runtime_on: Runtime, changes: dict[str, str]
) -> None:
    user_id = await register(web, new_email())
    token = signed(runtime_on, **{"sub": user_id, **changes})
    bearer = {"Authorization": f"Bearer {token}"}
    for method, path in (("GET", "/auth/me"), ("POST", "/auth/token/revoke")):
        response = await web.request(method, path, headers=bearer)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_nul_in_the_user_agent_is_kept_replaced(
    web: httpx.AsyncClient, runtime_on: Runtime
) -> None:
    email = new_email()
    user_id = await register(web, email)
    agent = {"User-Agent": "Firefox\x00/126\x1b[31m"}
    credentials = {"email": email, "password": PASSWORD}
    assert (await web.post("/auth/session/login", json=credentials, headers=agent)).is_success
    assert (await web.post("/auth/token", json=credentials, headers=agent)).is_success
    wrong = {"email": email, "password": "not the password"}
    assert (await web.post("/auth/token", json=wrong, headers=agent)).status_code == 401
    devices = (await web.get("/auth/sessions")).json()
    assert {d["user_agent"] for d in devices} == {"Firefox\ufffd/126\ufffd[31m"}
    assert runtime_on.audit is not None
    failed = await runtime_on.audit.list(user_id=user_id, event="login_failed")
    assert [r.user_agent for r in failed] == ["Firefox\ufffd/126\ufffd[31m"]  # not lost


async def test_a_nul_in_an_email_is_refused_before_any_lookup(web: httpx.AsyncClient) -> None:
    nul_email = {"email": "a\x00b@example.com", "password": PASSWORD}
    assert (await web.post("/auth/register", json=nul_email)).status_code == 422
    assert (await web.post("/auth/token", json=nul_email)).status_code == 401
    assert (await web.post("/auth/session/login", json=nul_email)).status_code == 401


async def test_the_cli_finds_no_one_by_an_id_of_another_shape(runtime_on: Runtime) -> None:
    """`authward users disable ID` and the like look users up by email or id."""
    for hostile in ("\x00", "a\x00b", "a" * 37):
        assert await runtime_on.accounts.find(hostile) is None
