"""Every ``AUTHWARD_*`` variable, typed and validated once at start.

Nothing else in authward reads ``os.environ``: a `Settings` object is built at start and
passed down. A bad value or a bad combination raises `SettingsError`, whose message is one
line naming the variable, so `authward serve` can stop with it instead of a traceback.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from authward.pacing import Pacing

ENV_PREFIX: Final = "AUTHWARD_"

Algorithm = Literal["EdDSA", "ES256", "RS256", "HS256"]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Secrets copied from tutorials and sample configs: refused outright (RFC 8725 §3.5).
_SAMPLE_SECRETS: Final = frozenset(
    {
        "secret",
        "changeme",
        "change-me",
        "your-256-bit-secret",
        "your-secret-key",
        "supersecret",
        "super-secret-key",
        "mysecretkey",
        "SECRET_KEY",
        "please-change-me-to-a-long-random-secret",
        "a-string-secret-at-least-256-bits-long",
        "0" * 32,
        "x" * 32,
        "a" * 32,
    }
)


# AUTHWARD_* names that are no setting of this process and yet are no mistake: the test
# harness's own (AUTHWARD_TEST_*, the servers it reaches), the screenshot run's folder,
# and the JWKS address of the example resource service, which may share an environment.
NOT_SETTINGS_PREFIX: Final = ENV_PREFIX + "TEST_"
NOT_SETTINGS: Final = frozenset({"AUTHWARD_JWKS_URL", "AUTHWARD_SCREENSHOTS_DIR"})


class SettingsError(ValueError):
    """A setting is missing, malformed or contradicts another: the message names it."""


class Settings(BaseSettings):
    """authward's configuration; see docs/configuration.md for each variable."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    database_url: str = Field(
        "sqlite:///./authward.db",
        description="Users, sessions, refresh families and keys (SQLAlchemy URL: sqlite:///… "
        "or postgresql://…).",
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        le=1_000,
        description="PostgreSQL connections each worker keeps open; as many again may open "
        "during a burst. Each worker also has up to 4 connections of its own for reading "
        "sessions and accounts by key. Keep workers × (2 × this + 4), plus one per worker for "
        "the revocation listener, under the server's max_connections.",
    )
    database_pool_timeout: float = Field(
        30,
        gt=0,
        le=600,
        description="Seconds a request waits for a free PostgreSQL connection before it "
        "is answered 503.",
    )
    database_timeout: float = Field(
        10,
        ge=0,
        le=600,
        description="Seconds a PostgreSQL statement, or a connection attempt, may take before "
        "its request is answered 503 (0: no limit). Migrations have no limit.",
    )
    redis_url: str | None = Field(
        None,
        description="When set, sessions, failed-login counts and the revocation bus live in "
        "Redis (redis://, rediss://, or redis+cluster://host:port,… for a Redis Cluster); "
        "users, keys and refresh families stay in the database.",
    )
    redis_prefix: str = Field(
        "authward:",
        min_length=1,
        max_length=64,
        description="Prefix of every Redis key and channel, so that deployments (or test "
        "runs) can share one Redis; no braces.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Master secret, at least 32 bytes, shared by every node. With asymmetric "
        "algorithms it encrypts the stored private keys (through HKDF); with HS256 its bytes "
        "are the HMAC key. Unset: generated once into AUTHWARD_KEY_FILE.",
    )
    key_file: str = Field(
        "./authward.key", description="Where the generated master secret is kept (mode 0600)."
    )
    jwt_alg: Algorithm = Field("EdDSA", description="Access token algorithm.")
    issuer: str = Field("authward", min_length=1, description="The iss claim.")
    audience: str = Field("authward", min_length=1, description="The aud claim.")
    client_id: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description="The client_id claim (RFC 9068) of every access token; tokens naming "
        "another are refused. Unset: the audience (AUTHWARD_AUDIENCE).",
    )
    rp_id: str | None = Field(
        None,
        description="The WebAuthn relying party id: the host of AUTHWARD_PUBLIC_URL (the "
        "default) or a domain it ends with. Passkeys made for one RP id work for no other; "
        "a browser takes no IP address as one (use localhost in development).",
    )
    access_ttl: int = Field(300, ge=10, le=86_400, description="Access token lifetime, seconds.")
    refresh_ttl: int = Field(
        1_209_600,
        ge=60,
        le=31_536_000,
        description="Refresh family lifetime, seconds, counted from login (never slides).",
    )
    refresh_grace: int = Field(
        5,
        ge=0,
        le=60,
        description="Seconds after a refresh during which the spent token is refused without "
        "revoking its family (two racing refreshes from one client).",
    )
    session_idle_ttl: int = Field(1800, ge=10, description="Session idle timeout (sliding), s.")
    session_absolute_ttl: int = Field(43_200, ge=10, description="Session absolute lifetime, s.")
    max_sessions_per_user: int = Field(
        10,
        ge=1,
        le=1000,
        description="Live sessions per user; at the limit a new login ends the oldest.",
    )
    insecure_cookies: bool = Field(
        False,
        description="1: cookies without Secure and without the __Host- prefix, for plain-HTTP "
        "development and tests only.",
    )
    same_site: Literal["lax", "strict"] = Field("lax", description="SameSite of the cookies.")
    token_cookies: bool = Field(
        False,
        description="1: POST /auth/token and /auth/token/refresh also set the access token "
        "in an HttpOnly __Host- cookie, the refresh token in an HttpOnly __Secure- cookie "
        "scoped to the refresh route, and the family's CSRF token in a cookie scripts can "
        "read; the access cookie then authenticates (after a bearer header and a session "
        "cookie), its unsafe requests needing X-CSRF-Token. For browser apps that should "
        "not hold tokens in storage.",
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Failed logins per (account, client address) within the window before 429.",
    )
    login_account_max_failures: int = Field(
        0,
        ge=0,
        le=100_000,
        description="Failed logins per account from all addresses before 429 (0: ten times "
        "AUTHWARD_LOGIN_MAX_FAILURES).",
    )
    mfa_max_failures: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Wrong second-factor codes per account within the login window before "
        "429 (a count of its own, not the password's).",
    )
    reauth_max_age: int = Field(
        300,
        ge=1,
        le=86_400,
        description="Seconds an authentication counts as recent for sensitive changes "
        "(step-up); older, 401 with the RFC 9470 challenge, and `POST /auth/reauth` makes "
        "a token login recent again.",
    )
    login_window: int = Field(
        900,
        ge=1,
        le=86_400,
        description="Sliding window for every throttle count (logins, password changes, "
        "refreshes, registrations), seconds.",
    )
    login_address_max_failures: int = Field(
        100,
        ge=1,
        le=1_000_000,
        description="Failed logins per client address across every account within the window "
        "before 429 (against password spraying).",
    )
    refresh_max_failures: int = Field(
        100,
        ge=1,
        le=100_000,
        description="Failed refreshes per client address within the window before 429 (a "
        "token presented again after failing AUTHWARD_LOGIN_MAX_FAILURES times gets 429 too).",
    )
    register_max_attempts: int = Field(
        20,
        ge=1,
        le=100_000,
        description="Registration attempts per client address within the window before 429, "
        "counted whatever their outcome.",
    )
    breached_passwords: Literal["off", "hibp"] = Field(
        "off",
        description="hibp: also refuse a new password found in the Pwned Passwords corpus, "
        "asked by k-anonymity range query (only the first 5 hex digits of its SHA-1 are "
        "sent, with Add-Padding). off: the list of common passwords alone.",
    )
    breached_passwords_url: str = Field(
        "https://api.pwnedpasswords.com/range/",
        description="The range API the 5-digit prefix is appended to: https, or http to a "
        "loopback address (a local mirror).",
    )
    breached_passwords_timeout: float = Field(
        2.0,
        gt=0,
        le=30,
        description="Seconds the whole range query may take before it counts as failed.",
    )
    breached_passwords_fail: Literal["open", "closed"] = Field(
        "closed",
        description="When the range API fails or is too slow: closed refuses to set the "
        "password (503, try again), open lets it pass (the common list still applies).",
    )
    public_url: str | None = Field(
        None,
        description="The service's external base URL (https://auth.example.com): every link "
        "in a mail is built from it, never from a request's Host header. authward serve "
        "defaults it to http://127.0.0.1:<port>; the library needs it once mail is sent.",
    )
    email_verification: Literal["off", "optional", "required"] = Field(
        "optional",
        description="off; optional (a verification mail at registration, unverified accounts "
        "may sign in); required (they may not, and registration no longer tells whether an "
        "email is taken).",
    )
    reset_ttl: int = Field(
        900, ge=60, le=3600, description="Lifetime of a password-reset link, seconds."
    )
    verify_ttl: int = Field(
        86_400, ge=60, le=30 * 86_400, description="Lifetime of an email-verification link, s."
    )
    trusted_proxies: Annotated[tuple[IpNetwork, ...], NoDecode] = Field(
        (),
        description="Comma-separated addresses/CIDRs whose X-Forwarded-For is believed; "
        "otherwise the client address is the TCP peer.",
    )
    leeway: int = Field(1, ge=0, le=30, description="Clock leeway for exp/nbf/iat, seconds.")
    sweep_interval: int = Field(
        60, ge=1, le=86_400, description="Seconds between background sweeps of expired state."
    )
    sweep_batch: int = Field(
        200,
        ge=1,
        le=100_000,
        description="Expired sessions the sweep removes per step (one short transaction; on "
        "Redis the users holding about that many: their indexes in one round trip, then a "
        "short script per 50 or so sessions; three round trips on a cluster).",
    )
    sweep_duty: float = Field(
        0.25,
        gt=0,
        le=1,
        description="Share of the time the sweep may work: after each step it rests in "
        "proportion, so a large backlog does not crowd out requests (1: no rest).",
    )
    revocation_poll_interval: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Without Redis: how often each worker reads new revocations from the "
        "database, seconds (the staleness bound between workers). With Redis: how often each "
        "node checks that it missed no revocation (at most twice this, usually milliseconds).",
    )
    revocation_push: bool = Field(
        True,
        description="Without Redis: push each revocation to the other processes at once "
        "(PostgreSQL's LISTEN/NOTIFY; Unix datagrams between the processes on one SQLite "
        "file), the poll staying the resync. Off: the poll alone (say, behind a PgBouncer "
        "in transaction mode, where LISTEN does not work).",
    )
    session_cache_ttl: float | None = Field(
        None,
        ge=0,
        le=60,
        description="Seconds a node may answer a session from its own memory without asking "
        "the store (0: off). A session ended elsewhere is refused here within this bound, "
        "usually at once through the revocation bus. Unset: 5 when revocations reach every "
        "process at once (Redis, PostgreSQL's LISTEN/NOTIFY, or the workers of one machine "
        "on a SQLite file), else off.",
    )
    session_cache_size: int = Field(
        10_000, ge=1, le=10_000_000, description="Sessions each node's cache holds at most."
    )
    account_cache_ttl: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="Seconds a node may answer a caller's account (`current_account`, "
        "/auth/me) from its own memory (0: off, every request reads the user store). A "
        "change made through authward reaches every node at once through the revocation "
        "bus; this bounds one the bus never carried (an edit of the users table by hand).",
    )
    account_cache_size: int = Field(
        10_000, ge=1, le=10_000_000, description="Accounts each node's cache holds at most."
    )
    demo_pages: bool = Field(True, description="Serve the /how demonstration page.")
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token GET /metrics requires (Authorization: Bearer …), at least "
        "32 characters. Unset: /metrics answers whoever reaches the port; keep it private "
        "(docs/deployment.md).",
    )
    argon2_time_cost: int = Field(3, ge=1, le=20, description="argon2id passes (RFC 9106: 3).")
    argon2_memory_kib: int = Field(
        65_536, ge=8, le=4_194_304, description="argon2id memory, KiB (RFC 9106: 65536)."
    )
    argon2_parallelism: int = Field(4, ge=1, le=64, description="argon2id lanes (RFC 9106: 4).")
    argon2_max_concurrent: int = Field(
        2,
        ge=1,
        le=64,
        description="Password hashes running at once per process (bounds CPU and memory).",
    )
    max_body_bytes: int = Field(
        16_384, ge=1024, le=10_485_760, description="Largest request body accepted, bytes."
    )
    audit_log: bool = Field(
        True,
        description="Write every security event (register, login, failed login, logout, "
        "revoke, refresh reuse, password change, key rotation) to the authward_audit_log table.",
    )
    audit_retention_days: int = Field(
        90, ge=1, le=3650, description="Days the sweep keeps audit log rows."
    )
    smtp_url: SecretStr | None = Field(
        None,
        description="smtp://[user:password@]host[:port] (STARTTLS when offered; "
        "?starttls=require to insist) or smtps://… (implicit TLS). Unset: mails stay in the "
        "outbox and their text, links included, is printed to the log (development).",
    )
    mail_from: str = Field(
        "authward@localhost", min_length=3, description="The From address of every mail."
    )
    mail_templates: str | None = Field(
        None,
        description="A folder of mail templates (<name>.subject.txt, <name>.txt, <name>.html) "
        "that replace the shipped ones of the same name.",
    )
    mail_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days the sweep keeps the record (recipient, template, state, times) of a "
        "sent or failed mail; a sent mail's body is erased at once.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_variables(cls, values: Any) -> Any:
        # A misspelt variable (AUTHWARD_ACESS_TTL) would leave its setting at the default
        # without a word: refused instead, at start, with the nearest real name.
        if unknown := unknown_variables(os.environ):
            raise ValueError("; ".join(unknown))
        return values

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            return tuple(ipaddress.ip_network(p, strict=False) for p in parts)
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_base(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must hold no query, fragment or credentials")
        return value.rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if not value:
            return None  # AUTHWARD_REDIS_URL= (empty) means unset
        schemes = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")
        if not value.lower().startswith(schemes):
            raise ValueError("must be a redis://, rediss://, unix:// or redis+cluster:// URL")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # AUTHWARD_SMTP_URL= (empty) means unset
        parts = urlsplit(value.get_secret_value())
        if parts.scheme.lower() not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("must be an smtp://host or smtps://host URL")
        try:
            parts.port  # noqa: B018  (parsing it is the check)
        except ValueError:
            raise ValueError("the port is not a number") from None
        if parse_qs(parts.query).get("starttls", ["require"])[0].lower() != "require":
            raise ValueError("starttls may only be 'require'")
        return value

    @field_validator("mail_from")
    @classmethod
    def _one_address(cls, value: str) -> str:
        # It becomes a header: a line break would let the setting write headers of its own.
        if "@" not in value or any(ch in value for ch in "\r\n\x00"):
            raise ValueError("must be one email address on one line")
        return value

    @field_validator("redis_prefix")
    @classmethod
    def _no_hash_tag(cls, value: str) -> str:
        # A hash tag in the prefix would put every key in one Redis Cluster slot.
        if "{" in value or "}" in value:
            raise ValueError("may not contain '{' or '}'")
        return value

    @field_validator("breached_passwords_url")
    @classmethod
    def _range_url(cls, value: str) -> str:
        url = urlsplit(value)
        loopback = url.hostname in ("localhost", "127.0.0.1", "::1")
        if not url.hostname or not (url.scheme == "https" or (url.scheme == "http" and loopback)):
            raise ValueError("must be an https:// URL (or http:// to a loopback address)")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if len(raw.encode()) < 32:
            raise ValueError("must be at least 32 bytes (256 bits)")
        if raw in _SAMPLE_SECRETS or len(set(raw)) < 8:
            raise ValueError("is a well-known sample or low-entropy value; generate a random one")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None  # AUTHWARD_METRICS_TOKEN= (empty) means unset
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (openssl rand -hex 32)")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.session_idle_ttl > self.session_absolute_ttl:
            raise ValueError(
                "AUTHWARD_SESSION_IDLE_TTL must not exceed AUTHWARD_SESSION_ABSOLUTE_TTL"
            )
        if self.access_ttl > self.refresh_ttl:
            raise ValueError("AUTHWARD_ACCESS_TTL must not exceed AUTHWARD_REFRESH_TTL")
        if self.jwt_alg == "HS256" and self.secret_key is None:
            # A generated file secret would differ per deployment copy; HS256 exists to be shared.
            raise ValueError("AUTHWARD_JWT_ALG=HS256 needs AUTHWARD_SECRET_KEY (the shared key)")
        if self.smtp_url is not None and self.public_url is None:
            # Mailed links must point at the service as its users reach it; a guess (or the
            # request's Host header) could send them anywhere.
            raise ValueError(
                "AUTHWARD_SMTP_URL needs AUTHWARD_PUBLIC_URL (the base of every link mailed)"
            )
        if not self.database_url.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("AUTHWARD_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        host = (urlsplit(self.public_url or "").hostname or "").lower()
        if self.rp_id is not None and not (
            host == self.rp_id.lower() or host.endswith("." + self.rp_id.lower())
        ):
            # WebAuthn §5.1.4.1: a browser refuses an RP id the page's host does not end with.
            raise ValueError("AUTHWARD_RP_ID must be the host of AUTHWARD_PUBLIC_URL or a suffix")
        return self

    @property
    def account_max_failures(self) -> int:
        """Failures per account from all addresses before the account itself is throttled."""
        return self.login_account_max_failures or self.login_max_failures * 10

    @property
    def sweep_pacing(self) -> Pacing:
        return Pacing(batch=self.sweep_batch, duty=self.sweep_duty)


def variable_names() -> list[str]:
    """Every setting's variable, from the `Settings` fields (no hand-kept list)."""
    return [ENV_PREFIX + name.upper() for name in Settings.model_fields]


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One message per ``AUTHWARD_*`` name in `environ` that is no setting, with the nearest
    real name when one is close (the refusal's text; empty when every name is known)."""
    known = variable_names()
    suffixes = {name.removeprefix(ENV_PREFIX): name for name in known}
    messages = []
    for name in sorted(environ):
        upper = name.upper()  # the environment is read case-insensitively
        if not upper.startswith(ENV_PREFIX) or upper in known or upper in NOT_SETTINGS:
            continue
        if upper.startswith(NOT_SETTINGS_PREFIX):
            continue
        # Compared without the prefix every name shares, which would make all look alike.
        suffix = upper.removeprefix(ENV_PREFIX)
        nearest = difflib.get_close_matches(suffix, suffixes, n=1, cutoff=0.75)
        hint = f" (did you mean {suffixes[nearest[0]]}?)" if nearest else ""
        messages.append(f"{name}: no such setting{hint}")
    return messages


def load_settings(**overrides: Any) -> Settings:
    """Build `Settings` from the environment (and `overrides`), or raise `SettingsError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """Turn a validation error into one line that names the variable."""
    error = exc.errors(include_url=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return message
    variable = ENV_PREFIX + str(error["loc"][0]).upper()
    return f"{variable}: {message}"
