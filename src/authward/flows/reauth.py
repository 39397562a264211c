"""Step-up: a signed-in user proves who they are again, and their login becomes recent.

The one place that checks a re-authentication proof, for the API (``POST /auth/reauth``)
and the pages alike. A proof is exactly one of the account's password, a TOTP code, or
a passkey's assertion; each is checked and counted as at login, so step-up is no
cheaper oracle than signing in. What becomes recent is the login the caller came with:
its session, or its token family. Its methods stay as they were (NIST SP 800-63B lets
one factor reauthenticate a login of any level); only its auth time moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from authward.accounts.service import AccountService
from authward.errors import InvalidInput
from authward.factors.passkeys import CredentialJson
from authward.factors.service import FactorService
from authward.ids import Device, UserId
from authward.sessions.models import Session
from authward.sessions.service import SessionService
from authward.tokens.service import TokenPair, TokenService

__all__ = ["Proof", "Reauthentication"]


@dataclass(frozen=True, slots=True)
class Proof:
    """What the user presented: exactly one field is set; `repr` hides them all."""

    password: str | None = field(default=None, repr=False)
    code: str | None = field(default=None, repr=False)
    credential: CredentialJson | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        given = (self.password, self.code, self.credential)
        if sum(x is not None for x in given) != 1:
            raise InvalidInput("Send exactly one of 'password', 'code' and 'credential'.")


class Reauthentication:
    """Check a proof (`prove`), then make a session or a token family recent."""

    def __init__(
        self,
        accounts: AccountService,
        factors: FactorService,
        sessions: SessionService,
        tokens: TokenService,
    ) -> None:
        self._accounts = accounts
        self._factors = factors
        self._sessions = sessions
        self._tokens = tokens

    async def prove(self, user_id: UserId, proof: Proof, *, address: str) -> tuple[str, ...]:
        """Check `proof` for the user; return the methods it showed (RFC 8176 names).

        A password: WrongPassword (403) when wrong, counted as a failed login of the
        account from `address`. A code or a passkey: InvalidCode (401) when wrong,
        replayed or someone else's, counted under the account's second-factor ceiling.
        TooManyAttempts past either limit, before anything is checked.
        """
        if proof.password is not None:
            await self._accounts.confirm_password(user_id, proof.password, address=address)
            return ("pwd",)
        return await self._factors.confirm(user_id, code=proof.code, credential=proof.credential)

    async def session(
        self, user_id: UserId, session_id: str, proof: Proof, *, address: str
    ) -> Session:
        """`prove`, then make the session's login recent; the session as it now is.

        NotAuthenticated when the session is not the user's or no longer live.
        """
        await self.prove(user_id, proof, address=address)
        return await self._sessions.reauthenticate(session_id, user_id)

    async def family(
        self, user_id: UserId, family_id: str, proof: Proof, *, address: str, device: Device
    ) -> TokenPair:
        """`prove`, then make the family's login recent; a new pair of the same family.

        The refresh token the client held is spent as a refresh spends it. InvalidToken
        when the family is not the user's or no longer live.
        """
        await self.prove(user_id, proof, address=address)
        return await self._tokens.reauthenticate(user_id, family_id, device)
