"""Access tokens: RFC 9068 JWTs, issued and verified with the algorithm pinned per key.

The rules are written here once, as pure code (no I/O, no store: keys come from a
`VerifyingKeys`): `AccessVerifier` is what the JWT strategy's token service checks and
what `authward.remote.JwksVerifier` checks with keys fetched from a JWKS; `AccessTokens`
adds issuing. Verification follows RFC 8725 (JWT Best Current Practices) and refuses,
with `InvalidToken` and nothing else, anything that is not exactly what `issue` makes:

* more than `MAX_TOKEN_BYTES`, checked before any parsing; not three base64url segments;
  non-canonical base64url (so one token has one spelling); JSON that is not an object,
  has duplicate members, NaN or too deep nesting;
* a header with any parameter but ``alg``, ``typ`` and ``kid`` (so ``jku``, ``x5u``,
  ``jwk``, ``x5c``, ``crit``, ``b64`` ... are refused: RFC 8725 §3.10, RFC 7515 §4.1.11);
* an unknown ``kid``, or an ``alg`` other than the one that kid's key is bound to:
  the header's ``alg`` is compared, never used (RFC 8725 §3.1, so ``none`` and HS256
  signed with a public key both fail);
* ``typ`` other than ``at+jwt`` or ``application/at+jwt``, compared case-insensitively
  because media types are (RFC 9068 §4, RFC 7515 §4.1.9, RFC 2045 §5.1);
* a missing ``iss``, ``aud``, ``sub``, ``iat``, ``exp``, ``jti``, ``sid`` or
  ``client_id``; ``iss``, ``aud`` or ``client_id`` not exactly our string (``aud`` must be
  a string: we never issue lists, so accepting one would only widen what passes);
  ``sub``, ``sid`` or ``jti`` not a string of the shape authward mints
  (`authward.crypto`: a user id, a handle, a token id);
  non-integer ``iat``/``exp``/``nbf``; expired, ``nbf`` or ``iat`` in the future, each
  with the configured leeway (at most `MAX_LEEWAY`, 30 s).

Time comes from the injected clock, never from the wall clock inside PyJWT.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, Protocol

import jwt
from jwt.algorithms import Algorithm

from authward.assurance import Assurance
from authward.crypto import is_handle_shaped, is_token_id_shaped, is_user_id_shaped, new_token_id
from authward.errors import InvalidToken, TokenExpired
from authward.tokens import jwk
from authward.tokens.models import AccessClaims

if TYPE_CHECKING:
    from authward.tokens.keys import SigningKey

__all__ = [
    "MAX_LEEWAY",
    "MAX_TOKEN_BYTES",
    "AccessTokens",
    "AccessVerifier",
    "SigningKeys",
    "VerifyingKey",
    "VerifyingKeys",
    "is_client_id",
    "kid_of",
]

MAX_TOKEN_BYTES: Final = 8192
MAX_LEEWAY: Final = timedelta(seconds=30)
TYP: Final = "at+jwt"
_ACCEPTED_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
_HEADER: Final = frozenset({"alg", "typ", "kid"})
_REQUIRED: Final = frozenset({"iss", "aud", "sub", "iat", "exp", "jti", "sid", "client_id"})
# RFC 6749 appendix A.1: a client_id is VSCHARs (printable ASCII and space).
_MAX_CLIENT_ID: Final = 255
# base64url to standard base64 for `binascii.a2b_base64(strict_mode=True)`; the standard
# alphabet's own "+", "/" and "=" become "!", which strict mode refuses like any stranger.
_TO_STANDARD: Final = bytes.maketrans(b"-_+/=", b"+/!!!")
# One spelling per value: the unused low bits of the last character must be zero, so a
# final group of 2 characters may end only in every 16th letter, one of 3 in every 4th.
_BASE64URL: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_LAST: Final = {2: frozenset(_BASE64URL[::16]), 3: frozenset(_BASE64URL[::4])}
_HEADER_MEMO_SIZE: Final = 64
_MAX_HEADER_SEGMENT: Final = 1024  # our headers are under 150 characters


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """One key that verifies, bound to its one algorithm (RFC 8725 §3.1)."""

    kid: str
    alg: str
    created_at: datetime
    retired_at: datetime | None
    public_jwk: dict[str, str] | None  # None for HS256: never published
    algorithm: Algorithm = field(repr=False)
    material: jwk.PublicKey | bytes = field(repr=False)

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        return bool(self.algorithm.verify(signing_input, self.material, signature))

    def verifies_at(self, now: datetime, window: timedelta) -> bool:
        return self.retired_at is None or now < self.retired_at + window


class VerifyingKeys(Protocol):
    """Where the verifier finds a key: the key ring, or the keys a JWKS verifier fetched."""

    def verifying_key(self, kid: str, now: datetime) -> VerifyingKey | None: ...


class SigningKeys(VerifyingKeys, Protocol):
    """A ring that signs as well (`authward.tokens.keys.KeyRing`)."""

    def signing_key(self) -> SigningKey: ...


# What `issue` may write in amr and acr; anything else is not a token of ours.
_AMR_VALUES: Final = frozenset({"pwd", "otp", "rc", "hwk", "user"})
_ACR_VALUES: Final = frozenset({"aal1", "aal2"})
_MAX_AMR: Final = 8


@dataclass(frozen=True, slots=True)
class _Verified:
    claims: AccessClaims
    key: VerifyingKey
    valid_until: datetime  # exp plus leeway


class AccessVerifier:
    """Verify access tokens with the keys of `keys`; no I/O.

    Verified tokens are remembered (by their exact text, up to `cache_size` of them) so a
    token seen again skips parsing and the signature check; its expiry and its key are
    checked on every call all the same, and revocation is the caller's to check.
    Tokens must name `client_id` (RFC 9068 §2.2), the audience unless told otherwise.
    """

    def __init__(
        self,
        keys: VerifyingKeys,
        *,
        issuer: str,
        audience: str,
        leeway: timedelta,
        client_id: str | None = None,
        cache_size: int = 10_000,
    ) -> None:
        if leeway > MAX_LEEWAY:
            raise ValueError("leeway must be at most 30 seconds")
        client_id = audience if client_id is None else client_id
        if not is_client_id(client_id):
            raise ValueError("client_id must be 1 to 255 printable ASCII characters")
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._client_id: str = client_id
        self._leeway = leeway
        self._cache_size = cache_size
        self._cache: dict[str, _Verified] = {}
        # The parsed header of each header segment a verified token carried: our tokens
        # share a few, so a first-seen token skips decoding its header. Only the parsing
        # is remembered; every check of alg, typ and kid still runs on every token.
        self._headers: dict[str, tuple[str, str, str]] = {}

    def verify(self, token: str, now: datetime) -> AccessClaims:
        """Return the claims of a valid token, or raise InvalidToken (and nothing else)."""
        try:
            return self._verify(token, now)
        except InvalidToken:
            raise
        except Exception as exc:  # RecursionError, OverflowError...: fail closed, never a 500
            raise InvalidToken from exc

    def forget(self) -> None:
        """Drop every remembered token (a key was withdrawn)."""
        self._cache.clear()
        self._headers.clear()

    def forget_expired(self, now: datetime) -> int:
        """Drop remembered tokens past their expiry; return how many.

        Run by the sweep: without it an expired entry stays until `cache_size` newer
        tokens push it out, so memory would track the last 10,000 tokens ever seen
        rather than the ones still alive (found by benchmarks/soak.py).
        """
        expired = [token for token, seen in self._cache.items() if seen.valid_until <= now]
        for token in expired:
            self._cache.pop(token, None)
        return len(expired)

    def _verify(self, token: str, now: datetime) -> AccessClaims:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken
        if (seen := self._cache.get(token)) is not None:
            if now < seen.valid_until and self._keys.verifying_key(seen.key.kid, now) is not None:
                return seen.claims
            self._cache.pop(token, None)  # and verify afresh, which will say why it fails
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken
        header = self._headers.get(parts[0]) or _header(_json_object(_b64decode(parts[0])))
        alg, typ, kid = header
        if not typ.isascii() or typ.lower() not in _ACCEPTED_TYPES:
            raise InvalidToken
        key = self._keys.verifying_key(kid, now)
        # The key decides the algorithm; the header must merely agree, byte for byte.
        if key is None or alg != key.alg:
            raise InvalidToken
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        if not key.verify(signing_input, _b64decode(parts[2])):
            raise InvalidToken
        verified = self._check_claims(_json_object(_b64decode(parts[1])), now, key)
        self._remember(token, verified)
        if parts[0] not in self._headers:
            if len(self._headers) >= _HEADER_MEMO_SIZE:
                self._headers.clear()
            self._headers[parts[0]] = header
        return verified.claims

    def _check_claims(
        self, claims: dict[str, object], now: datetime, key: VerifyingKey
    ) -> _Verified:
        if not claims.keys() >= _REQUIRED:
            raise InvalidToken
        if claims["iss"] != self._issuer or not isinstance(claims["iss"], str):
            raise InvalidToken
        if claims["aud"] != self._audience or not isinstance(claims["aud"], str):
            raise InvalidToken
        if claims["client_id"] != self._client_id or not isinstance(claims["client_id"], str):
            raise InvalidToken
        sub, sid, jti = claims["sub"], claims["sid"], claims["jti"]
        if not (isinstance(sub, str) and isinstance(sid, str) and isinstance(jti, str)):
            raise InvalidToken
        # Each as we mint it: a claim reaches stores (the user, the family), so a token
        # signed with odd ones (HS256's shared secret) must not carry a NUL to a query.
        if not (is_user_id_shaped(sub) and is_handle_shaped(sid) and is_token_id_shaped(jti)):
            raise InvalidToken
        iat, exp = _numeric_date(claims["iat"]), _numeric_date(claims["exp"])
        leeway = self._leeway.total_seconds()
        at = now.timestamp()
        if at >= exp + leeway:
            raise TokenExpired  # genuine (the signature held), just late: metrics count it apart
        if iat > at + leeway:
            raise InvalidToken
        if "nbf" in claims and _numeric_date(claims["nbf"]) > at + leeway:
            raise InvalidToken
        expires = datetime.fromtimestamp(exp, UTC)
        auth_time, amr, acr = _assurance(claims)
        result = AccessClaims(
            sub,
            sid,
            jti,
            datetime.fromtimestamp(iat, UTC),
            expires,
            key.kid,
            self._client_id,
            auth_time,
            amr,
            acr,
        )
        return _Verified(result, key, expires + self._leeway)

    def _remember(self, token: str, verified: _Verified) -> None:
        if len(self._cache) >= self._cache_size:
            # First in, first out: a flood of valid tokens costs re-verification, no memory.
            self._cache.pop(next(iter(self._cache), ""), None)
        self._cache[token] = verified


class AccessTokens(AccessVerifier):
    """Issue access tokens with the ring's signing key; verify them as `AccessVerifier`."""

    def __init__(
        self,
        ring: SigningKeys,
        *,
        issuer: str,
        audience: str,
        ttl: timedelta,
        leeway: timedelta,
        client_id: str | None = None,
        cache_size: int = 10_000,
    ) -> None:
        super().__init__(
            ring,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            client_id=client_id,
            cache_size=cache_size,
        )
        self._ring = ring
        self._ttl = ttl

    def issue(
        self,
        subject: str,
        sid: str,
        now: datetime,
        not_after: datetime,
        assurance: Assurance | None = None,
    ) -> tuple[str, int]:
        """Sign a token for `subject` in family `sid`; return it and its lifetime in seconds.

        It expires after the access TTL, or at `not_after` (the family's end) if sooner.
        With `assurance`, it carries ``auth_time``, ``amr`` and ``acr`` (RFC 9068 §2.2.1).
        """
        key = self._ring.signing_key()
        iat = int(now.timestamp())
        exp = min(iat + int(self._ttl.total_seconds()), int(not_after.timestamp()))
        if exp <= iat:
            raise InvalidToken  # the family ends within the second: nothing left to grant
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "iat": iat,
            "exp": exp,
            "jti": new_token_id(),
            "sid": sid,
            "client_id": self._client_id,
        }
        if assurance is not None:
            claims["auth_time"] = int(assurance.auth_time.timestamp())
            claims["amr"] = list(assurance.amr)
            claims["acr"] = assurance.acr
        # RFC 9068 §2.1: typ at+jwt; PyJWT adds alg, so the header is exactly alg, kid, typ.
        headers = {"kid": key.kid, "typ": TYP}
        return jwt.encode(claims, key.material, algorithm=key.alg, headers=headers), exp - iat


