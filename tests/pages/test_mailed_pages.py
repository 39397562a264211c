"""The pages of the mailed links over HTTP: forgot, reset, verify, and the account page's
address section. The mails are read back from the real outbox table (SQLite)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from tests.conftest import http_client, make_settings
from tests.pages.helpers import (
    PASSWORD,
    SAME_ORIGIN,
    account_token,
    form_token,
    post_form,
    sign_in,
    sign_up,
)
from tests.web.test_mailed_links import mails, only_mail, token_of

NEW_PASSWORD = "a different horse battery"
RESET_COOKIE = "__Secure-authward_reset"
SESSION_COOKIE = "__Host-authward_session"
VOID = "This link is invalid or has expired."


@pytest.fixture
async def runtime(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Runtime]:
    built = build_runtime(make_settings(tmp_path), clock=clock)
    await built.open(background=False)
    yield built
    await built.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(runtime) as c:
        yield c


async def _reset_link(runtime: Runtime, client: httpx.AsyncClient, email: str) -> str:
    """Ask for a reset on the forgot page; the path and query of the mailed link."""
    response = await post_form(client, "/forgot", {"email": email}, token_from="/forgot")
    assert response.status_code == 200, response.text
    link = token_of(await only_mail(runtime, email, "password_reset"))
    return f"/reset?token={link}"


async def _registered(runtime: Runtime, client: httpx.AsyncClient, email: str) -> None:
    await sign_up(client, email)
    await mails(runtime)  # the registration's verification mail
    client.cookies.delete(SESSION_COOKIE)


# --- forgot -----------------------------------------------------------------------------


async def test_login_links_to_forgot_whose_page_gives_no_referrer(
    client: httpx.AsyncClient,
) -> None:
    assert 'href="/forgot"' in (await client.get("/login")).text
    response = await client.get("/forgot")
    assert response.status_code == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    assert '<label for="email">' in response.text


async def test_forgot_answers_one_page_for_known_and_unknown_emails(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _registered(runtime, client, "ada@example.com")
    answers = []
    for email in ("ada@example.com", "nobody@example.com", "not an email"):
        answer = await post_form(client, "/forgot", {"email": email}, token_from="/forgot")
        assert answer.status_code == 200
        # The form's CSRF token differs per answer; the rest of the page must not.
        answers.append(re.sub(r'name="csrf_token" value="[^"]+"', "", answer.text))
    assert len(set(answers)) == 1
    assert "Check your mail" in answers[0]
    sent = await mails(runtime)
    assert [(m.to, m.template) for m in sent] == [("ada@example.com", "password_reset")]


async def test_forgot_refuses_a_post_without_the_form_token(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _registered(runtime, client, "ada@example.com")
    await form_token(client, "/forgot")  # the nonce cookie is there; the form field is not
    response = await client.post("/forgot", data={"email": "ada@example.com"}, headers=SAME_ORIGIN)
    assert response.status_code == 403
    cross = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
    token = await form_token(client, "/forgot")
    fields = {"email": "ada@example.com", "csrf_token": token}
    assert (await client.post("/forgot", data=fields, headers=cross)).status_code == 403
    assert await mails(runtime) == []


# --- reset ------------------------------------------------------------------------------


async def test_the_reset_link_moves_its_token_into_a_strict_cookie_and_out_of_the_url(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _registered(runtime, client, "ada@example.com")
    link = await _reset_link(runtime, client, "ada@example.com")
    response = await client.get(link)
    assert response.status_code == 303
    assert response.headers["location"] == "/reset"
    assert response.headers["referrer-policy"] == "no-referrer"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{RESET_COOKIE}={link.partition('=')[2]};")
    for attribute in ("httponly", "secure", "path=/reset", "samesite=strict", "max-age=900"):
        assert attribute in cookie.lower()
    form = await client.get("/reset")
    assert form.status_code == 200
    assert form.headers["referrer-policy"] == "no-referrer"
    assert link.partition("=")[2] not in form.text
    # Nothing is loaded from elsewhere: every src and href stays on this origin.
    assert not re.search(r'(?:src|href)="(?:https?:)?//', form.text)


async def test_a_reset_sets_the_password_ends_every_session_and_spends_the_link(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _registered(runtime, client, "ada@example.com")
    async with http_client(runtime) as other:  # a session someone else may hold
        assert (await sign_in(other, "ada@example.com")).status_code == 303
        link = await _reset_link(runtime, client, "ada@example.com")
        await client.get(link)
        fields = {"new_password": NEW_PASSWORD}
        done = await post_form(client, "/reset", fields, token_from="/reset")
        assert done.status_code == 303
        assert done.headers["location"] == "/login?notice=reset"
        assert "max-age=0" in done.headers["set-cookie"].lower()  # the cookie is dropped
        assert (await other.get("/auth/me")).status_code == 401
    login = await client.get("/login?notice=reset")
    assert "Your password was changed" in login.text
    assert (await sign_in(client, "ada@example.com")).status_code == 400  # the old one
    assert (await sign_in(client, "ada@example.com", NEW_PASSWORD)).status_code == 303
    # The same link again, as if its cookie were kept: refused, one answer for all.
    client.cookies.delete(SESSION_COOKIE)
    await client.get(link)
    again = await post_form(
        client, "/reset", {"new_password": "yet another horse"}, token_from="/reset"
    )
    assert again.status_code == 400
    assert VOID in again.text
    assert (await sign_in(client, "ada@example.com", NEW_PASSWORD)).status_code == 303


async def test_a_refused_password_keeps_the_link_usable(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _registered(runtime, client, "ada@example.com")
    await client.get(await _reset_link(runtime, client, "ada@example.com"))
    weak = await post_form(client, "/reset", {"new_password": "short"}, token_from="/reset")
    assert weak.status_code == 400
    assert "Password must be 8" in weak.text
    fields = {"new_password": NEW_PASSWORD}
    assert (await post_form(client, "/reset", fields, token_from="/reset")).status_code == 303


async def test_reset_refuses_a_post_without_the_form_token_and_keeps_the_link(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _registered(runtime, client, "ada@example.com")
    await client.get(await _reset_link(runtime, client, "ada@example.com"))
    forged = await client.post(
        "/reset", data={"new_password": "attacker's choice!"}, headers=SAME_ORIGIN
    )
    assert forged.status_code == 403
    assert (await sign_in(client, "ada@example.com")).status_code == 303  # unchanged


@pytest.mark.parametrize("token", ["", "not-a-token", "A" * 43, "x" * 5000])
async def test_any_unusable_reset_token_gets_the_same_page(
    client: httpx.AsyncClient, token: str
) -> None:
    await client.get(f"/reset?token={token}")
    response = await post_form(
        client, "/reset", {"new_password": NEW_PASSWORD}, token_from="/reset"
    )
    assert response.status_code == 400
    assert VOID in response.text


# --- verify -----------------------------------------------------------------------------


async def test_a_get_of_the_verification_link_verifies_nothing_the_button_does(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await sign_up(client, "ada@example.com")
    token = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    shown = await client.get(f"/verify?token={token}")
    assert shown.status_code == 200
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert 'action="/verify"' in shown.text
    user = await runtime.accounts.users.get_by_email("ada@example.com")
    assert user is not None and not user.email_verified
    assert "not confirmed" in (await client.get("/account")).text
    done = await post_form(client, "/verify", {"token": token}, token_from=f"/verify?token={token}")
    assert done.status_code == 303
    assert done.headers["location"] == "/account?notice=verified"
    user = await runtime.accounts.users.get_by_email("ada@example.com")
    assert user is not None and user.email_verified
    account = await client.get(done.headers["location"])  # this browser's session was kept
    assert account.status_code == 200 and "Your email is confirmed." in account.text
    assert 'id="email-state">confirmed' in account.text
    again = await post_form(
        client, "/verify", {"token": token}, token_from=f"/verify?token={token}"
    )
    assert again.status_code == 400
    assert VOID in again.text


async def test_verify_refuses_a_post_without_the_form_token(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await sign_up(client, "ada@example.com")
    token = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    await form_token(client, f"/verify?token={token}")
    forged = await client.post("/verify", data={"token": token}, headers=SAME_ORIGIN)
    assert forged.status_code == 403
    user = await runtime.accounts.users.get_by_email("ada@example.com")
    assert user is not None and not user.email_verified


# --- the account page: resend, change email -------------------------------------------


async def test_the_account_page_resends_the_confirmation_link(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await sign_up(client, "ada@example.com")
    await mails(runtime)
    csrf = await account_token(client)
    response = await post_form(client, "/account/verify/resend", {"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/account?notice=resent"
    await only_mail(runtime, "ada@example.com", "verify_email")
    forged = await client.post("/account/verify/resend", data={}, headers=SAME_ORIGIN)
    assert forged.status_code == 403
    assert await mails(runtime) == []


async def test_the_account_page_changes_the_email_through_the_new_address(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await sign_up(client, "ada@example.com")
    await mails(runtime)
    fields = {"new_email": "ada@new.example", "current_password": "wrong password!"}
    wrong = await post_form(
        client, "/account/email", {**fields, "csrf_token": await account_token(client)}
    )
    assert wrong.status_code == 400
    assert "current password is not correct" in wrong.text
    assert await mails(runtime) == []
    fields["current_password"] = PASSWORD
    forged = await client.post("/account/email", data=fields, headers=SAME_ORIGIN)
    assert forged.status_code == 403
    assert await mails(runtime) == []
    asked = await post_form(
        client, "/account/email", {**fields, "csrf_token": await account_token(client)}
    )
    assert asked.status_code == 303
    assert asked.headers["location"] == "/account?notice=email"
    sent = {m.to: m for m in await mails(runtime)}
    assert sent.keys() == {"ada@example.com", "ada@new.example"}
    token = token_of(sent["ada@new.example"])
    await post_form(client, "/verify", {"token": token}, token_from=f"/verify?token={token}")
    account = await client.get("/account")
    assert "ada@new.example" in account.text


async def test_the_account_page_tells_nothing_about_a_taken_new_address(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _registered(runtime, client, "bob@example.com")
    await sign_up(client, "ada@example.com")
    await mails(runtime)
    answers = []
    for new_email in ("bob@example.com", "free@example.com"):
        fields = {"new_email": new_email, "current_password": PASSWORD}
        answer = await post_form(
            client, "/account/email", {**fields, "csrf_token": await account_token(client)}
        )
        answers.append((answer.status_code, answer.headers["location"]))
    assert answers[0] == answers[1] == (303, "/account?notice=email")


@pytest.mark.parametrize("token", ["", "not-a-token", "A" * 43, "x" * 5000, "é\u0000"])
async def test_any_unusable_verification_token_gets_the_same_page(
    runtime: Runtime, client: httpx.AsyncClient, token: str
) -> None:
    await sign_up(client, "ada@example.com")
    good = token_of(await only_mail(runtime, "ada@example.com", "verify_email"))
    csrf = await form_token(client, f"/verify?token={good}")
    response = await post_form(client, "/verify", {"token": token, "csrf_token": csrf})
    assert response.status_code == 400
    assert VOID in response.text
    shown = await client.get("/verify", params={"token": token})
    assert shown.status_code == 200
    # No button for what cannot be a token; one that might be is only known by using it.
    assert (VOID in shown.text) is (token != "A" * 43)
