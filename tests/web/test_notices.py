"""Notice mails: each change to how an account signs in queues exactly one, read back from
the real outbox (SQLite), and none holds a code, a secret or a password."""

from __future__ import annotations

import httpx

from authward.clock import FrozenClock
from authward.mail.message import Claimed
from authward.runtime import Runtime
from tests.web.helpers import PASSWORD
from tests.web.mfa_helpers import enrolled, first_step
from tests.web.test_mailed_links import NEW_PASSWORD, mails, token_of

EMAIL = "ada@example.com"


async def one_notice(runtime: Runtime, template: str = "security_notice") -> Claimed:
    """The one mail queued since the last call but a verification mail (registration's)."""
    taken = [m for m in await mails(runtime) if m.template != "verify_email"]
    assert [(m.to, m.template) for m in taken] == [(EMAIL, template)]
    return taken[0]


async def test_each_factor_and_password_change_queues_one_notice(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    notices: list[Claimed] = []
    ada = await enrolled(client, clock, EMAIL)
    notices.append(await one_notice(runtime))
    assert "turned on" in notices[-1].body.text

    token = await first_step(client, EMAIL)
    code = "123456" if ada.code(clock.now()) != "123456" else "654321"
    wrong = await client.post("/auth/mfa", json={"mfa_token": token, "code": code})
    assert wrong.status_code == 401
    assert await mails(runtime) == []  # a refused code is an event, not a change
    done = await client.post(
        "/auth/mfa", json={"mfa_token": token, "recovery_code": ada.recovery_codes[0]}
    )
    assert done.status_code == 200, done.text
    notices.append(await one_notice(runtime))
    assert "recovery code was used" in notices[-1].body.text
    headers = {"X-CSRF-Token": done.json()["csrf_token"]}

    fresh = await client.post(
        "/auth/factors/recovery-codes", json={"current_password": PASSWORD}, headers=headers
    )
    assert fresh.status_code == 200
    new_codes: list[str] = fresh.json()["recovery_codes"]
    notices.append(await one_notice(runtime))
    assert "new set of recovery codes" in notices[-1].body.text

    off = await client.request(
        "DELETE", "/auth/factors/totp", json={"current_password": PASSWORD}, headers=headers
    )
    assert off.status_code == 204
    notices.append(await one_notice(runtime))
    assert "turned off" in notices[-1].body.text

    changed = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 204, changed.text
    notices.append(await one_notice(runtime))
    assert "password was changed" in notices[-1].body.text

    await runtime.flows.reset.send(EMAIL)
    link = token_of(await one_notice(runtime, "password_reset"))
    await runtime.flows.reset.complete(link, "yet another horse battery")
    notices.append(await one_notice(runtime, "password_changed"))

    secrets = [ada.secret, *ada.recovery_codes, *new_codes, PASSWORD, NEW_PASSWORD, link]
    secrets += [code.replace("-", "") for code in [*ada.recovery_codes, *new_codes]]
    for notice in notices:
        for text in (notice.body.text, notice.body.html, notice.body.subject):
            assert not [s for s in secrets if s in text]
            assert "token=" not in text
