"""The Authenticator keeps the one order of credentials, on a real runtime (SQLite).

The order: the Authorization header decides alone, then the session cookie, then (with
token cookies) the access cookie, which is also read when the session cookie no longer
works. A CSRF refusal never falls through to another credential.
"""

from collections.abc import AsyncIterator

import pytest

from authward import crypto
from authward.auth import JWT_ONLY, SESSION_ONLY, Authenticator
from authward.auth.transports import bearer_token, credential_headers
from authward.clock import FrozenClock
from authward.errors import CsrfRejected, InvalidToken, NotAuthenticated
from authward.ids import Device
from authward.remote import verifier
from authward.runtime import Runtime, build_runtime
from tests.conftest import make_settings

SESSION = "__Host-authward_session"
ACCESS = "__Host-authward_access"


class Presented:
    """The CSRF token a request would present, and whether anyone asked for it."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.asked = 0


async def read_csrf(presented: Presented) -> str | None:
    presented.asked += 1
    return presented.token


@pytest.fixture
async def runtime(tmp_path: object, clock: FrozenClock) -> AsyncIterator[Runtime]:
    built = build_runtime(make_settings(tmp_path, token_cookies=True), clock=clock)
    await built.open(background=False)
    yield built
    await built.close()


async def session_of(runtime: Runtime) -> str:
    started = await runtime.sessions.start(crypto.new_user_id(), Device())
    return started.session_id


async def token_of(runtime: Runtime) -> tuple[str, str]:
    """An access token and its family's id."""
    pair = await runtime.tokens.issue(crypto.new_user_id(), Device())
    return pair.access_token, pair.family.id


async def test_a_bad_bearer_header_decides_alone(runtime: Runtime) -> None:
    session_id = await session_of(runtime)
    cookies = [f"{SESSION}={session_id}"]
    with pytest.raises(InvalidToken):
        await runtime.authenticator.caller(
            Presented(), read_csrf, "GET", "Bearer not-a-token", cookies
        )


async def test_a_stale_session_cookie_does_not_hide_a_live_token_cookie(
    runtime: Runtime,
) -> None:
    session_id = await session_of(runtime)
    await runtime.sessions.end(session_id)
    token, family_id = await token_of(runtime)
    cookies = [f"{SESSION}={session_id}; {ACCESS}={token}"]
    caller = await runtime.authenticator.caller(Presented(), read_csrf, "GET", None, cookies)
    assert caller is not None and caller.via == "jwt" and caller.handle == family_id


async def test_a_csrf_refusal_never_falls_through_to_the_token_cookie(
    runtime: Runtime,
) -> None:
    session_id = await session_of(runtime)
    token, family_id = await token_of(runtime)
    cookies = [f"{SESSION}={session_id}; {ACCESS}={token}"]
    presented = Presented(runtime.tokens.csrf_token(family_id))  # the token cookie's own
    with pytest.raises(CsrfRejected):
        await runtime.authenticator.caller(presented, read_csrf, "POST", None, cookies)


async def test_a_token_only_route_skips_the_session_cookie(runtime: Runtime) -> None:
    session_id = await session_of(runtime)
    cookies = [f"{SESSION}={session_id}"]
    authenticator = runtime.authenticator
    assert await authenticator.caller(Presented(), read_csrf, "GET", None, cookies) is not None
    caller = await authenticator.caller(Presented(), read_csrf, "GET", None, cookies, JWT_ONLY)
    assert caller is None


async def test_a_safe_method_asks_for_no_csrf_token_and_an_unsafe_one_does(
    runtime: Runtime,
) -> None:
    session_id = await session_of(runtime)
    cookies = [f"{SESSION}={session_id}"]
    safe, unsafe = Presented(), Presented(runtime.sessions.csrf_token(session_id))
    assert await runtime.authenticator.caller(safe, read_csrf, "GET", None, cookies)
    assert await runtime.authenticator.caller(unsafe, read_csrf, "DELETE", None, cookies)
    assert (safe.asked, unsafe.asked) == (0, 1)


async def test_an_ended_session_without_a_token_cookie_is_refused(runtime: Runtime) -> None:
    session_id = await session_of(runtime)
    await runtime.sessions.end(session_id)
    with pytest.raises(NotAuthenticated):
        await runtime.authenticator.caller(
            Presented(), read_csrf, "GET", None, [f"{SESSION}={session_id}"]
        )


async def test_one_caller_object_for_a_repeat_credential(runtime: Runtime) -> None:
    token, _ = await token_of(runtime)
    authorization = f"Bearer {token}"
    first = await runtime.authenticator.caller(Presented(), read_csrf, "GET", authorization, [])
    again = await runtime.authenticator.caller(Presented(), read_csrf, "GET", authorization, [])
    assert first is again


def test_every_entry_point_shares_the_runtimes_authenticator(runtime: Runtime) -> None:
    assert isinstance(runtime.authenticator, Authenticator)
    assert runtime.authenticator is runtime.authenticator


@pytest.mark.parametrize(
    "header",
    ["Basic abc", "Bearer", "Bearer ", "bearer  ", "Token x", "Bearer " + "a" * 8193, ""],
)
def test_the_remote_verifier_refuses_the_headers_authward_refuses(header: str) -> None:
    with pytest.raises(InvalidToken):
        bearer_token(header)
    with pytest.raises(InvalidToken):
        verifier.bearer_token(header)


def test_the_headers_are_read_in_one_pass_first_authorization_every_cookie() -> None:
    headers = [
        (b"cookie", b"a=1"),
        (b"authorization", b"Bearer x"),
        (b"authorization", b"Bearer y"),
        (b"cookie", b"b=2"),
    ]
    assert credential_headers(headers) == ("Bearer x", ["a=1", "b=2"])


async def test_a_session_only_route_never_reads_the_token_cookie(runtime: Runtime) -> None:
    """A token cookie on a session-only route is no credential: 401, not a CSRF 403."""
    token, _ = await token_of(runtime)
    presented = Presented()
    caller = await runtime.authenticator.caller(
        presented, read_csrf, "POST", None, [f"{ACCESS}={token}"], SESSION_ONLY
    )
    assert caller is None
    assert presented.asked == 0  # no CSRF token was asked for, so none could be refused


async def test_a_stale_session_cookie_does_not_fall_through_on_a_session_only_route(
    runtime: Runtime,
) -> None:
    session_id = await session_of(runtime)
    await runtime.sessions.end(session_id)
    token, _ = await token_of(runtime)
    presented = Presented()
    with pytest.raises(NotAuthenticated):
        await runtime.authenticator.caller(
            presented,
            read_csrf,
            "POST",
            None,
            [f"{SESSION}={session_id}; {ACCESS}={token}"],
            SESSION_ONLY,
        )
    assert presented.asked == 0
