"""Where keys and refresh families live: the KeyStore and FamilyStore ports, in memory."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from authward.ids import Device, UserId
from authward.tokens.models import Family


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A signing key at rest.

    `generation` orders keys and is unique: the highest unretired one is the active key,
    and two processes creating "the next" key at once collide on it, so exactly one wins.
    `sealed_private` is the AES-GCM-sealed private key (None for HS256, whose key is the
    master secret, and for retired keys, whose private half is wiped at retirement).
    """

    kid: str
    alg: str
    generation: int
    created_at: datetime
    retired_at: datetime | None
    public_jwk: str | None
    sealed_private: bytes | None

    def __repr__(self) -> str:
        return f"StoredKey(kid={self.kid!r}, alg={self.alg!r}, generation={self.generation})"


class KeyStore(Protocol):
    """Signing keys, shared by every process of a deployment."""

    async def load(self) -> list[StoredKey]:
        """Every key, lowest generation first."""

    async def add(self, key: StoredKey) -> bool:
        """Make `key` the active key, retiring every older one (and wiping its private half).

        Both happen at once or not at all; return False, changing nothing, when the
        generation is already taken (another process rotated first).
        """

    async def remove_retired(self, before: datetime) -> int:
        """Drop the keys retired at or before `before`; return how many went."""


class MemoryKeyStore:
    """The reference key store: for tests and single-process embedding."""

    def __init__(self) -> None:
        self._keys: dict[int, StoredKey] = {}  # no lock: no method awaits mid-update

    async def load(self) -> list[StoredKey]:
        return [self._keys[g] for g in sorted(self._keys)]

    async def add(self, key: StoredKey) -> bool:
        if key.generation in self._keys:
            return False
        for generation, older in list(self._keys.items()):
            if older.retired_at is None:
                self._keys[generation] = replace(
                    older, retired_at=key.created_at, sealed_private=None
                )
        self._keys[key.generation] = key
        return True

    async def remove_retired(self, before: datetime) -> int:
        doomed = [
            g for g, k in self._keys.items() if k.retired_at is not None and k.retired_at <= before
        ]
        for generation in doomed:
            del self._keys[generation]
        return len(doomed)


@dataclass(frozen=True, slots=True)
class TokenLookup:
    """The family a presented refresh token belongs to, and which of its tokens it is.

    `spent_at` is None for the family's current token. `previous` tells whether it is
    the token the latest rotation spent (the only one the grace window may forgive).
    """

    family: Family
    spent_at: datetime | None = None
    previous: bool = False


class FamilyStore(Protocol):
    """Refresh token families, keyed by their public id; tokens only as digests."""

    async def add(self, family: Family, token_digest: bytes) -> None: ...

    async def find(self, token_digest: bytes) -> TokenLookup | None:
        """The family whose current or spent token has this digest, expired or revoked."""

    async def rotate(
        self, family_id: str, old_digest: bytes, new_digest: bytes, now: datetime, device: Device
    ) -> bool:
        """Spend `old_digest` and make `new_digest` current, atomically.

        Only while `old_digest` is still current and the family is live at `now`: of
        racing calls with one `old_digest`, exactly one returns True.
        """

    async def revoke(self, family_id: str, at: datetime, *, user_id: UserId | None = None) -> bool:
        """Revoke a live family (only if it is `user_id`'s, when given); False if none."""

    async def reauthenticate(
        self,
        family_id: str,
        user_id: UserId,
        at: datetime,
        *,
        rotate_to: tuple[bytes, Device] | None = None,
    ) -> Family | None:
        """Make `at` the auth time of the user's live family (step-up); None if none.

        With `rotate_to` (a new token's digest, and the device asking), atomically with
        it: the current token is spent as `rotate` spends it, and the new one is current.
        """

    async def revoke_user(
        self, user_id: UserId, at: datetime, *, keep: str | None = None
    ) -> list[str]:
        """Revoke every live family of the user but `keep`; return the ids revoked."""

    async def list_user(self, user_id: UserId) -> list[Family]:
        """The user's families, revoked and expired included, oldest first."""

    async def remove_user(self, user_id: UserId) -> int:
        """Drop every family of the user, with its spent digests; return how many.

        For a deleted account, after `revoke_user` has told every node: a token of a
        family no longer stored is found by nobody, like any unknown token.
        """

    async def sweep(self, now: datetime) -> int:
        """Drop expired and revoked families with their spent digests; return how many."""


