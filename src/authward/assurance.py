"""How a login proved who it was: when, by which methods, and so at which level.

`amr` holds RFC 8176 method names (``pwd``, ``otp``, ``hwk`` for a passkey, ``user``
for the authenticator's own check of its user) and ``rc`` for a recovery code, which
RFC 8176 does not name. The level is NIST SP 800-63B's: a password alone is AAL1; a
password and a second factor of another kind (a TOTP code, a look-up secret such as a
recovery code, a passkey) is AAL2, and so is a passkey verified with user verification
(a PIN or biometric unlocks the key: a multi-factor cryptographic authenticator).
Sessions and token families keep the login's `Assurance`; access tokens carry it as
``auth_time``, ``amr`` and ``acr`` (RFC 9068 §2.2.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from authward.errors import ReauthRequired

__all__ = ["SECOND_FACTORS", "Assurance", "Level", "amr_of", "amr_text", "require_recent"]

Level = Literal["aal1", "aal2"]
SECOND_FACTORS: Final = frozenset({"otp", "rc", "hwk"})
USER_VERIFIED: Final = "user"
_KNOWN: Final = frozenset({"pwd", USER_VERIFIED, *SECOND_FACTORS})


@dataclass(frozen=True, slots=True)
class Assurance:
    """When the user authenticated (`auth_time`) and with which methods (`amr`)."""

    auth_time: datetime
    amr: tuple[str, ...] = ("pwd",)

    @property
    def acr(self) -> Level:
        # Two factors: the password and one more, or a key its authenticator unlocked.
        with_password = "pwd" in self.amr and SECOND_FACTORS.intersection(self.amr)
        verified_key = "hwk" in self.amr and USER_VERIFIED in self.amr
        return "aal2" if with_password or verified_key else "aal1"


_RANK: Final[dict[Level, int]] = {"aal1": 1, "aal2": 2}


def require_recent(
    assurance: Assurance, now: datetime, *, max_age: int, aal: Level | None = None
) -> None:
    """Raise ReauthRequired unless the login is at most `max_age` s old and meets `aal`.

    An `auth_time` in the future (a clock ahead on another node) counts as now, never as
    a credit of time; a level short of `aal` asks for it with ``acr_values``.
    """
    if aal is not None and _RANK[assurance.acr] < _RANK[aal]:
        raise ReauthRequired(max_age, aal)
    if now - assurance.auth_time > timedelta(seconds=max_age):
        raise ReauthRequired(max_age)


def amr_text(amr: tuple[str, ...]) -> str:
    """The methods as stored in a column: space-separated."""
    return " ".join(amr)


def amr_of(text: str | None) -> tuple[str, ...]:
    """The methods a column or a claim holds; unknown names are dropped, never trusted."""
    if (known := _AMR_SEEN.get(text)) is not None:
        return known
    methods = tuple(m for m in (text or "").split() if m in _KNOWN) or ("pwd",)
    if len(_AMR_SEEN) < _AMR_SEEN_MAX:
        _AMR_SEEN[text] = methods
    return methods


# amr_of's answers for the texts it met first: every session read asks again, and the
# texts a deployment's sessions hold are a handful. Bounded: a claim's text is anyone's.
_AMR_SEEN: dict[str | None, tuple[str, ...]] = {}
_AMR_SEEN_MAX: Final = 64
