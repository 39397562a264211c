"""The JSON shapes of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UserOut(BaseModel):
    id: str
    email: str


class MeOut(UserOut):
    auth: Literal["session", "jwt"]


class Credentials(BaseModel):
    """Login with email and password (JSON; an HTML or OAuth2 form works too)."""

    email: str = Field(max_length=320)
    password: str = Field(max_length=4096)


class RegisterIn(Credentials):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"email": "ada@example.com", "password": "correct horse battery"}
        }
    )


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=4096)
    new_password: str = Field(max_length=4096)


class SessionLoginOut(BaseModel):
    user: UserOut
    csrf_token: str


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    refresh_token: str


class RefreshIn(BaseModel):
    refresh_token: str = Field(max_length=256)


class DeviceOut(BaseModel):
    id: str = Field(description="A public handle: never the session id, its digest or a token.")
    kind: Literal["session", "jwt"]
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    ip: str
    current: bool


class ErrorOut(BaseModel):
    detail: str


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    stores: dict[str, Literal["ok", "down"]]
