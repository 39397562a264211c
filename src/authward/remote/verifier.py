"""Verify authward's access tokens in another service, trusting only its JWKS.

`JwksVerifier` fetches the public keys from a JWKS URL (``/.well-known/jwks.json`` of
an authward deployment) and verifies tokens with authward's own `AccessVerifier`
(`authward.tokens.access`, the rules the service's JWT strategy checks): the same pinned
algorithm per key, ``typ: at+jwt``, header allow-list, required claims and their shapes,
``iss``/``aud``, expiry and leeway. Only the keys come from elsewhere, and they pass the
key ring's own check (`jwk.load_public`: the curve, the RSA size).

Keys are cached. They are fetched again when older than `max_age`, and at once when a
token names a kid the cache does not hold (a rotation), but never more often than
once per `min_refetch_interval`, so a stream of forged kids cannot make the verifier
hammer the JWKS endpoint. While the endpoint does not answer, the cached keys serve
for another `max_age`; after that, and when no key was ever fetched, verification
fails closed with StoreUnavailable (a 503).

A remote service sees no revocations: a revoked access token stays valid here until it
expires (``AUTHWARD_ACCESS_TTL``, 300 s by default). Services that must refuse revoked
tokens at once ask authward itself (``GET /auth/me``).

Both a blocking API (`verify`, for Flask, Django and scripts) and an async one
(`verify_async`, for FastAPI and Starlette) are offered, over httpx.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import httpx

from authward.auth import transports
from authward.callers import AuthUser
from authward.clock import Clock, SystemClock
from authward.errors import NotAuthenticated, StoreUnavailable
from authward.tokens import jwk
from authward.tokens.access import AccessVerifier, VerifyingKey, kid_of
from authward.tokens.models import AccessClaims

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["JwksVerifier", "bearer_token"]

log = logging.getLogger("authward.remote")

MAX_JWKS_BYTES: Final = 256 * 1024
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None without a header.

    A header that is present but no well-formed bearer credential raises InvalidToken:
    authward's own bearer transport reads it, so both refuse the same headers.
    """
    return None if authorization is None else transports.bearer_token(authorization)


class _Keys:
    """The fetched keys: the `VerifyingKeys` the verifier looks a kid up in."""

    def __init__(self) -> None:
        self.by_kid: dict[str, VerifyingKey] = {}

    def verifying_key(self, kid: str, now: datetime) -> VerifyingKey | None:
        return self.by_kid.get(kid)


