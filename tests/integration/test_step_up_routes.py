"""Every sensitive route of the API takes step-up, for session and bearer callers alike.

Changing the email, starting TOTP, turning it off, new recovery codes, a passkey's
registration options, adding and removing a passkey: each needs a login within
``AUTHWARD_REAUTH_MAX_AGE`` or the current password in the body, else 401 with the
RFC 9470 challenge. ``POST /auth/reauth`` answers the challenge with the password, a
TOTP code or a passkey. The password change always takes the current password (see
`PasswordChangeIn`), so it never needs the challenge: checked here too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp
import pytest

from authward.clock import FrozenClock
from authward.runtime import Runtime
from authward.settings import Settings
from tests.conftest import make_settings
from tests.web.helpers import PASSWORD, register
from tests.web.passkey_helpers import SoftKey

EMAIL = "ada@example.com"
MAX_AGE = 60  # below the passkey challenge's five minutes: options fetched fresh still hold
CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    f'error_description="A more recent authentication is required.", max_age={MAX_AGE}'
)
Json = dict[str, Any]
Modes = ["session", "token"]


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return make_settings(tmp_path, public_url="https://testserver", reauth_max_age=MAX_AGE)


@dataclass
class Account:
    """One user signed in by session or tokens, and the factors the route needs."""

    client: httpx.AsyncClient
    runtime: Runtime
    clock: FrozenClock
    mode: str
    user_id: str = ""
    totp: pyotp.TOTP | None = None
    key: SoftKey | None = None
    passkey_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    pending: Json = field(default_factory=dict)  # what a route prepared while recent

    async def sign_in(self) -> None:
        path = "/auth/session/login" if self.mode == "session" else "/auth/token"
        first = await self.client.post(path, json={"email": EMAIL, "password": PASSWORD})
        assert first.status_code == 200, first.text
        body = first.json()
        if body.get("mfa_required"):
            assert self.totp is not None
            body = (
                await self.client.post(
                    "/auth/mfa", json={"mfa_token": body["mfa_token"], "code": self.code()}
                )
            ).json()
            self.clock.advance(30)  # that code's step is spent
        self.take(body)

    def take(self, body: Json) -> None:
        """The credential headers of a login's or a token step-up's answer."""
        if self.mode == "session":
            self.headers = {"X-CSRF-Token": body["csrf_token"]}
        else:
            self.headers = {"Authorization": f"Bearer {body['access_token']}"}

    def code(self) -> str:
        assert self.totp is not None
        return self.totp.at(self.clock.now())

    async def reauth(self, proof: Json) -> httpx.Response:
        response = await self.client.post("/auth/reauth", json=proof, headers=self.headers)
        if self.mode == "token" and response.status_code == 200:
            self.take(response.json())
        return response

    async def turn_totp_on(self) -> None:
        enrolment = await self.runtime.factors.begin_totp(self.user_id, EMAIL)
        self.totp = pyotp.TOTP(enrolment.secret)
        await self.runtime.factors.confirm_totp(self.user_id, self.code())
        self.clock.advance(30)

    async def add_passkey(self) -> None:
        self.key = SoftKey()
        options = json.loads(await self.runtime.passkeys.registration_options(self.user_id, EMAIL))
        passkey = await self.runtime.passkeys.register(
            self.user_id, self.key.create(options), "Laptop"
        )
        self.passkey_id = passkey.id

    async def passkey_proof(self, key: SoftKey | None = None) -> Json:
        options = (await self.client.post("/auth/passkey/options", json={})).json()
        signer = key or self.key
        assert signer is not None
        return {"credential": signer.get(options, self.user_id)}


@dataclass(frozen=True)
class Route:
    """A sensitive route: what the account needs first, and the request (with `extra`)."""

    name: str
    ok: int
    call: Callable[[Account, Json], Awaitable[httpx.Response]]
    totp: bool = False
    passkey: bool = False
    prepare: Callable[[Account], Awaitable[None]] | None = None


async def _email(a: Account, extra: Json) -> httpx.Response:
    body = {"new_email": "ada.new@example.com", **extra}
    return await a.client.post("/auth/email", json=body, headers=a.headers)


async def _begin_totp(a: Account, extra: Json) -> httpx.Response:
    return await a.client.post("/auth/factors/totp", json=extra, headers=a.headers)


async def _disable_totp(a: Account, extra: Json) -> httpx.Response:
    return await a.client.request("DELETE", "/auth/factors/totp", json=extra, headers=a.headers)


async def _recovery_codes(a: Account, extra: Json) -> httpx.Response:
    return await a.client.post("/auth/factors/recovery-codes", json=extra, headers=a.headers)


async def _passkey_options(a: Account, extra: Json) -> httpx.Response:
    return await a.client.post("/auth/factors/passkeys/options", json=extra, headers=a.headers)


async def _options_while_recent(a: Account) -> None:
    # The options themselves are a step-up: fetched while the login is recent.
    response = await _passkey_options(a, {})
    assert response.status_code == 200, response.text
    a.pending = SoftKey().create(response.json())


async def _add_passkey(a: Account, extra: Json) -> httpx.Response:
    body = {"credential": a.pending, "name": "Phone", **extra}
    return await a.client.post("/auth/factors/passkeys", json=body, headers=a.headers)


async def _remove_passkey(a: Account, extra: Json) -> httpx.Response:
    path = f"/auth/factors/passkeys/{a.passkey_id}"
    return await a.client.request("DELETE", path, json=extra, headers=a.headers)


ROUTES = [
    Route("change email", 202, _email),
    Route("start TOTP", 200, _begin_totp),
    Route("turn TOTP off", 204, _disable_totp, totp=True),
    Route("new recovery codes", 200, _recovery_codes, totp=True),
    Route("passkey options", 200, _passkey_options),
    Route("add a passkey", 201, _add_passkey, prepare=_options_while_recent),
    Route("remove a passkey", 204, _remove_passkey, passkey=True),
]
ROUTE_IDS = [r.name for r in ROUTES]


async def signed_in(
    route: Route, mode: str, client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> Account:
    account = Account(client, runtime, clock, mode)
    account.user_id = await register(client, EMAIL)
    if route.totp:
        await account.turn_totp_on()
    if route.passkey:
        await account.add_passkey()
    await account.sign_in()
    if route.prepare is not None:
        await route.prepare(account)
    return account


async def stale(account: Account, route: Route) -> None:
    """Let the login age past the max age; the route then answers the challenge."""
    account.clock.advance(MAX_AGE + 1)
    refused = await route.call(account, {})
    assert refused.status_code == 401, refused.text
    assert refused.headers["www-authenticate"] == CHALLENGE
    assert refused.json()["code"] == "insufficient_user_authentication"


@pytest.mark.parametrize("mode", Modes)
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
async def test_a_stale_login_is_challenged_and_a_password_reauth_lets_it_through(
    route: Route, mode: str, client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    account = await signed_in(route, mode, client, runtime, clock)
    await stale(account, route)
    wrong = await account.reauth({"password": "not the password"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_password"
    assert (await route.call(account, {})).status_code == 401  # a wrong proof moves nothing
    done = await account.reauth({"password": PASSWORD})
    assert done.status_code == (204 if mode == "session" else 200), done.text
    allowed = await route.call(account, {})
    assert allowed.status_code == route.ok, allowed.text


@pytest.mark.parametrize("mode", Modes)
@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
async def test_the_current_password_in_the_body_counts_as_a_recent_login(
    route: Route, mode: str, client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    account = await signed_in(route, mode, client, runtime, clock)
    account.clock.advance(MAX_AGE + 1)
    wrong = await route.call(account, {"current_password": "not the password"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_password"
    allowed = await route.call(account, {"current_password": PASSWORD})
    assert allowed.status_code == route.ok, allowed.text


TOTP_ROUTES = [r for r in ROUTES if r.totp]


@pytest.mark.parametrize("mode", Modes)
@pytest.mark.parametrize("route", TOTP_ROUTES, ids=[r.name for r in TOTP_ROUTES])
async def test_a_totp_code_answers_the_challenge_once(
    route: Route, mode: str, client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    account = await signed_in(route, mode, client, runtime, clock)
    await stale(account, route)
    assert (await account.reauth({"code": "000000"})).status_code in {401}
    code = account.code()
    done = await account.reauth({"code": code})
    assert done.status_code == (204 if mode == "session" else 200), done.text
    # The same code again, at once: never accepted twice.
    replayed = await account.reauth({"code": code})
    assert replayed.status_code == 401 and replayed.json()["code"] == "invalid_code"
    allowed = await route.call(account, {})
    assert allowed.status_code == route.ok, allowed.text


REMOVE = next(r for r in ROUTES if r.name == "remove a passkey")


@pytest.mark.parametrize("mode", Modes)
async def test_a_passkey_of_ones_own_answers_the_challenge(
    mode: str, client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    account = await signed_in(REMOVE, mode, client, runtime, clock)
    await stale(account, REMOVE)
    # Another user's passkey proves nothing about this one.
    bob = Account(client, runtime, clock, mode, user_id=await register(client, "bob@x.org"))
    await bob.add_passkey()
    assert bob.key is not None
    foreign = await account.reauth(await bob.passkey_proof(bob.key))
    assert foreign.status_code == 401 and foreign.json()["code"] == "invalid_code"
    done = await account.reauth(await account.passkey_proof())
    assert done.status_code == (204 if mode == "session" else 200), done.text
    allowed = await REMOVE.call(account, {})
    assert allowed.status_code == 204, allowed.text


@pytest.mark.parametrize("mode", Modes)
async def test_wrong_proofs_count_toward_the_login_and_second_factor_limits(
    mode: str, client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    route = TOTP_ROUTES[0]
    account = await signed_in(route, mode, client, runtime, clock)
    await stale(account, route)
    settings = runtime.settings
    # A wrong current password on a route and a wrong reauth password share one count.
    for _ in range(settings.login_max_failures - 1):
        assert (await route.call(account, {"current_password": "nope"})).status_code == 403
    assert (await account.reauth({"password": "nope"})).status_code == 403
    assert (await account.reauth({"password": PASSWORD})).status_code == 429
    # Wrong codes count under AUTHWARD_MFA_MAX_FAILURES, then even the right one is 429.
    for _ in range(settings.mfa_max_failures):
        assert (await account.reauth({"code": "000000"})).status_code == 401
    assert (await account.reauth({"code": account.code()})).status_code == 429
    assert (await route.call(account, {})).status_code == 401  # nothing got through


@pytest.mark.parametrize("mode", Modes)
async def test_the_password_change_always_takes_the_current_password(
    mode: str, client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    account = await signed_in(ROUTES[0], mode, client, runtime, clock)
    # Recent or not, no current password is no password change (422, not a challenge).
    missing = await client.post(
        "/auth/password", json={"new_password": "another long one"}, headers=account.headers
    )
    assert missing.status_code == 422
    account.clock.advance(MAX_AGE + 1)
    body = {"current_password": "wrong", "new_password": "another long one"}
    wrong = await client.post("/auth/password", json=body, headers=account.headers)
    assert wrong.status_code == 403
    body["current_password"] = PASSWORD
    changed = await client.post("/auth/password", json=body, headers=account.headers)
    assert changed.status_code == 204, changed.text


async def test_reauth_takes_exactly_one_proof(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    account = await signed_in(ROUTES[0], "session", client, runtime, clock)
    for body in ({}, {"password": PASSWORD, "code": "123456"}, {"password": None}):
        response = await account.reauth(body)
        assert response.status_code == 422, (body, response.text)


async def test_a_session_reauth_needs_the_csrf_token(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    account = await signed_in(ROUTES[0], "session", client, runtime, clock)
    await stale(account, ROUTES[0])
    forged = await client.post("/auth/reauth", json={"password": PASSWORD})
    assert forged.status_code == 403 and forged.json()["code"] == "csrf_rejected"
    assert (await ROUTES[0].call(account, {})).status_code == 401


async def test_a_session_reauth_shows_in_me_at_once(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    account = await signed_in(ROUTES[0], "session", client, runtime, clock)
    before = (await client.get("/auth/me")).json()
    clock.advance(MAX_AGE + 1)
    assert (await account.reauth({"password": PASSWORD})).status_code == 204
    after = (await client.get("/auth/me")).json()
    assert after["auth_time"] > before["auth_time"]
    assert (after["amr"], after["aal"]) == (before["amr"], before["aal"])
