"""The in-memory revocation list: families by id, users by a whole-second cutoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from authward.revocation.list import Revocation, RevocationList

AT = datetime(2030, 1, 1, 12, 0, 0, 400_000, tzinfo=UTC)
UNTIL = AT + timedelta(minutes=5)


def test_family_revocation_hits_every_token_of_the_family() -> None:
    revocations = RevocationList()
    revocations.apply(Revocation("family", "fam-1", AT, UNTIL))
    assert revocations.is_revoked("fam-1", "user-1", AT + timedelta(hours=1))
    assert revocations.is_revoked("fam-1", "user-1", AT - timedelta(hours=1))
    assert not revocations.is_revoked("fam-2", "user-1", AT - timedelta(hours=1))


def test_user_cutoff_spares_its_own_second() -> None:
    revocations = RevocationList()
    revocations.apply(Revocation("user", "user-1", AT, UNTIL))
    second = AT.replace(microsecond=0)
    assert revocations.is_revoked("any", "user-1", second - timedelta(seconds=1))
    assert not revocations.is_revoked("any", "user-1", second)  # a login right after
    assert not revocations.is_revoked("any", "user-2", second - timedelta(seconds=1))


def test_applying_again_or_out_of_order_changes_nothing() -> None:
    revocations = RevocationList()
    later = Revocation("user", "user-1", AT + timedelta(seconds=30), UNTIL + timedelta(seconds=30))
    revocations.apply(later)
    revocations.apply(Revocation("user", "user-1", AT, UNTIL))  # an older one, late
    revocations.apply(later)
    assert revocations.is_revoked("x", "user-1", AT + timedelta(seconds=29))
    assert len(revocations) == 1


def test_prune_forgets_only_entries_past_their_until() -> None:
    revocations = RevocationList()
    revocations.apply(Revocation("family", "old", AT, UNTIL))
    revocations.apply(Revocation("family", "new", AT, UNTIL + timedelta(minutes=1)))
    revocations.apply(Revocation("user", "user-1", AT, UNTIL))
    assert revocations.prune(UNTIL - timedelta(microseconds=1)) == 0
    assert revocations.prune(UNTIL) == 2
    assert not revocations.is_revoked("old", "user-1", AT - timedelta(hours=1))
    assert revocations.is_revoked("new", "user-9", AT)
