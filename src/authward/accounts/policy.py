"""What a new password must pass, at registration, change and reset alike.

In order, cheapest first, each refusal a `WeakPassword` whose detail says why:

1. 8 to 1024 characters (`check_password_shape`; InvalidInput, as before);
2. not the account's email, nor containing the part before the ``@`` when that part has
   4 characters or more (NIST SP 800-63B §5.1.1.2: "context-specific words, such as
   ... the username"; shorter name parts would refuse too many unrelated passwords);
3. not one of the most common passwords (`authward.accounts.blocklist`);
4. with ``AUTHWARD_BREACHED_PASSWORDS=hibp``, not in the Pwned Passwords corpus
   (`authward.accounts.breached`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from authward.accounts.blocklist import CommonPasswords
from authward.errors import BreachedPassword, CommonPassword, PasswordContainsEmail
from authward.passwords import check_password_shape

if TYPE_CHECKING:
    # A type only: the runtime imports the client (httpx) when the check is turned on.
    from authward.accounts.breached import BreachedPasswords

__all__ = ["MIN_NAME_PART", "PasswordPolicy"]

MIN_NAME_PART: Final = 4


class PasswordPolicy:
    """The checks of a new password; `check` raises, naming the reason."""

    def __init__(
        self, common: CommonPasswords | None = None, breached: BreachedPasswords | None = None
    ) -> None:
        self.common = common or CommonPasswords()
        self.breached = breached

    async def check(self, password: str, *, email: str | None = None) -> None:
        """Raise InvalidInput (length) or a WeakPassword unless `password` may be set.

        `email` is the account's (normalised) address. StoreUnavailable when the breached
        check is on, fails closed, and its API does not answer.
        """
        check_password_shape(password)
        if email is not None and _contains_email(password, email):
            raise PasswordContainsEmail
        if await self.common.contains(password):
            raise CommonPassword
        if self.breached is not None and await self.breached.contains(password):
            raise BreachedPassword

    async def aclose(self) -> None:
        if self.breached is not None:
            await self.breached.aclose()


def _contains_email(password: str, email: str) -> bool:
    lowered = password.lower()
    address = email.lower()
    name = address.partition("@")[0].partition("+")[0]  # ada+news@ is ada
    return address in lowered or (len(name) >= MIN_NAME_PART and name in lowered)
