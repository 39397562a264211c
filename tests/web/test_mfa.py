"""Second factors over HTTP: TOTP on and off, the second step of every login, recovery codes.

Time is the test's FrozenClock; codes are computed with pyotp at that clock.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import jwt
import pytest

from authward.clock import FrozenClock
from authward.runtime import Runtime
from tests.web.helpers import PASSWORD, register, session_login
from tests.web.mfa_helpers import enrolled, first_step

EMAIL = "ada@example.com"


async def test_turning_totp_on_shows_a_secret_a_uri_and_an_svg_then_ten_codes(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    headers = {"X-CSRF-Token": csrf}
    wrong = await client.post(
        "/auth/factors/totp", json={"current_password": "not it at all"}, headers=headers
    )
    assert wrong.status_code == 403
    begun = await client.post(
        "/auth/factors/totp", json={"current_password": PASSWORD}, headers=headers
    )
    assert begun.status_code == 200 and begun.headers["cache-control"] == "no-store"
    body = begun.json()
    assert len(body["secret"]) == 32  # base32 of 160 bits
    assert body["otpauth_uri"].startswith("otpauth://totp/authward:ada%40example.com?")
    assert body["qr_svg"].startswith("<svg") and "<script" not in body["qr_svg"]
    # Not on until a first valid code: a login still needs no second step.
    status = await client.get("/auth/factors")
    assert status.json() == {"totp": False, "recovery_codes_left": 0, "passkeys": []}
    import pyotp

    code = pyotp.TOTP(body["secret"]).at(clock.now())
    bad = await client.post(
        "/auth/factors/totp/confirm",
        json={"code": "000000" if code != "000000" else "111111"},
        headers=headers,
    )
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_code"
    confirmed = await client.post(
        "/auth/factors/totp/confirm", json={"code": code}, headers=headers
    )
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    status = await client.get("/auth/factors")
    assert status.json() == {"totp": True, "recovery_codes_left": 10, "passkeys": []}
    again = await client.post(
        "/auth/factors/totp", json={"current_password": PASSWORD}, headers=headers
    )
    assert again.status_code == 409


async def test_the_secret_is_stored_sealed_never_in_the_clear(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    stored = await runtime.factors.store.get_totp(ada.user_id)
    assert stored is not None
    assert ada.secret.encode() not in stored.sealed_secret
    import base64

    assert base64.b32decode(ada.secret) not in stored.sealed_secret
    for code in await runtime.factors.store.unused_codes(ada.user_id):
        assert code.code_hash.startswith("$argon2id$")
        assert all(c not in code.code_hash for c in ada.recovery_codes)


async def test_a_session_login_asks_for_the_code_then_starts_the_session(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    mfa_token = await first_step(client, EMAIL)
    done = await client.post(
        "/auth/mfa", json={"mfa_token": mfa_token, "code": ada.code(clock.now())}
    )
    assert done.status_code == 200, done.text
    assert done.json()["user"]["email"] == EMAIL and done.json()["csrf_token"]
    assert "__Host-authward_session" in done.headers["set-cookie"]
    me = (await client.get("/auth/me")).json()
    assert (me["amr"], me["aal"]) == (["pwd", "otp"], "aal2")
    assert me["auth_time"] == clock.now().isoformat().replace("+00:00", "Z")


async def test_a_token_login_asks_for_the_code_then_issues_tokens_that_say_so(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    mfa_token = await first_step(client, EMAIL, "/auth/token")
    done = await client.post(
        "/auth/mfa", json={"mfa_token": mfa_token, "code": ada.code(clock.now())}
    )
    assert done.status_code == 200, done.text
    pair = done.json()
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    login_at = int(clock.now().timestamp())
    assert (claims["amr"], claims["acr"], claims["auth_time"]) == (["pwd", "otp"], "aal2", login_at)
    # A refresh keeps the login's values: it is no new authentication.
    clock.advance(120)
    refreshed = await client.post(
        "/auth/token/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    claims = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert (claims["amr"], claims["acr"], claims["auth_time"]) == (["pwd", "otp"], "aal2", login_at)
    me = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    )
    assert (me.json()["amr"], me.json()["aal"]) == (["pwd", "otp"], "aal2")


async def test_a_code_is_accepted_with_one_step_of_drift_and_no_more(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    for steps, accepted in ((-2, False), (2, False), (-1, True)):
        mfa_token = await first_step(client, EMAIL)
        code = ada.code(clock.now(), steps)
        done = await client.post("/auth/mfa", json={"mfa_token": mfa_token, "code": code})
        assert (done.status_code == 200) is accepted, (steps, done.text)
        client.cookies.clear()
        clock.advance(90)  # three steps on: the next code is surely unspent


async def test_a_code_is_never_accepted_twice(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    code = ada.code(clock.now())
    first = await client.post(
        "/auth/mfa", json={"mfa_token": await first_step(client, EMAIL), "code": code}
    )
    assert first.status_code == 200
    client.cookies.clear()
    # The same code on a fresh login, still within its step: refused.
    second = await client.post(
        "/auth/mfa", json={"mfa_token": await first_step(client, EMAIL), "code": code}
    )
    assert second.status_code == 401 and second.json()["code"] == "invalid_code"
    # An older code, still within the drift window, is refused too: the step only advances.
    older = ada.code(clock.now(), -1)
    third = await client.post(
        "/auth/mfa", json={"mfa_token": await first_step(client, EMAIL), "code": older}
    )
    assert third.status_code == 401


async def test_the_mfa_token_is_single_use_and_lives_five_minutes(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    mfa_token = await first_step(client, EMAIL)
    done = await client.post(
        "/auth/mfa", json={"mfa_token": mfa_token, "code": ada.code(clock.now())}
    )
    assert done.status_code == 200
    clock.advance(30)
    again = await client.post(
        "/auth/mfa", json={"mfa_token": mfa_token, "code": ada.code(clock.now())}
    )
    assert again.status_code == 401 and again.json()["code"] == "invalid_token"
    late = await first_step(client, EMAIL)
    clock.advance(300)
    expired = await client.post(
        "/auth/mfa", json={"mfa_token": late, "code": ada.code(clock.now())}
    )
    assert expired.status_code == 401 and expired.json()["code"] == "invalid_token"


async def test_wrong_codes_are_throttled_per_account_apart_from_passwords(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    right = ada.code(clock.now())
    wrong = "123456" if right != "123456" else "654321"
    ceiling = runtime.settings.mfa_max_failures
    for _ in range(ceiling):
        mfa_token = await first_step(client, EMAIL)  # the password count is not touched
        refused = await client.post("/auth/mfa", json={"mfa_token": mfa_token, "code": wrong})
        assert refused.status_code == 401
    mfa_token = await first_step(client, EMAIL)
    throttled = await client.post("/auth/mfa", json={"mfa_token": mfa_token, "code": right})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    # The window passes: the right code works, and its success clears the count.
    clock.advance(runtime.settings.login_window)
    done = await client.post(
        "/auth/mfa",
        json={"mfa_token": await first_step(client, EMAIL), "code": ada.code(clock.now())},
    )
    assert done.status_code == 200, done.text


async def test_a_burst_of_wrong_codes_gets_no_further_than_the_ceiling(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    wrong = "123456" if ada.code(clock.now()) != "123456" else "654321"
    tokens = [await first_step(client, EMAIL) for _ in range(12)]
    answers = await asyncio.gather(
        *(client.post("/auth/mfa", json={"mfa_token": t, "code": wrong}) for t in tokens)
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(401) == runtime.settings.mfa_max_failures
    assert statuses.count(429) == 12 - runtime.settings.mfa_max_failures


async def test_a_recovery_code_works_once(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    ada = await enrolled(client, clock, EMAIL)
    code = ada.recovery_codes[3].upper().replace("-", " ")  # typed loosely: still the code
    done = await client.post(
        "/auth/mfa", json={"mfa_token": await first_step(client, EMAIL), "recovery_code": code}
    )
    assert done.status_code == 200, done.text
    me = (await client.get("/auth/me")).json()
    assert (me["amr"], me["aal"]) == (["pwd", "rc"], "aal2")
    assert (await client.get("/auth/factors")).json()["recovery_codes_left"] == 9
    client.cookies.clear()
    again = await client.post(
        "/auth/mfa", json={"mfa_token": await first_step(client, EMAIL), "recovery_code": code}
    )
    assert again.status_code == 401


async def test_two_concurrent_uses_of_one_recovery_code_one_wins(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    tokens = [await first_step(client, EMAIL) for _ in range(4)]
    answers = await asyncio.gather(
        *(
            client.post("/auth/mfa", json={"mfa_token": t, "recovery_code": ada.recovery_codes[0]})
            for t in tokens
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]


async def test_a_new_set_of_recovery_codes_voids_the_old(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    csrf = await session_login_with_code(client, clock, ada.code(clock.now()))
    headers = {"X-CSRF-Token": csrf}
    refused = await client.post(
        "/auth/factors/recovery-codes", json={"current_password": "wrong password"}, headers=headers
    )
    assert refused.status_code == 403
    fresh = await client.post(
        "/auth/factors/recovery-codes", json={"current_password": PASSWORD}, headers=headers
    )
    assert fresh.status_code == 200 and len(fresh.json()["recovery_codes"]) == 10
    client.cookies.clear()
    old = await client.post(
        "/auth/mfa",
        json={"mfa_token": await first_step(client, EMAIL), "recovery_code": ada.recovery_codes[0]},
    )
    assert old.status_code == 401
    new = await client.post(
        "/auth/mfa",
        json={
            "mfa_token": await first_step(client, EMAIL),
            "recovery_code": fresh.json()["recovery_codes"][0],
        },
    )
    assert new.status_code == 200


async def session_login_with_code(client: httpx.AsyncClient, clock: FrozenClock, code: str) -> str:
    mfa_token = await first_step(client, EMAIL)
    done = await client.post("/auth/mfa", json={"mfa_token": mfa_token, "code": code})
    assert done.status_code == 200, done.text
    csrf: str = done.json()["csrf_token"]
    return csrf


async def test_turning_totp_off_needs_the_password_and_ends_the_second_step(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    csrf = await session_login_with_code(client, clock, ada.code(clock.now()))
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    body = json.dumps({"current_password": "wrong password"})
    refused = await client.request("DELETE", "/auth/factors/totp", content=body, headers=headers)
    assert refused.status_code == 403
    body = json.dumps({"current_password": PASSWORD})
    done = await client.request("DELETE", "/auth/factors/totp", content=body, headers=headers)
    assert done.status_code == 204
    assert (await client.get("/auth/factors")).json()["totp"] is False
    assert await runtime.factors.store.unused_codes(ada.user_id) == []  # void with it
    client.cookies.clear()
    plain = await client.post("/auth/session/login", json={"email": EMAIL, "password": PASSWORD})
    assert plain.status_code == 200 and "csrf_token" in plain.json()
    gone = await client.request(
        "DELETE",
        "/auth/factors/totp",
        content=body,
        headers={"X-CSRF-Token": plain.json()["csrf_token"], "Content-Type": "application/json"},
    )
    assert gone.status_code == 404


async def test_a_wrong_password_gets_no_second_step(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await enrolled(client, clock, EMAIL)
    response = await client.post(
        "/auth/session/login", json={"email": EMAIL, "password": "nope nope"}
    )
    assert response.status_code == 401 and "mfa_token" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"mfa_token": "x" * 43, "code": "123456"},
        {"mfa_token": "not a token", "code": "123456"},
        {"mfa_token": "x" * 43},
        {"mfa_token": "x" * 43, "code": "1", "recovery_code": "abcd-efgh-jkmn"},
        {"mfa_token": "x" * 43, "code": "١٢٣٤٥٦"},
        {"code": "123456"},
    ],
)
async def test_malformed_second_steps_are_refused_without_a_500(
    client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    response = await client.post("/auth/mfa", json=body)
    assert response.status_code in (401, 422), response.text


async def test_the_mfa_token_is_kept_only_as_a_digest(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    from sqlalchemy import text

    from authward import crypto

    await enrolled(client, clock, EMAIL)
    mfa_token = await first_step(client, EMAIL)
    assert await runtime.factors.store.get_challenge(crypto.digest(mfa_token)) is not None
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM authward_mfa_challenges"))).all()
    assert len(rows) == 1
    assert mfa_token.encode() not in b"".join(
        v if isinstance(v, bytes) else str(v).encode() for v in rows[0]
    )


async def test_a_second_step_from_another_site_is_refused(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    mfa_token = await first_step(client, EMAIL)
    forged = await client.post(
        "/auth/mfa",
        json={"mfa_token": mfa_token, "code": ada.code(clock.now())},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403 and "set-cookie" not in forged.headers


async def test_one_mfa_token_finishes_one_login_even_with_two_right_codes_at_once(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    mfa_token = await first_step(client, EMAIL)
    answers = await asyncio.gather(
        client.post("/auth/mfa", json={"mfa_token": mfa_token, "code": ada.code(clock.now())}),
        client.post(
            "/auth/mfa", json={"mfa_token": mfa_token, "recovery_code": ada.recovery_codes[0]}
        ),
    )
    assert sorted(a.status_code for a in answers) == [200, 401]


async def test_wrong_passwords_do_not_spend_the_second_factors_count(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    for _ in range(runtime.settings.login_max_failures - 1):
        wrong = await client.post("/auth/token", json={"email": EMAIL, "password": "not it, no"})
        assert wrong.status_code == 401
    bad = "123456" if ada.code(clock.now()) != "123456" else "654321"
    for _ in range(runtime.settings.mfa_max_failures):
        refused = await client.post(
            "/auth/mfa", json={"mfa_token": await first_step(client, EMAIL), "code": bad}
        )
        assert refused.status_code == 401  # each its own count: none is 429 yet