class JwksVerifier:
    """Verify access tokens against the keys published at `jwks_url`.

    `issuer` and `audience` must be the deployment's ``AUTHWARD_ISSUER`` and
    ``AUTHWARD_AUDIENCE``, and `client_id` its ``AUTHWARD_CLIENT_ID`` (unset, as there:
    the audience).
    `jwks_url` must be https, or http to a loopback address (or anywhere with
    ``allow_http=True``, inside a trusted network).
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str = "authward",
        audience: str = "authward",
        client_id: str | None = None,
        algorithms: Iterable[str] = jwk.ASYMMETRIC,
        leeway: int = 1,
        max_age: float = 300.0,
        min_refetch_interval: float = 10.0,
        timeout: float = 5.0,
        allow_http: bool = False,
        clock: Clock | None = None,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
    ) -> None:
        url = urlsplit(jwks_url)
        if url.scheme != "https" and not (
            url.scheme == "http" and (allow_http or url.hostname in _LOOPBACK)
        ):
            raise ValueError("jwks_url must be https (or http to a loopback address)")
        self.algorithms = frozenset(algorithms)
        # No HS256: a verifier holding the shared secret could mint tokens too.
        if not self.algorithms or not self.algorithms <= jwk.ASYMMETRIC:
            raise ValueError(f"algorithms must be among {', '.join(sorted(jwk.ASYMMETRIC))}")
        self.jwks_url = jwks_url
        self._max_age = max_age
        self._min_refetch = min_refetch_interval
        self._timeout = timeout
        self._clock = clock or SystemClock()
        self._client = client
        self._async_client = async_client
        self._owns_client = self._owns_async_client = False
        self._keys = _Keys()
        self._access = AccessVerifier(
            self._keys,
            issuer=issuer,
            audience=audience,
            client_id=client_id,
            leeway=timedelta(seconds=leeway),
        )
        self._fetched_at: float | None = None  # when the last good fetch was (timestamp)
        self._tried_at: float | None = None  # ... and of the last attempt, good or not
        self._sync_lock = threading.Lock()
        self._async_lock: asyncio.Lock | None = None

    # --- verification ---------------------------------------------------------------

    def verify(self, token: str) -> AccessClaims:
        """Return the claims of a valid token; InvalidToken, or StoreUnavailable (no keys).

        Blocking: may fetch the JWKS first.
        """
        if self._due(token):
            with self._sync_lock:
                if self._due(token):
                    self._try()
        return self._verify(token)

    async def verify_async(self, token: str) -> AccessClaims:
        """`verify` for async code: a fetch does not block the event loop."""
        if self._due(token):
            if self._async_lock is None:
                self._async_lock = asyncio.Lock()
            async with self._async_lock:
                if self._due(token):
                    await self._try_async()
        return self._verify(token)

    def user(self, authorization: str | None) -> AuthUser:
        """The caller of an ``Authorization`` header value; NotAuthenticated without one."""
        token = bearer_token(authorization)
        if token is None:
            raise NotAuthenticated
        claims = self.verify(token)
        return _user(claims)

    async def user_async(self, authorization: str | None) -> AuthUser:
        """`user` for async code."""
        token = bearer_token(authorization)
        if token is None:
            raise NotAuthenticated
        claims = await self.verify_async(token)
        return _user(claims)

    @functools.cached_property
    def current_user(self) -> Callable[[Request], Awaitable[AuthUser]]:
        """FastAPI dependency: the bearer token's user; 401 (``WWW-Authenticate: Bearer``).

        Made once per verifier, so ``app.dependency_overrides[verifier.current_user]``
        works; Starlette is imported here, never by ``import authward.remote``.
        """
        from authward.remote import fastapi

        return fastapi.current_user(self)

    # --- keys -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Fetch the keys now (blocking); raise StoreUnavailable if that fails."""
        with self._sync_lock:
            self._fetch_sync()

    async def refresh_async(self) -> None:
        """Fetch the keys now; raise StoreUnavailable if that fails."""
        await self._fetch_async()

    @property
    def kids(self) -> frozenset[str]:
        """The kids of the keys held now."""
        return frozenset(self._keys.by_kid)

    def close(self) -> None:
        """Close the blocking HTTP client this verifier made (not one it was given)."""
        if self._client is not None and self._owns_client:
            self._client.close()

    async def aclose(self) -> None:
        """Close the async HTTP client this verifier made (not one it was given)."""
        if self._async_client is not None and self._owns_async_client:
            await self._async_client.aclose()

    def _verify(self, token: str) -> AccessClaims:
        now = self._clock.now()
        if self._fetched_at is None or now.timestamp() - self._fetched_at > 2 * self._max_age:
            raise StoreUnavailable("jwks")  # never fetched, or too stale to vouch for
        return self._access.verify(token, now)

    def _due(self, token: str) -> bool:
        """Whether to fetch before verifying `token` (at most once per min interval)."""
        now = self._clock.now().timestamp()
        if self._fetched_at is None or now - self._fetched_at > self._max_age:
            return self._tried_at is None or now - self._tried_at >= self._min_refetch
        if self._tried_at is not None and now - self._tried_at < self._min_refetch:
            return False
        kid = kid_of(token)
        return kid is not None and kid not in self._keys.by_kid

    def _try(self) -> None:
        try:
            self._fetch_sync()
        except StoreUnavailable as exc:
            log.warning("could not fetch %s: %s", self.jwks_url, exc.__cause__ or exc)

    async def _try_async(self) -> None:
        try:
            await self._fetch_async()
        except StoreUnavailable as exc:
            log.warning("could not fetch %s: %s", self.jwks_url, exc.__cause__ or exc)

    def _fetch_sync(self) -> None:
        self._tried_at = self._clock.now().timestamp()
        if self._client is None:
            self._client, self._owns_client = httpx.Client(timeout=self._timeout), True
        try:
            response = self._client.get(self.jwks_url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise StoreUnavailable("jwks") from exc
        self._take(response)

    async def _fetch_async(self) -> None:
        self._tried_at = self._clock.now().timestamp()
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(timeout=self._timeout)
            self._owns_async_client = True
        try:
            response = await self._async_client.get(
                self.jwks_url, headers={"accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise StoreUnavailable("jwks") from exc
        self._take(response)

    def _take(self, response: httpx.Response) -> None:
        if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
            raise StoreUnavailable("jwks") from RuntimeError(f"HTTP {response.status_code}")
        try:
            keys = self._parse(json.loads(response.content))
        except ValueError as exc:
            raise StoreUnavailable("jwks") from exc
        withdrawn = set(self._keys.by_kid) - set(keys)
        self._keys.by_kid = keys
        self._fetched_at = self._clock.now().timestamp()
        if withdrawn:
            self._access.forget()  # tokens of a withdrawn key must not stay remembered

    def _parse(self, document: object) -> dict[str, VerifyingKey]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWK Set")
        keys: dict[str, VerifyingKey] = {}
        for entry in document["keys"]:
            if (key := self._key(entry)) is not None:
                keys[key.kid] = key
        return keys

    def _key(self, entry: object) -> VerifyingKey | None:
        """One usable public key, or None (another algorithm, another use, malformed)."""
        if not isinstance(entry, dict):
            return None
        kid, alg = entry.get("kid"), entry.get("alg")
        # RFC 8725 §3.1: each key is bound to one algorithm, named by the key itself.
        if (
            not isinstance(kid, str)
            or alg not in self.algorithms
            or entry.get("use", "sig") != "sig"
        ):
            return None
        members = {name: value for name, value in entry.items() if isinstance(value, str)}
        try:
            material = jwk.load_public(alg, members)  # the curve and RSA size checked too
        except Exception as exc:  # InvalidKeyError, KeyUnavailable, ValueError...
            log.warning("ignoring unusable key %s from %s: %s", kid, self.jwks_url, exc)
            return None
        now = self._clock.now()
        return VerifyingKey(kid, alg, now, None, members, jwk.algorithm(alg), material)


def _user(claims: AccessClaims) -> AuthUser:
    # With the login's time and methods, as authward's own JWT strategy hands them over.
    return AuthUser(
        claims.sub,
        "jwt",
        claims.sid,
        auth_time=claims.auth_time or claims.iat,
        amr=claims.amr or ("pwd",),
    )
