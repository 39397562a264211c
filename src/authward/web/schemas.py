"""The JSON shapes of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from authward.accounts.emails import MAX_EMAIL_INPUT_LENGTH
from authward.passwords import MAX_PASSWORD_LENGTH


class UserOut(BaseModel):
    id: str
    email: str


class MeOut(UserOut):
    auth: Literal["session", "jwt"]


class Credentials(BaseModel):
    """Login with email and password (JSON; an HTML or OAuth2 form works too)."""

    email: str = Field(max_length=MAX_EMAIL_INPUT_LENGTH)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class RegisterIn(Credentials):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"email": "ada@example.com", "password": "correct horse battery"}
        }
    )


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class SessionLoginOut(BaseModel):
    user: UserOut
    csrf_token: str


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    refresh_token: str
    csrf_token: str | None = Field(
        None,
        description="With AUTHWARD_TOKEN_COOKIES: the X-CSRF-Token of the family's cookie "
        "callers (also in a readable cookie); absent otherwise.",
    )


class RefreshIn(BaseModel):
    refresh_token: str | None = Field(
        None,
        max_length=256,
        description="Required, unless AUTHWARD_TOKEN_COOKIES is on and the refresh cookie "
        "is sent instead.",
    )


class RevokeIn(BaseModel):
    refresh_token: str | None = Field(
        None,
        max_length=256,
        description="A refresh token whose family to end, by whoever holds it (RFC 7009); "
        "without it, the access token's family is ended.",
    )


class DeviceOut(BaseModel):
    id: str = Field(description="A public handle: never the session id, its digest or a token.")
    kind: Literal["session", "jwt"]
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    ip: str
    current: bool


class ErrorOut(BaseModel):
    """Every error answer: a sentence for a person, a stable snake_case code for a program."""

    detail: str
    code: str = Field(examples=["invalid_credentials"])


class FieldErrorOut(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class InvalidInputOut(BaseModel):
    """A 422: one sentence from authward, or FastAPI's list of field errors."""

    detail: str | list[FieldErrorOut]
    code: str = Field(examples=["invalid_input"])


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    stores: dict[str, Literal["ok", "down"]]
    revocation_staleness_seconds: float = Field(
        0.0, description="How long a token revoked on another node may still verify here."
    )
    session_staleness_seconds: float = Field(
        0.0, description="How long a session ended on another node may still work here."
    )
