"""`Callers`: an allocation cache that never hands back another caller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from authward.callers import AuthUser, Callers


def test_a_repeat_caller_gets_the_same_object() -> None:
    callers = Callers()
    first = callers.of("ada", "jwt", "family-1")
    assert first == AuthUser("ada", "jwt", "family-1")
    assert callers.of("ada", "jwt", "family-1") is first


def test_a_kept_object_is_never_handed_to_another_user_or_strategy() -> None:
    callers = Callers()
    callers.of("ada", "jwt", "same-handle")
    assert callers.of("bob", "jwt", "same-handle") == AuthUser("bob", "jwt", "same-handle")
    assert callers.of("bob", "session", "same-handle").via == "session"


def test_it_starts_afresh_at_its_size() -> None:
    callers = Callers(size=2)
    first = callers.of("ada", "jwt", "a")
    callers.of("ada", "jwt", "b")
    callers.of("ada", "jwt", "c")  # full: everything kept so far is dropped
    assert callers.of("ada", "jwt", "a") is not first
    assert len(callers) <= 2


def test_a_kept_object_is_never_handed_back_with_another_login() -> None:
    # After a step-up the handle is the same and the login's time is newer: the kept
    # caller, with the old time, would ask for step-up again (or vouch for the old one).
    callers = Callers()
    login = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    first = callers.of("ada", "session", "handle", login, ("pwd",))
    assert callers.of("ada", "session", "handle", login, ("pwd",)) is first
    later = login + timedelta(minutes=10)
    stepped_up = callers.of("ada", "session", "handle", later, ("pwd",))
    assert (stepped_up.auth_time, stepped_up.amr) == (later, ("pwd",))
    stronger = callers.of("ada", "session", "handle", later, ("pwd", "otp"))
    assert stronger.amr == ("pwd", "otp")
