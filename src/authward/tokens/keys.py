"""The key ring: which key signs, which keys verify, and what the JWKS publishes.

The active key (highest generation, not retired) signs. `rotate` adds a new key that
signs at once and retires the old one, whose private half is wiped; a retired key keeps
verifying for `window` (the access TTL plus leeway plus the propagation bound, so every
token it could have signed, on any node, expires first), then drops out.

Keys live in a `KeyStore` shared by every process. A process loads them with `refresh`
(the service polls it), so a rotation made elsewhere (``authward keys rotate``) is
picked up within one poll interval. Verification never does I/O: a kid the ring does
not hold is simply unknown.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Final

import anyio.to_thread
from jwt import PyJWTError

from authward.clock import Clock
from authward.errors import InvalidInput, StoreUnavailable
from authward.masterkey import MasterSecret
from authward.tokens import jwk
from authward.tokens.access import VerifyingKey
from authward.tokens.models import KeyInfo, KeyState
from authward.tokens.store import KeyStore, StoredKey

__all__ = ["PROPAGATION", "KeyInfo", "KeyRing", "SigningKey", "VerifyingKey"]

security_log = logging.getLogger("authward.security")
log = logging.getLogger(__name__)

# How long a rotation may take to reach every node (the contract's bound): a node may
# go on signing with the previous key until its next poll, so retired keys verify this
# much longer than the access TTL alone would need.
PROPAGATION: Final = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The key that signs new tokens; its `repr` never shows the material."""

    kid: str
    alg: str
    material: jwk.PrivateKey | bytes = field(repr=False)