def is_client_id(value: str) -> bool:
    """Whether `value` may be a client_id: 1 to 255 of RFC 6749's VSCHARs."""
    return 0 < len(value) <= _MAX_CLIENT_ID and value.isascii() and value.isprintable()


def kid_of(token: str) -> str | None:
    """The kid a token's header names, parsed as `AccessVerifier` parses it; never trusted.

    For deciding whether to fetch keys (a JWKS verifier meeting a kid it does not hold):
    None for a header the verifier would refuse before looking its kid up.
    """
    segment = token.split(".", 1)[0] if isinstance(token, str) else ""
    if not segment or len(segment) > _MAX_HEADER_SEGMENT:
        return None
    try:
        return _header(_json_object(_b64decode(segment)))[2]
    except (InvalidToken, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def _b64decode(segment: str) -> bytes:
    """Decode unpadded base64url, refusing any other spelling of the same bytes."""
    tail = len(segment) % 4
    if tail == 1 or (tail and segment[-1] not in _LAST[tail]):
        raise InvalidToken
    try:
        standard = segment.encode("ascii").translate(_TO_STANDARD) + b"=" * (-tail % 4)
        return binascii.a2b_base64(standard, strict_mode=True)
    except ValueError:  # binascii.Error is one, and so is UnicodeEncodeError
        raise InvalidToken from None


def _json_object(data: bytes) -> dict[str, object]:
    # RFC 7515 §5.2 lets a parser keep the last duplicate; refusing them is stricter.
    value = json.loads(data.decode("utf-8"), object_pairs_hook=_unique, parse_constant=_refuse)
    if not isinstance(value, dict):
        raise InvalidToken
    return value


def _header(header: dict[str, object]) -> tuple[str, str, str]:
    """Return alg, typ and kid: all three strings, and nothing else in the header."""
    if header.keys() != _HEADER:
        raise InvalidToken
    alg, typ, kid = header["alg"], header["typ"], header["kid"]
    if not (isinstance(alg, str) and isinstance(typ, str) and isinstance(kid, str)):
        raise InvalidToken
    return alg, typ, kid


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise InvalidToken
    return result


def _refuse(constant: str) -> object:
    raise InvalidToken  # NaN, Infinity: not JSON (RFC 8259 §6)


def _assurance(claims: dict[str, object]) -> tuple[datetime | None, tuple[str, ...], str | None]:
    """``auth_time``, ``amr`` and ``acr``, each optional, each exactly as `issue` writes it."""
    auth_time = None
    if "auth_time" in claims:
        auth_time = datetime.fromtimestamp(_numeric_date(claims["auth_time"]), UTC)
    amr: tuple[str, ...] = ()
    if "amr" in claims:
        listed = claims["amr"]
        if not isinstance(listed, list) or not 0 < len(listed) <= _MAX_AMR:
            raise InvalidToken
        if not all(isinstance(m, str) and m in _AMR_VALUES for m in listed):
            raise InvalidToken
        amr = tuple(listed)
    acr = claims.get("acr")
    if acr is not None and acr not in _ACR_VALUES:
        raise InvalidToken
    return auth_time, amr, acr if isinstance(acr, str) else None


def _numeric_date(value: object) -> int:
    # We issue whole seconds; bool is an int in Python and must not pass as 0 or 1.
    if type(value) is not int:
        raise InvalidToken
    return value
