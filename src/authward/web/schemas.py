"""The JSON shapes of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from authward.accounts.emails import MAX_EMAIL_INPUT_LENGTH
from authward.passwords import MAX_PASSWORD_LENGTH


class UserOut(BaseModel):
    id: str
    email: str


class MeOut(UserOut):
    auth: Literal["session", "jwt"]
    auth_time: datetime = Field(description="When the login behind this credential happened.")
    amr: list[str] = Field(
        description="How it authenticated (RFC 8176): pwd, otp (TOTP), rc (recovery code), "
        "hwk (a passkey), user (the passkey's authenticator verified its user)."
    )
    aal: Literal["aal1", "aal2"] = Field(
        description="NIST SP 800-63B level: aal2 with a second factor, else aal1."
    )
    email_verified: bool


class MfaRequiredOut(BaseModel):
    """The first step's answer when the account has a second factor: no cookie, no token."""

    mfa_required: Literal[True] = True
    mfa_token: str = Field(
        description="Single use, five minutes: it grants nothing but POST /auth/mfa."
    )
    methods: list[Literal["totp", "recovery_code", "passkey"]]


class MfaIn(BaseModel):
    """The second step: the first step's mfa_token and exactly one of the codes."""

    mfa_token: str = Field(max_length=64)
    code: str | None = Field(None, max_length=16, description="A TOTP code (six digits).")
    recovery_code: str | None = Field(None, max_length=32)
    credential: dict[str, Any] | None = Field(
        None,
        description="A passkey's assertion (PublicKeyCredential.toJSON()) for a challenge "
        "from POST /auth/passkey/options.",
    )


STEP_UP = (
    "Optional: the current password, which counts as an authentication just made (403 "
    "when wrong). Without it the login must be within AUTHWARD_REAUTH_MAX_AGE, else 401 "
    "insufficient_user_authentication (POST /auth/reauth)."
)


class CurrentPasswordIn(BaseModel):
    """A sensitive change: the current password, or nothing with a recent login."""

    current_password: str | None = Field(None, max_length=MAX_PASSWORD_LENGTH, description=STEP_UP)


class ReauthIn(BaseModel):
    """Step-up: exactly one proof (the password, a TOTP code or a passkey's assertion)."""

    password: str | None = Field(None, max_length=MAX_PASSWORD_LENGTH)
    code: str | None = Field(None, max_length=16, description="A TOTP code (six digits).")
    credential: dict[str, Any] | None = Field(
        None,
        description="A passkey's assertion (PublicKeyCredential.toJSON()) for a challenge "
        "from POST /auth/passkey/options; one of the caller's own passkeys.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ReauthIn:
        if sum(x is not None for x in (self.password, self.code, self.credential)) != 1:
            raise ValueError("Send exactly one of 'password', 'code' and 'credential'.")
        return self


class TotpConfirmIn(BaseModel):
    code: str = Field(max_length=16, description="The authenticator app's code now.")


class PasskeyOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool = Field(description="The BS flag: the passkey is synced to a backup.")
    backup_eligible: bool = Field(description="The BE flag: the passkey may be synced.")


class FactorsOut(BaseModel):
    totp: bool
    recovery_codes_left: int
    passkeys: list[PasskeyOut] = Field(default_factory=list)


class PasskeyIn(BaseModel):
    """A new passkey: navigator.credentials.create()'s answer, named (step-up: see below)."""

    credential: dict[str, Any] = Field(description="PublicKeyCredential.toJSON() of create().")
    name: str = Field(max_length=256, description="What the user calls it (1 to 64 characters).")
    current_password: str | None = Field(None, max_length=MAX_PASSWORD_LENGTH, description=STEP_UP)


class PasskeyLoginIn(BaseModel):
    """A sign-in with a passkey alone: an assertion for a challenge of /auth/passkey/options."""

    credential: dict[str, Any] = Field(description="PublicKeyCredential.toJSON() of get().")
    mode: Literal["session", "token"] = "session"


class TotpEnrolmentOut(BaseModel):
    secret: str = Field(description="Base32, 160 bits; shown this once.")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as a QR code, inline SVG.")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Ten codes, each usable once; shown once.")


class AcceptedOut(BaseModel):
    """A 202: the request is taken; what follows goes by mail, and tells nothing here."""

    detail: str
    code: str = Field(examples=["accepted"])


class ForgotIn(BaseModel):
    email: str = Field(max_length=MAX_EMAIL_INPUT_LENGTH)


class ResetIn(BaseModel):
    # No length limit of its own: any unusable token gets the one 400 (the body limit
    # bounds it), not a 422 that would tell a long one apart.
    token: str
    new_password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class VerifyIn(BaseModel):
    token: str


class ResendIn(BaseModel):
    email: str | None = Field(
        None,
        max_length=MAX_EMAIL_INPUT_LENGTH,
        description="Required unless the request is authenticated.",
    )


class EmailChangeIn(BaseModel):
    new_email: str = Field(max_length=MAX_EMAIL_INPUT_LENGTH)
    current_password: str | None = Field(None, max_length=MAX_PASSWORD_LENGTH, description=STEP_UP)


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
    """Always the current password: the one credential this replaces is proven, not only
    a recent login (a stolen session, or one a second factor refreshed, cannot set it)."""

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
