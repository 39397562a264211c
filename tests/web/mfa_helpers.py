"""Steps the second-factor tests repeat: turn TOTP on, compute codes at the test's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
import pyotp

from authward.clock import FrozenClock
from tests.web.helpers import PASSWORD, register, session_login


@dataclass
class Enrolled:
    user_id: str
    secret: str
    recovery_codes: list[str]

    def code(self, at: datetime, steps: int = 0) -> str:
        """The TOTP code of the step `steps` away from `at`'s."""
        return pyotp.TOTP(self.secret).at(int(at.timestamp()) + 30 * steps)


async def enrolled(client: httpx.AsyncClient, clock: FrozenClock, email: str) -> Enrolled:
    """Register `email`, turn TOTP on for it, sign out; the clock ends a step later."""
    user_id = await register(client, email)
    csrf = await session_login(client, email)
    headers = {"X-CSRF-Token": csrf}
    begun = await client.post(
        "/auth/factors/totp", json={"current_password": PASSWORD}, headers=headers
    )
    assert begun.status_code == 200, begun.text
    secret = begun.json()["secret"]
    confirmed = await client.post(
        "/auth/factors/totp/confirm",
        json={"code": pyotp.TOTP(secret).at(clock.now())},
        headers=headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert (await client.post("/auth/session/logout", headers=headers)).status_code == 204
    client.cookies.clear()
    clock.advance(30)  # the confirming code's step is spent: tests start on a fresh one
    return Enrolled(user_id, secret, confirmed.json()["recovery_codes"])


async def first_step(
    client: httpx.AsyncClient, email: str, path: str = "/auth/session/login"
) -> str:
    """The right password for an account with a factor: return the mfa_token."""
    response = await client.post(path, json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mfa_required"] is True and "set-cookie" not in response.headers
    assert "access_token" not in body and "csrf_token" not in body
    token: str = body["mfa_token"]
    return token