class KeyRing:
    """Signing and verification keys of one algorithm family, reloadable from the store."""

    def __init__(
        self,
        store: KeyStore,
        master: MasterSecret,
        clock: Clock,
        *,
        alg: str,
        window: timedelta,
        rsa_bits: int = jwk.RSA_BITS,
    ) -> None:
        if alg not in jwk.SUPPORTED:
            raise ValueError(f"unsupported algorithm {alg}")
        self.alg = alg
        self.window = window
        self._store = store
        self._clock = clock
        self._rsa_bits = rsa_bits
        self._kek = master.derive("key-encryption")
        self._secret = master.raw  # the HS256 key, shared with other services by design
        self._secret_kid = jwk.thumbprint(jwk.secret_jwk(master.raw))
        self._stored: list[StoredKey] = []
        self._keys: dict[str, VerifyingKey] = {}
        self._signing: SigningKey | None = None

    def signing_key(self) -> SigningKey:
        """The key to sign with; StoreUnavailable when none could be loaded."""
        if self._signing is None:
            raise StoreUnavailable("signing key")
        return self._signing

    def verifying_key(self, kid: str, now: datetime) -> VerifyingKey | None:
        """The key with this kid if it verifies at `now`; no I/O."""
        key = self._keys.get(kid)
        return key if key is not None and key.verifies_at(now, self.window) else None

    def jwks(self, now: datetime) -> dict[str, object]:
        """The public keys that verify at `now`, newest first (RFC 7517 §5).

        Only public members, ``kid``, ``alg`` and ``use``: never a private or symmetric
        key, so with HS256 the set is empty.
        """
        keys = sorted(self._keys.values(), key=lambda k: k.created_at, reverse=True)
        return {
            "keys": [
                {**k.public_jwk, "kid": k.kid, "alg": k.alg, "use": "sig"}
                for k in keys
                if k.public_jwk is not None and k.verifies_at(now, self.window)
            ]
        }

    def list_keys(self, now: datetime) -> list[KeyInfo]:
        """Every stored key, oldest first, as of the last `refresh`."""
        return [self._info(record, now) for record in self._stored]

    async def ensure_active(self) -> None:
        """Load the keys and make sure one of the configured algorithm signs.

        On a first start this creates the key; several processes starting at once
        collide on its generation and all end up with the one that won. A key of
        another algorithm (or, with HS256, of another secret) is rotated out. Raises
        KeyUnavailable when the active key does not open with this master secret.
        """
        for _attempt in range(3):
            await self.refresh(report=False)
            active = self._active()
            if active is not None and self._configured(active):
                if self._signing is None or self._signing.kid != active.kid:
                    self._signing = self._signer(active)  # raises KeyUnavailable
                return
            if await self._add_next():
                # The first key: no rotation, so no key_rotated event logs it (`rotate` does).
                security_log.info("signing key activated", extra={"event": "key_activated"})
        raise jwk.KeyUnavailable("could not settle on a signing key; is the key table writable?")

    async def rotate(self) -> KeyInfo:
        """Make a new key sign from now on; the old one retires (and keeps verifying)."""
        if self.alg == "HS256":
            raise InvalidInput("With HS256 the signing key is AUTHWARD_SECRET_KEY: change that.")
        await self.refresh()
        if not await self._add_next():
            log.info("another process rotated the signing key at the same time")
        await self.refresh()
        active = self._active()
        if active is None:  # unreachable: a key was just added
            raise StoreUnavailable("signing key")
        return self._info(active, self._clock.now())

    async def refresh(self, *, report: bool = True) -> set[str]:
        """Reload the keys from the store; return the kids that stopped verifying.

        An active key that does not open is logged (`report`, the polls'); `ensure_active`
        raises it instead, so a command says it once.
        """
        stored = await self._store.load()
        keys: dict[str, VerifyingKey] = {}
        for record in stored:  # lowest generation first: a reused kid takes its newest row
            known = self._keys.get(record.kid)
            if known is not None and known.alg == record.alg:
                unchanged = known.retired_at == record.retired_at
                keys[record.kid] = (
                    known if unchanged else replace(known, retired_at=record.retired_at)
                )
            elif (loaded := self._verifier(record)) is not None:
                keys[record.kid] = loaded
        self._stored, previous, self._keys = stored, self._keys, keys
        active = self._active()
        if active is not None and (self._signing is None or self._signing.kid != active.kid):
            try:
                self._signing = self._signer(active)
            except jwk.KeyUnavailable as exc:
                if report:
                    log.error("cannot sign with the active key: %s", exc)
                self._signing = None
        return set(previous) - set(keys)

    async def sweep(self) -> int:
        """Drop keys that no longer verify anything."""
        return await self._store.remove_retired(self._clock.now() - self.window)

    def _active(self) -> StoredKey | None:
        return next((k for k in reversed(self._stored) if k.retired_at is None), None)

    def _configured(self, record: StoredKey) -> bool:
        return record.alg == self.alg and (self.alg != "HS256" or record.kid == self._secret_kid)

    async def _add_next(self) -> bool:
        generation = max((k.generation for k in self._stored), default=0) + 1
        now = self._clock.now()
        if self.alg == "HS256":
            record = StoredKey(self._secret_kid, self.alg, generation, now, None, None, None)
        else:
            make = partial(jwk.generate, self.alg, rsa_bits=self._rsa_bits)
            private = await anyio.to_thread.run_sync(make)  # RSA takes a noticeable while
            public = jwk.public_jwk(self.alg, private)
            kid = jwk.thumbprint(public)
            sealed = jwk.seal(private, self._kek, kid=kid, alg=self.alg)
            record = StoredKey(kid, self.alg, generation, now, None, json.dumps(public), sealed)
        return await self._store.add(record)

    def _signer(self, record: StoredKey) -> SigningKey:
        if record.alg == "HS256":
            if record.kid != self._secret_kid:
                raise jwk.KeyUnavailable("the active HS256 key is not this AUTHWARD_SECRET_KEY")
            return SigningKey(record.kid, record.alg, self._secret)
        if record.sealed_private is None:
            raise jwk.KeyUnavailable(f"signing key {record.kid} has no private half")
        private = jwk.unseal(record.sealed_private, self._kek, kid=record.kid, alg=record.alg)
        return SigningKey(record.kid, record.alg, private)

    def _verifier(self, record: StoredKey) -> VerifyingKey | None:
        try:
            algorithm = jwk.algorithm(record.alg)
            if record.alg == "HS256":
                # Only our own secret: the HS256 key of another secret is unknown here.
                if record.kid != self._secret_kid:
                    return None
                material: jwk.PublicKey | bytes = algorithm.prepare_key(self._secret)
                public = None
            else:
                public = json.loads(record.public_jwk or "")
                if jwk.thumbprint(public) != record.kid:
                    raise jwk.KeyUnavailable("kid does not match the key")
                material = jwk.load_public(record.alg, public)
        except (KeyError, ValueError, TypeError, PyJWTError, jwk.KeyUnavailable) as exc:
            log.error("ignoring unusable key %s: %s", record.kid, exc)
            return None
        return VerifyingKey(
            record.kid,
            record.alg,
            record.created_at,
            record.retired_at,
            public,
            algorithm,
            material,
        )

    def _info(self, record: StoredKey, now: datetime) -> KeyInfo:
        if record.retired_at is None:
            return KeyInfo(record.kid, record.alg, "active", record.created_at, None, None)
        until = record.retired_at + self.window
        state: KeyState = "retired" if now < until else "expired"
        return KeyInfo(record.kid, record.alg, state, record.created_at, record.retired_at, until)
