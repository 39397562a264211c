"""Password reset, email verification and email change over HTTP, with the mails read
back from the real outbox table (SQLite) and their links followed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import select

from authward.accounts.link_sql import account_links
from authward.audit import audit_log
from authward.clock import FrozenClock
from authward.errors import InvalidToken, StoreUnavailable
from authward.ids import Device
from authward.mail.message import Claimed
from authward.mail.outbox import MailQueue
from authward.runtime import Runtime, build_runtime
from tests.conftest import http_client, make_settings
from tests.pages.helpers import post_form, sign_in
from tests.web.helpers import PASSWORD, register, session_cookie, session_login, status_as

PUBLIC_URL = "https://auth.example.com"
NEW_PASSWORD = "a different horse battery"
TOKEN_IN_LINK = re.compile(r"token=([A-Za-z0-9_-]{43})")
INVALID_LINK = {"detail": "This link is invalid or has expired.", "code": "invalid_link"}


@asynccontextmanager
async def service(
    tmp_path: Path, clock: FrozenClock, **overrides: Any
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    settings = make_settings(tmp_path, public_url=PUBLIC_URL, **overrides)
    runtime = build_runtime(settings, clock=clock)
    await runtime.open(background=False)
    try:
        async with http_client(runtime) as client:
            yield runtime, client
    finally:
        await runtime.close()


@pytest.fixture
async def optional(
    tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async with service(tmp_path, clock) as pair:
        yield pair


@pytest.fixture
async def required(
    tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async with service(tmp_path, clock, email_verification="required") as pair:
        yield pair


async def mails(runtime: Runtime) -> list[Claimed]:
    """Take every mail queued since the last call, from the outbox table."""
    queue = cast(MailQueue, runtime.outbox)
    return await queue.claim(runtime.clock.now(), timedelta(hours=1), 100)


async def only_mail(runtime: Runtime, to: str, template: str) -> Claimed:
    taken = await mails(runtime)
    assert [(m.to, m.template) for m in taken] == [(to, template)]
    return taken[0]


def token_of(mail: Claimed) -> str:
    found = TOKEN_IN_LINK.search(mail.body.text)
    assert found is not None, mail.body.text
    return found.group(1)


async def forgot(client: httpx.AsyncClient, email: str, **kw: Any) -> httpx.Response:
    return await client.post("/auth/password/forgot", json={"email": email}, **kw)


async def reset(client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD) -> Any:
    return await client.post(
        "/auth/password/reset", json={"token": token, "new_password": password}
    )


async def reset_token(runtime: Runtime, client: httpx.AsyncClient, email: str) -> str:
    assert (await forgot(client, email)).status_code == 202
    return token_of(await only_mail(runtime, email, "password_reset"))


async def events(runtime: Runtime) -> list[str]:
    async with runtime.engine.connect() as conn:
        return list((await conn.execute(select(audit_log.c.event))).scalars())


# --- password reset -----------------------------------------------------------------


async def test_forgot_answers_alike_for_existing_unknown_and_disabled_emails(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    disabled = await register(client, "bob@example.com")
    await runtime.lifecycle.disable(disabled)
    await mails(runtime)  # the registrations' verification mails
    answers = [
        await forgot(client, email)
        for email in ("ada@example.com", "nobody@example.com", "bob@example.com", "not an email")
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    assert answers[0].json()["code"] == "accepted"
    assert len({tuple(sorted(a.headers.items())) for a in answers}) == 1
    await only_mail(runtime, "ada@example.com", "password_reset")


async def test_reset_link_is_built_from_the_public_url_never_from_host(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    await mails(runtime)
    await forgot(client, "ada@example.com", headers={"Host": "evil.example"})
    mail = await only_mail(runtime, "ada@example.com", "password_reset")
    assert f"{PUBLIC_URL}/reset?token={token_of(mail)}" in mail.body.text
    assert "evil.example" not in mail.body.text + mail.body.html


async def test_reset_sets_the_password_and_ends_every_session_and_family(
    optional: tuple[Runtime, httpx.AsyncClient], tmp_path: Path, clock: FrozenClock
) -> None:
    runtime, client = optional
    user_id = await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    session_id = session_cookie(client)
    pair = await runtime.tokens.issue(user_id, Device("phone", "198.51.100.7"))
    # A second node on the same database, which has already seen the access token.
    other = build_runtime(runtime.settings, clock=clock)
    await other.open(migrate=False, background=False)
    try:
        other.tokens.verify(pair.access_token)
        await mails(runtime)
        token = await reset_token(runtime, client, "ada@example.com")
        response = await reset(client, token)
        assert response.status_code == 204, response.text
        assert await status_as(client, session_id) == 401
        with pytest.raises(InvalidToken):
            await runtime.tokens.refresh(pair.refresh_token, Device("phone", "198.51.100.7"))
        await other.tokens.sync_revocations()
        with pytest.raises(InvalidToken):
            other.tokens.verify(pair.access_token)
    finally:
        await other.close()
    notice = await only_mail(runtime, "ada@example.com", "password_changed")
    assert NEW_PASSWORD not in notice.body.text
    user = await runtime.accounts.users.get(user_id)
    assert user is not None and user.email_verified
    assert "password_reset" in await events(runtime)
    bad = await client.post(
        "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert bad.status_code == 401
    await session_login(client, "ada@example.com", NEW_PASSWORD)


async def test_any_unusable_reset_token_gets_one_400(
    optional: tuple[Runtime, httpx.AsyncClient], clock: FrozenClock
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    await mails(runtime)
    older = await reset_token(runtime, client, "ada@example.com")
    used = await reset_token(runtime, client, "ada@example.com")  # voids `older`
    assert (await reset(client, used)).status_code == 204
    await only_mail(runtime, "ada@example.com", "password_changed")
    expired = await reset_token(runtime, client, "ada@example.com")
    clock.advance(runtime.settings.reset_ttl)
    for token in (older, used, expired, "", "x" * 43, "%00" * 20, "a" * 5000, used + "A"):
        response = await reset(client, token)
        assert (response.status_code, response.json()) == (400, INVALID_LINK), token


async def test_a_short_password_keeps_the_link_usable(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    await mails(runtime)
    token = await reset_token(runtime, client, "ada@example.com")
    assert (await reset(client, token, "short")).status_code == 422
    assert (await reset(client, token)).status_code == 204


async def test_a_password_change_voids_the_reset_link(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    await mails(runtime)
    token = await reset_token(runtime, client, "ada@example.com")
    changed = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204
    assert (await reset(client, token, "yet another password")).status_code == 400


async def test_forgot_is_throttled_per_address_and_silently_per_account(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    await mails(runtime)
    policy_max = 10  # ThrottlePolicy.mail_address_max_attempts
    answers = [await forgot(client, "ada@example.com") for _ in range(policy_max)]
    assert {a.status_code for a in answers} == {202}
    # Three mails to the account within the window, however many requests: the rest
    # were answered alike but sent nothing.
    assert [m.template for m in await mails(runtime)] == ["password_reset"] * 3
    throttled = await forgot(client, "nobody@example.com")
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "too_many_attempts"
    assert "Retry-After" in throttled.headers


# --- email verification ---------------------------------------------------------------


async def test_optional_mode_mails_a_link_that_only_a_post_uses(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    mail = await only_mail(runtime, "ada@example.com", "verify_email")
    token = token_of(mail)
    assert f"{PUBLIC_URL}/verify?token={token}" in mail.body.text
    await session_login(client, "ada@example.com")  # optional: unverified may sign in
    assert (await client.get(f"/auth/email/verify?token={token}")).status_code == 405
    me = await client.get("/auth/me")
    assert me.json()["email_verified"] is False
    client.cookies.clear()
    response = await client.post("/auth/email/verify", json={"token": token})
    assert response.status_code == 204, response.text
    assert (await client.post("/auth/email/verify", json={"token": token})).json() == INVALID_LINK
    await session_login(client, "ada@example.com")
    assert (await client.get("/auth/me")).json()["email_verified"] is True
    assert "email_verified" in await events(runtime)


async def test_off_mode_mails_nothing(tmp_path: Path, clock: FrozenClock) -> None:
    async with service(tmp_path, clock, email_verification="off") as (runtime, client):
        await register(client, "ada@example.com")
        assert await mails(runtime) == []


async def test_the_owner_verifying_ends_the_squatters_sessions(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    """Someone registered the owner's address first and signed in: once the owner uses
    the link that went to their inbox, that someone's session ends."""
    runtime, client = optional
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    squatter = session_cookie(client)
    token = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    client.cookies.clear()
    assert (await client.post("/auth/email/verify", json={"token": token})).status_code == 204
    assert await status_as(client, squatter) == 401