@dataclass(slots=True)
class _Chain:
    family: Family
    current: bytes
    previous: bytes | None = None
    spent: dict[bytes, datetime] = field(default_factory=dict)


class MemoryFamilyStore:
    """The reference family store: dicts, for tests and single-process embedding."""

    def __init__(self) -> None:
        # No lock: no method awaits mid-update, so each is atomic on the event loop.
        self._chains: dict[str, _Chain] = {}
        self._by_digest: dict[bytes, str] = {}

    async def add(self, family: Family, token_digest: bytes) -> None:
        self._chains[family.id] = _Chain(family, token_digest)
        self._by_digest[token_digest] = family.id

    async def find(self, token_digest: bytes) -> TokenLookup | None:
        family_id = self._by_digest.get(token_digest)
        if family_id is None or (chain := self._chains.get(family_id)) is None:
            return None
        if chain.current == token_digest:
            return TokenLookup(chain.family)
        spent_at = chain.spent.get(token_digest)
        if spent_at is None:
            return None
        return TokenLookup(chain.family, spent_at, previous=chain.previous == token_digest)

    async def rotate(
        self, family_id: str, old_digest: bytes, new_digest: bytes, now: datetime, device: Device
    ) -> bool:
        chain = self._chains.get(family_id)
        if chain is None or chain.current != old_digest or not chain.family.live(now):
            return False
        chain.spent[old_digest] = now
        chain.previous, chain.current = old_digest, new_digest
        chain.family = replace(chain.family, last_seen_at=now, device=device)
        self._by_digest[new_digest] = family_id
        return True

    async def revoke(self, family_id: str, at: datetime, *, user_id: UserId | None = None) -> bool:
        chain = self._chains.get(family_id)
        if chain is None or not chain.family.live(at):
            return False
        if user_id is not None and chain.family.user_id != user_id:
            return False
        chain.family = replace(chain.family, revoked_at=at)
        return True

    async def reauthenticate(
        self,
        family_id: str,
        user_id: UserId,
        at: datetime,
        *,
        rotate_to: tuple[bytes, Device] | None = None,
    ) -> Family | None:
        chain = self._chains.get(family_id)
        if chain is None or not chain.family.live(at) or chain.family.user_id != user_id:
            return None
        chain.family = replace(chain.family, auth_time=at)
        if rotate_to is not None:
            new_digest, device = rotate_to
            chain.spent[chain.current] = at
            chain.previous, chain.current = chain.current, new_digest
            chain.family = replace(chain.family, last_seen_at=at, device=device)
            self._by_digest[new_digest] = family_id
        return chain.family

    async def revoke_user(
        self, user_id: UserId, at: datetime, *, keep: str | None = None
    ) -> list[str]:
        doomed = [
            c.family.id
            for c in self._chains.values()
            if c.family.user_id == user_id and c.family.id != keep and c.family.live(at)
        ]
        for family_id in doomed:
            chain = self._chains[family_id]
            chain.family = replace(chain.family, revoked_at=at)
        return doomed

    async def list_user(self, user_id: UserId) -> list[Family]:
        mine = [c.family for c in self._chains.values() if c.family.user_id == user_id]
        return sorted(mine, key=lambda f: (f.created_at, f.id))

    async def remove_user(self, user_id: UserId) -> int:
        return self._drop([fid for fid, c in self._chains.items() if c.family.user_id == user_id])

    async def sweep(self, now: datetime) -> int:
        return self._drop([fid for fid, c in self._chains.items() if not c.family.live(now)])

    def _drop(self, family_ids: list[str]) -> int:
        for family_id in family_ids:
            chain = self._chains.pop(family_id)
            for token_digest in (*chain.spent, chain.current):
                self._by_digest.pop(token_digest, None)
        return len(family_ids)
