"""Every ``AUTHWARD_*`` variable, typed and validated once at start.

Nothing else in authward reads ``os.environ``: a `Settings` object is built at start and
passed down. A bad value or a bad combination raises `SettingsError`, whose message is one
line naming the variable, so `authward serve` can stop with it instead of a traceback.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Final, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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


class SettingsError(ValueError):
    """A setting is missing, malformed or contradicts another: the message names it."""


class Settings(BaseSettings):
    """authward's configuration; see docs/configuration.md for each variable."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    database_url: str = "sqlite:///./authward.db"
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    key_file: str = "./authward.key"
    jwt_alg: Algorithm = "EdDSA"
    issuer: str = Field("authward", min_length=1)
    audience: str = Field("authward", min_length=1)
    access_ttl: int = Field(300, ge=10, le=86_400)
    refresh_ttl: int = Field(1_209_600, ge=60, le=31_536_000)
    refresh_grace: int = Field(5, ge=0, le=60)
    session_idle_ttl: int = Field(1800, ge=10)
    session_absolute_ttl: int = Field(43_200, ge=10)
    max_sessions_per_user: int = Field(10, ge=1, le=1000)
    insecure_cookies: bool = False
    same_site: Literal["lax", "strict"] = "lax"
    token_cookies: bool = False
    login_max_failures: int = Field(5, ge=1, le=10_000)
    login_account_max_failures: int = Field(0, ge=0, le=100_000)
    login_window: int = Field(900, ge=1, le=86_400)
    trusted_proxies: Annotated[tuple[IpNetwork, ...], NoDecode] = ()
    leeway: int = Field(1, ge=0, le=30)
    sweep_interval: int = Field(60, ge=1, le=86_400)
    revocation_poll_interval: float = Field(1.0, gt=0, le=60)
    demo_pages: bool = True
    argon2_time_cost: int = Field(3, ge=1, le=20)
    argon2_memory_kib: int = Field(65_536, ge=8, le=4_194_304)
    argon2_parallelism: int = Field(4, ge=1, le=64)
    argon2_max_concurrent: int = Field(2, ge=1, le=64)
    max_body_bytes: int = Field(16_384, ge=1024, le=10_485_760)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            return tuple(ipaddress.ip_network(p, strict=False) for p in parts)
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
        if not self.database_url.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("AUTHWARD_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return self

    @property
    def account_max_failures(self) -> int:
        """Failures per account from all addresses before the account itself is throttled."""
        return self.login_account_max_failures or self.login_max_failures * 10


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