async def test_required_mode_registration_answers_alike(
    required: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = required
    body = {"email": "ada@example.com", "password": PASSWORD}
    first = await client.post("/auth/register", json=body)
    assert first.status_code == 202, first.text
    await only_mail(runtime, "ada@example.com", "verify_email")
    again = await client.post("/auth/register", json={**body, "password": "another password"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.content == again.content
    assert sorted(first.headers.items()) == sorted(again.headers.items())
    notice = await only_mail(runtime, "ada@example.com", "email_taken")
    assert f"{PUBLIC_URL}/forgot" in notice.body.text
    assert (await client.post("/auth/register", json={**body, "password": "x"})).status_code == 422


async def test_required_mode_refuses_an_unverified_login_and_mails_a_fresh_link(
    required: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = required
    body = {"email": "ada@example.com", "password": PASSWORD}
    await client.post("/auth/register", json=body)
    first = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    refused = await client.post("/auth/session/login", json=body)
    assert refused.status_code == 403
    assert refused.json()["code"] == "email_not_verified"
    assert "set-cookie" not in refused.headers
    fresh = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    token_login = await client.post("/auth/token", json=body)
    assert token_login.status_code == 403
    for _ in range(3):
        await client.post("/auth/session/login", json=body)
    # Three reminders to the account per window (the token login's and one more of the
    # session logins'), however many refused logins: no flood.
    reminders = await mails(runtime)
    assert [m.template for m in reminders] == ["verify_email"] * 2
    wrong = await client.post("/auth/session/login", json={**body, "password": "wrong one!"})
    assert wrong.status_code == 401  # a wrong password learns nothing of verification
    assert await mails(runtime) == []
    for voided in (first, fresh):  # each newer link voided the older
        assert (await client.post("/auth/email/verify", json={"token": voided})).status_code == 400
    newest = token_of(reminders[-1])
    assert (await client.post("/auth/email/verify", json={"token": newest})).status_code == 204
    await session_login(client, "ada@example.com")


async def test_resend_answers_alike_and_mails_only_an_unverified_account(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    await mails(runtime)
    answers = [
        await client.post("/auth/email/verify/resend", json={"email": email})
        for email in ("ada@example.com", "nobody@example.com")
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].content == answers[1].content
    await only_mail(runtime, "ada@example.com", "verify_email")
    csrf = await session_login(client, "ada@example.com")
    signed_in = await client.post("/auth/email/verify/resend", headers={"X-CSRF-Token": csrf})
    assert signed_in.status_code == 202
    token = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    client.cookies.clear()
    assert (await client.post("/auth/email/verify", json={"token": token})).status_code == 204
    await client.post("/auth/email/verify/resend", json={"email": "ada@example.com"})
    assert await mails(runtime) == []  # verified: nothing to resend
    assert (await client.post("/auth/email/verify/resend", json={})).status_code == 422


# --- email change -----------------------------------------------------------------------


async def change_email(client: httpx.AsyncClient, csrf: str, new: str, password: str) -> Any:
    return await client.post(
        "/auth/email",
        json={"new_email": new, "current_password": password},
        headers={"X-CSRF-Token": csrf},
    )


async def test_email_change_goes_through_the_new_address(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    user_id = await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    await mails(runtime)
    reset_link = await reset_token(runtime, client, "ada@example.com")
    assert (await change_email(client, csrf, "ada@new.example", PASSWORD)).status_code == 202
    taken = await mails(runtime)
    assert sorted((m.to, m.template) for m in taken) == [
        ("ada@example.com", "email_change_notice"),
        ("ada@new.example", "email_change_confirm"),
    ]
    assert (await client.get("/auth/me")).json()["email"] == "ada@example.com"  # not yet
    confirm = next(m for m in taken if m.template == "email_change_confirm")
    used = await client.post(
        "/auth/email/verify", json={"token": token_of(confirm)}, headers={"X-CSRF-Token": csrf}
    )
    assert used.status_code == 204
    me = (await client.get("/auth/me")).json()
    assert (me["email"], me["email_verified"]) == ("ada@new.example", True)
    after = await only_mail(runtime, "ada@example.com", "email_change_notice")
    assert "ada@new.example" in after.body.text
    # The reset link went to the old address: the change voided it.
    assert (await reset(client, reset_link)).status_code == 400
    assert "email_changed" in await events(runtime)
    user = await runtime.accounts.users.get(user_id)
    assert user is not None and user.email == "ada@new.example"


async def test_email_change_to_a_taken_address_answers_alike_and_changes_nothing(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    await register(client, "bob@example.com")
    await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    await mails(runtime)
    free = await change_email(client, csrf, "ada@new.example", PASSWORD)
    await mails(runtime)
    taken = await change_email(client, csrf, "bob@example.com", PASSWORD)
    assert (free.status_code, free.content) == (taken.status_code, taken.content)
    await only_mail(runtime, "ada@example.com", "email_change_notice")
    assert (await client.get("/auth/me")).json()["email"] == "ada@example.com"


async def test_email_change_with_a_wrong_password_is_a_failed_login(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    await mails(runtime)
    wrong = await change_email(client, csrf, "ada@new.example", "wrong password")
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")
    for _ in range(runtime.settings.login_max_failures - 1):
        await change_email(client, csrf, "ada@new.example", "wrong password")
    # The login throttle's count: now even the right password waits, and so does a login.
    assert (await change_email(client, csrf, "ada@new.example", PASSWORD)).status_code == 429
    login = await client.post(
        "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert login.status_code == 429
    assert await mails(runtime) == []


async def test_links_are_stored_as_digests_only(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    token = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(select(account_links))).mappings().all()
    assert len(rows) == 1
    assert token.encode() not in repr(dict(rows[0])).encode()
    assert len(rows[0]["digest"]) == 32


async def test_a_link_is_refused_once_the_account_left_its_address(
    optional: tuple[Runtime, httpx.AsyncClient],
) -> None:
    """Bound to the address: even a link nothing voided (the address moved under the
    store, not through the email change, which voids links too) no longer works."""
    runtime, client = optional
    user_id = await register(client, "ada@example.com")
    verify = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    token = await reset_token(runtime, client, "ada@example.com")
    users = runtime.accounts.users
    assert await users.change_email(user_id, "ada@new.example", expected="ada@example.com")
    for path, body in (
        ("/auth/password/reset", {"token": token, "new_password": NEW_PASSWORD}),
        ("/auth/email/verify", {"token": verify}),
    ):
        response = await client.post(path, json=body)
        assert response.status_code == 400, path
        assert response.json() == INVALID_LINK


async def test_forgot_looks_nobody_up_before_it_answers(
    optional: tuple[Runtime, httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The lookup runs after the answer: even a user store that fails cannot change it
    (nor, then, can the time a lookup takes)."""
    runtime, client = optional

    async def broken(_email: str) -> None:
        raise StoreUnavailable("users")

    monkeypatch.setattr(runtime.accounts.users, "get_by_email", broken)
    response = await forgot(client, "ada@example.com")
    assert response.status_code == 202
    assert "background work PasswordReset.send failed" in caplog.text


# --- the sign-up and sign-in pages under required verification -------------------------


async def test_required_mode_pages_sign_nobody_in_before_verification(
    required: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = required
    fields = {"email": "ada@example.com", "password": PASSWORD}
    first = await post_form(client, "/register", fields, token_from="/register")
    assert (first.status_code, first.headers["location"]) == (303, "/login?notice=check-mail")
    assert (
        "set-cookie" not in first.headers or "authward_session" not in first.headers["set-cookie"]
    )
    token = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    again = await post_form(client, "/register", fields, token_from="/register")
    assert (again.status_code, again.headers["location"]) == (303, "/login?notice=check-mail")
    await only_mail(runtime, "ada@example.com", "email_taken")
    refused = await sign_in(client, "ada@example.com")
    assert refused.status_code == 403
    assert "Verify your email address first" in refused.text
    assert client.cookies.get("__Host-authward_session") is None
    await mails(runtime)
    assert (await client.post("/auth/email/verify", json={"token": token})).status_code == 400
    fresh = await client.post("/auth/email/verify/resend", json={"email": "ada@example.com"})
    assert fresh.status_code == 202
    token = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    assert (await client.post("/auth/email/verify", json={"token": token})).status_code == 204
    assert (await sign_in(client, "ada@example.com")).status_code == 303


async def test_one_reset_link_used_at_once_on_two_nodes_works_once(
    optional: tuple[Runtime, httpx.AsyncClient], clock: FrozenClock
) -> None:
    runtime, client = optional
    await register(client, "ada@example.com")
    await mails(runtime)
    token = await reset_token(runtime, client, "ada@example.com")
    other = build_runtime(runtime.settings, clock=clock)
    await other.open(migrate=False, background=False)
    try:
        async with http_client(other) as second:
            answers = await asyncio.gather(
                *(
                    reset(node, token, f"new password {n}")
                    for n, node in enumerate([client, second] * 3)
                )
            )
    finally:
        await other.close()
    assert sorted(a.status_code for a in answers) == [204, 400, 400, 400, 400, 400]
