"""The step-up rule on its own: how old and how strong a login may be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from authward import assurance
from authward.answers import error_parts, public_code
from authward.assurance import Assurance, amr_of, require_recent
from authward.errors import ReauthRequired

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_a_login_within_max_age_passes_and_one_second_more_does_not() -> None:
    require_recent(Assurance(NOW - timedelta(seconds=300)), NOW, max_age=300)
    with pytest.raises(ReauthRequired) as raised:
        require_recent(Assurance(NOW - timedelta(seconds=301)), NOW, max_age=300)
    assert (raised.value.max_age, raised.value.acr) == (300, None)


def test_a_login_time_in_the_future_is_no_credit_of_time() -> None:
    # A node whose clock runs ahead stamps a later auth_time; it is recent, not fresher.
    require_recent(Assurance(NOW + timedelta(seconds=30)), NOW, max_age=0)


def test_the_level_is_checked_whatever_the_age() -> None:
    with pytest.raises(ReauthRequired) as raised:
        require_recent(Assurance(NOW, ("pwd",)), NOW, max_age=300, aal="aal2")
    assert raised.value.acr == "aal2"
    require_recent(Assurance(NOW, ("pwd", "otp")), NOW, max_age=300, aal="aal2")
    require_recent(Assurance(NOW, ("pwd",)), NOW, max_age=300, aal="aal1")


def test_the_answer_is_401_with_the_rfc_9470_challenge_for_any_caller() -> None:
    for bearer in (True, False):
        status, detail, headers = error_parts(ReauthRequired(120, "aal2"), bearer=bearer)
        assert status == 401
        assert headers["WWW-Authenticate"] == (
            'Bearer error="insufficient_user_authentication", '
            f'error_description="{detail}", acr_values="aal2", max_age=120'
        )
    assert public_code(ReauthRequired(120)) == "insufficient_user_authentication"


def test_the_methods_read_again_are_the_same_and_the_texts_remembered_are_bounded() -> None:
    # A claim's amr is anyone's text: remembering answers must not grow without end.
    for i in range(200):
        assert amr_of(f"otp junk-{i} pwd") == ("otp", "pwd")
        assert amr_of(f"junk-{i}") == ("pwd",)
    assert amr_of("hwk otp") == amr_of("hwk otp") == ("hwk", "otp")
    assert amr_of(None) == amr_of("") == ("pwd",)
    assert len(assurance._AMR_SEEN) <= assurance._AMR_SEEN_MAX
