"""Passkeys over HTTP, against a software authenticator (python-fido2 structures).

Registration (several per account, named, excludeCredentials), sign-in with a passkey
alone (session and tokens, amr ["hwk", "user"], aal2), a passkey as the second step,
and what must be refused: a replayed, expired, foreign or spent challenge; a wrong
signature; a cloned authenticator's counter; another user's passkey; no UV.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from authward.clock import FrozenClock
from authward.runtime import Runtime
from authward.settings import Settings
from tests.conftest import make_settings
from tests.web.helpers import PASSWORD, register, session_login
from tests.web.mfa_helpers import enrolled, first_step
from tests.web.passkey_helpers import SoftKey

EMAIL = "ada@example.com"
Json = dict[str, Any]


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return make_settings(tmp_path, public_url="https://testserver")


async def registration_options(client: httpx.AsyncClient, csrf: str) -> Json:
    response = await client.post(
        "/auth/factors/passkeys/options", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    options: Json = response.json()
    return options


async def add(
    client: httpx.AsyncClient, csrf: str, key: SoftKey, name: str = "Laptop"
) -> httpx.Response:
    options = await registration_options(client, csrf)
    body = {"credential": key.create(options), "name": name, "current_password": PASSWORD}
    return await client.post("/auth/factors/passkeys", json=body, headers={"X-CSRF-Token": csrf})


async def login_options(client: httpx.AsyncClient) -> Json:
    response = await client.post("/auth/passkey/options", json={})
    assert response.status_code == 200, response.text
    options: Json = response.json()
    return options


async def with_passkey(client: httpx.AsyncClient, email: str = EMAIL) -> tuple[str, SoftKey]:
    """Register `email`, add one passkey, sign out; return the user id and the key."""
    user_id = await register(client, email)
    csrf = await session_login(client, email)
    key = SoftKey()
    assert (await add(client, csrf, key)).status_code == 201
    assert (
        await client.post("/auth/session/logout", headers={"X-CSRF-Token": csrf})
    ).status_code == 204
    client.cookies.clear()
    return user_id, key


async def passkey_login(
    client: httpx.AsyncClient, credential: Json, mode: str = "session"
) -> httpx.Response:
    return await client.post("/auth/passkey/login", json={"credential": credential, "mode": mode})


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_several_named_passkeys_are_listed_with_their_backup_state(
    client: httpx.AsyncClient,
) -> None:
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    laptop, phone = SoftKey(synced=False), SoftKey(synced=True)
    first = await add(client, csrf, laptop, "Laptop")
    assert first.status_code == 201, first.text
    assert first.json()["name"] == "Laptop" and first.json()["backed_up"] is False
    second = await add(client, csrf, phone, "  Phone ")
    assert second.status_code == 201
    listed = sorted((await client.get("/auth/factors")).json()["passkeys"], key=lambda p: p["name"])
    assert [(p["name"], p["backed_up"], p["backup_eligible"]) for p in listed] == [
        ("Laptop", False, False),
        ("Phone", True, True),
    ]
    assert set(listed[0]) == {
        "id",
        "name",
        "created_at",
        "last_used_at",
        "backed_up",
        "backup_eligible",
    }
    # The next registration's options exclude both: an authenticator is not added twice.
    options = await registration_options(client, csrf)
    excluded = {b64decode(c["id"]) for c in options["excludeCredentials"]}
    assert excluded == {laptop.credential_id, phone.credential_id}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["rp"]["id"] == "testserver"
    assert len(b64decode(options["challenge"])) == 32  # 256 bits, at least WebAuthn's 128
    # The same credential again: 409, however it got past the browser's exclusion.
    again = await add(client, csrf, laptop, "Laptop again")
    assert again.status_code == 409 and again.json()["code"] == "factor_exists"


async def test_adding_or_removing_a_passkey_needs_the_current_password(
    client: httpx.AsyncClient,
) -> None:
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    headers = {"X-CSRF-Token": csrf}
    options = await registration_options(client, csrf)
    body = {"credential": SoftKey().create(options), "name": "Laptop", "current_password": "no"}
    refused = await client.post("/auth/factors/passkeys", json=body, headers=headers)
    assert refused.status_code == 403 and refused.json()["code"] == "wrong_password"
    assert (await client.get("/auth/factors")).json()["passkeys"] == []
    added = await add(client, csrf, SoftKey())
    passkey_id = added.json()["id"]
    wrong = await client.request(
        "DELETE",
        f"/auth/factors/passkeys/{passkey_id}",
        json={"current_password": "no"},
        headers=headers,
    )
    assert wrong.status_code == 403
    removed = await client.request(
        "DELETE",
        f"/auth/factors/passkeys/{passkey_id}",
        json={"current_password": PASSWORD},
        headers=headers,
    )
    assert removed.status_code == 204
    assert (await client.get("/auth/factors")).json()["passkeys"] == []


async def test_a_passkey_alone_signs_in_with_two_factors(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user_id, key = await with_passkey(client)
    options = await login_options(client)
    assert options["userVerification"] == "required"
    assert options.get("allowCredentials", []) == []  # discoverable: no email asked
    response = await passkey_login(client, key.get(options, user_id))
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == user_id
    me = (await client.get("/auth/me")).json()
    assert (me["amr"], me["aal"]) == (["hwk", "user"], "aal2")
    listed = (await client.get("/auth/factors")).json()["passkeys"]
    assert listed[0]["last_used_at"] is not None


async def test_a_passkey_alone_gets_tokens_that_say_how(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user_id, key = await with_passkey(client)
    response = await passkey_login(client, key.get(await login_options(client), user_id), "token")
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["amr"], claims["acr"]) == (user_id, ["hwk", "user"], "aal2")


async def test_without_user_verification_a_passkey_alone_is_refused(
    client: httpx.AsyncClient,
) -> None:
    user_id, key = await with_passkey(client)
    key.uv = False
    response = await passkey_login(client, key.get(await login_options(client), user_id))
    assert response.status_code == 401 and response.json()["code"] == "invalid_code"
    assert "set-cookie" not in response.headers


async def test_a_challenge_answers_once(client: httpx.AsyncClient) -> None:
    user_id, key = await with_passkey(client)
    answer = key.get(await login_options(client), user_id)
    assert (await passkey_login(client, answer)).status_code == 200
    client.cookies.clear()
    replayed = await passkey_login(client, answer)
    assert replayed.status_code == 401


async def test_of_two_answers_to_one_challenge_at_once_one_signs_in(
    client: httpx.AsyncClient,
) -> None:
    user_id, key = await with_passkey(client)
    answer = key.get(await login_options(client), user_id)
    results = await asyncio.gather(*(passkey_login(client, answer) for _ in range(6)))
    assert sorted(r.status_code for r in results) == [200] + [401] * 5


async def test_a_challenge_lasts_five_minutes(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    user_id, key = await with_passkey(client)
    options = await login_options(client)
    clock.advance(timedelta(minutes=5))
    assert (await passkey_login(client, key.get(options, user_id))).status_code == 401
    options = await login_options(client)
    clock.advance(timedelta(minutes=4, seconds=59))
    assert (await passkey_login(client, key.get(options, user_id))).status_code == 200


async def test_a_challenge_from_nowhere_or_for_a_registration_does_not_sign_in(
    client: httpx.AsyncClient,
) -> None:
    user_id, key = await with_passkey(client)
    made_up = {"challenge": base64.urlsafe_b64encode(b"x" * 32).rstrip(b"=").decode()}
    assert (await passkey_login(client, key.get(made_up, user_id))).status_code == 401
    csrf = await session_login(client, EMAIL)
    registering = await registration_options(client, csrf)
    client.cookies.clear()
    assert (await passkey_login(client, key.get(registering, user_id))).status_code == 401


async def test_a_cloned_credential_with_another_key_is_refused(
    client: httpx.AsyncClient,
) -> None:
    user_id, key = await with_passkey(client)
    forged = key.clone(new_key=True).get(await login_options(client), user_id)
    response = await passkey_login(client, forged)
    assert response.status_code == 401 and "set-cookie" not in response.headers
    good = key.get(await login_options(client), user_id)
    assert (await passkey_login(client, good)).status_code == 200


async def test_a_counter_of_zero_is_accepted_but_one_that_goes_back_is_not(
    client: httpx.AsyncClient,
) -> None:
    user_id, key = await with_passkey(client)  # a synced passkey: the counter stays 0
    for _ in range(2):
        assert (
            await passkey_login(client, key.get(await login_options(client), user_id))
        ).status_code == 200
        client.cookies.clear()
    # An authenticator that counts: 1, 2; then a copy of it still at 1 is a clone.
    key.counts = True
    copy = key.clone()
    assert (
        await passkey_login(client, key.get(await login_options(client), user_id))
    ).status_code == 200
    client.cookies.clear()
    assert (
        await passkey_login(client, key.get(await login_options(client), user_id))
    ).status_code == 200
    client.cookies.clear()
    stale = await passkey_login(client, copy.get(await login_options(client), user_id))
    assert stale.status_code == 401


async def test_another_origin_or_rp_is_refused(client: httpx.AsyncClient) -> None:
    user_id, key = await with_passkey(client)
    phished = key.get(await login_options(client), user_id, origin="https://testserver.evil")
    assert (await passkey_login(client, phished)).status_code == 401
    other_rp = key.get(await login_options(client), user_id, rp_id="evil.example")
    assert (await passkey_login(client, other_rp)).status_code == 401


async def test_a_registration_challenge_is_bound_to_its_user(client: httpx.AsyncClient) -> None:
    await register(client, "bob@example.com")
    bob_csrf = await session_login(client, "bob@example.com")
    bobs = await registration_options(client, bob_csrf)
    client.cookies.clear()
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    body = {"credential": SoftKey().create(bobs), "name": "Mine", "current_password": PASSWORD}
    response = await client.post(
        "/auth/factors/passkeys", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 422, response.text
    assert (await client.get("/auth/factors")).json()["passkeys"] == []


async def test_a_removed_passkey_no_longer_signs_in(client: httpx.AsyncClient) -> None:
    user_id, key = await with_passkey(client)
    csrf = await session_login(client, EMAIL)
    passkey_id = (await client.get("/auth/factors")).json()["passkeys"][0]["id"]
    await register(client, "bob@example.com")
    removed = await client.request(
        "DELETE",
        f"/auth/factors/passkeys/{passkey_id}",
        json={"current_password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert removed.status_code == 204
    client.cookies.clear()
    assert (
        await passkey_login(client, key.get(await login_options(client), user_id))
    ).status_code == 401


async def test_no_one_removes_anothers_passkey(client: httpx.AsyncClient) -> None:
    await with_passkey(client)
    csrf = await session_login(client, EMAIL)
    passkey_id = (await client.get("/auth/factors")).json()["passkeys"][0]["id"]
    client.cookies.clear()
    await register(client, "bob@example.com")
    bob_csrf = await session_login(client, "bob@example.com")
    response = await client.request(
        "DELETE",
        f"/auth/factors/passkeys/{passkey_id}",
        json={"current_password": PASSWORD},
        headers={"X-CSRF-Token": bob_csrf},
    )
    assert response.status_code == 404
    client.cookies.clear()
    await session_login(client, EMAIL)
    assert len((await client.get("/auth/factors")).json()["passkeys"]) == 1
    assert csrf


async def test_a_passkey_finishes_the_second_step_of_a_password_login(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    csrf = await session_login_mfa(client, ada.code(clock.now()))
    key = SoftKey(uv=False)  # a security key without a PIN: fine after a password
    assert (await add(client, csrf, key)).status_code == 201
    client.cookies.clear()
    response = await client.post("/auth/session/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.json()["methods"] == ["totp", "recovery_code", "passkey"]
    mfa_token = response.json()["mfa_token"]
    answer = key.get(await login_options(client), ada.user_id)
    done = await client.post("/auth/mfa", json={"mfa_token": mfa_token, "credential": answer})
    assert done.status_code == 200, done.text
    me = (await client.get("/auth/me")).json()
    assert (me["amr"], me["aal"]) == (["pwd", "hwk"], "aal2")


async def test_another_users_passkey_does_not_finish_a_second_step(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    bob_id, bobs_key = await with_passkey(client, "bob@example.com")
    await enrolled(client, clock, EMAIL)
    mfa_token = await first_step(client, EMAIL)
    answer = bobs_key.get(await login_options(client), bob_id)
    response = await client.post("/auth/mfa", json={"mfa_token": mfa_token, "credential": answer})
    assert response.status_code == 401 and response.json()["code"] == "invalid_code"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"id": "x", "rawId": "x", "type": "public-key", "response": {}},
        {"id": "!!", "rawId": "!!", "type": "public-key", "response": {"clientDataJSON": "%%"}},
        json.loads('{"id": 1, "rawId": [], "response": null}'),
    ],
)
async def test_malformed_credentials_are_refused_without_a_500(
    client: httpx.AsyncClient, credential: Json
) -> None:
    assert (await passkey_login(client, credential)).status_code == 401
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    body = {"credential": credential, "name": "x", "current_password": PASSWORD}
    response = await client.post(
        "/auth/factors/passkeys", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 422


async def session_login_mfa(client: httpx.AsyncClient, code: str) -> str:
    mfa_token = await first_step(client, EMAIL)
    response = await client.post("/auth/mfa", json={"mfa_token": mfa_token, "code": code})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


async def reauth_options(client: httpx.AsyncClient, csrf: str) -> httpx.Response:
    return await client.post("/auth/reauth/options", json={}, headers={"X-CSRF-Token": csrf})


async def test_step_up_options_list_the_callers_passkeys_only(client: httpx.AsyncClient) -> None:
    await with_passkey(client, "bob@example.com")
    assert (await client.post("/auth/reauth/options", json={})).status_code == 401  # no caller
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    assert (await reauth_options(client, csrf)).status_code == 404  # no passkey to list
    laptop, phone = SoftKey(), SoftKey()
    for key, name in ((laptop, "Laptop"), (phone, "Phone")):
        assert (await add(client, csrf, key, name)).status_code == 201
    response = await reauth_options(client, csrf)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    options = response.json()
    assert options["userVerification"] == "required"
    listed = {b64decode(d["id"]) for d in options["allowCredentials"]}
    assert listed == {laptop.credential_id, phone.credential_id}  # not Bob's
    assert all(d["transports"] == ["internal", "hybrid"] for d in options["allowCredentials"])
    without_csrf = await client.post("/auth/reauth/options", json={})
    assert without_csrf.status_code == 403, without_csrf.text


async def test_a_step_up_challenge_is_answered_by_the_callers_passkey_alone(
    client: httpx.AsyncClient,
) -> None:
    bob_id, bobs_key = await with_passkey(client, "bob@example.com")
    user_id, key = await with_passkey(client)
    csrf = await session_login(client, EMAIL)
    step_up = {"credential": bobs_key.get((await reauth_options(client, csrf)).json(), bob_id)}
    refused = await client.post("/auth/reauth", json=step_up, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 401, refused.text
    # Nor does Ada's step-up challenge sign Bob in: it was made for her.
    ada_options = (await reauth_options(client, csrf)).json()
    assert (await passkey_login(client, bobs_key.get(ada_options, bob_id))).status_code == 401
    fresh = (await reauth_options(client, csrf)).json()
    answer = {"credential": key.get(fresh, user_id)}
    done = await client.post("/auth/reauth", json=answer, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 204, done.text
