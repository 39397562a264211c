"""Second factors over HTTP: enrol and remove them, and the second step of a login.

Every change to a user's factors is a step-up (`require_step_up`): the current
password in the body (``current_password``, checked and counted as a password
change's is), or a login within ``AUTHWARD_REAUTH_MAX_AGE``, else 401 with the RFC 9470
challenge. A stolen session alone cannot turn a factor off, or read new recovery codes,
once its login is no longer recent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from authward.callers import AuthUser
from authward.errors import InvalidCredentials
from authward.web.api import ERROR_RESPONSES, device_of, session_answer
from authward.web.auth import require, require_step_up, runtime_of
from authward.web.origin import check_origin
from authward.web.passkeys_api import passkey_out
from authward.web.routing import AuthwardRoute
from authward.web.schemas import (
    CurrentPasswordIn,
    FactorsOut,
    MfaIn,
    RecoveryCodesOut,
    SessionLoginOut,
    TokenOut,
    TotpConfirmIn,
    TotpEnrolmentOut,
)
from authward.web.token_api import NO_STORE, token_answer

router = APIRouter(prefix="/auth", route_class=AuthwardRoute, strict_content_type=True)
Authenticated = Annotated[AuthUser, Depends(require)]
# A step-up's body: ``{"current_password"}``, or none at all after a recent login.
StepUpBody = Annotated[CurrentPasswordIn | None, Body()]


def _password(body: CurrentPasswordIn | None) -> str | None:
    return None if body is None else body.current_password


@router.get("/factors", response_model=FactorsOut, responses=ERROR_RESPONSES)
async def factors(request: Request, principal: Authenticated) -> FactorsOut:
    """Which second factors are on, how many recovery codes are left, and the passkeys."""
    status = await runtime_of(request).factors.status(principal.id)
    return FactorsOut(
        totp=status.totp,
        recovery_codes_left=status.recovery_codes_left,
        passkeys=[passkey_out(p) for p in status.passkeys],
    )


@router.post("/factors/totp", response_model=TotpEnrolmentOut, responses=ERROR_RESPONSES)
async def begin_totp(
    request: Request, principal: Authenticated, body: StepUpBody = None
) -> JSONResponse:
    """A new TOTP secret to scan; not active until `/auth/factors/totp/confirm` (409: on).

    A step-up: the current password in the body, or a recent login (else 401)."""
    runtime = runtime_of(request)
    await require_step_up(request, principal, _password(body))
    user = await runtime.accounts.users.get(principal.id)
    if user is None or user.disabled:
        raise InvalidCredentials
    enrolment = await runtime.factors.begin_totp(principal.id, user.email)
    out = TotpEnrolmentOut(
        secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg
    )
    return JSONResponse(out.model_dump(), headers=NO_STORE)


@router.post("/factors/totp/confirm", response_model=RecoveryCodesOut, responses=ERROR_RESPONSES)
async def confirm_totp(
    body: TotpConfirmIn, request: Request, principal: Authenticated
) -> JSONResponse:
    """Turn TOTP on with a first valid code; the answer holds the ten recovery codes."""
    codes = await runtime_of(request).factors.confirm_totp(principal.id, body.code)
    return JSONResponse(RecoveryCodesOut(recovery_codes=codes).model_dump(), headers=NO_STORE)


@router.delete("/factors/totp", status_code=204, responses=ERROR_RESPONSES)
async def disable_totp(
    request: Request, principal: Authenticated, body: StepUpBody = None
) -> Response:
    """Turn TOTP off (and void the recovery codes); 404 when it was not on. A step-up."""
    await require_step_up(request, principal, _password(body))
    await runtime_of(request).factors.disable_totp(principal.id)
    return Response(status_code=204)


@router.post("/factors/recovery-codes", response_model=RecoveryCodesOut, responses=ERROR_RESPONSES)
async def new_recovery_codes(
    request: Request, principal: Authenticated, body: StepUpBody = None
) -> JSONResponse:
    """Ten new recovery codes; every older one is void (404 without a factor on). A step-up."""
    await require_step_up(request, principal, _password(body))
    codes = await runtime_of(request).factors.new_recovery_codes(principal.id)
    return JSONResponse(RecoveryCodesOut(recovery_codes=codes).model_dump(), headers=NO_STORE)


@router.post("/mfa", response_model=SessionLoginOut | TokenOut, responses=ERROR_RESPONSES)
async def second_step(body: MfaIn, request: Request) -> JSONResponse:
    """Finish a login with the first step's ``mfa_token`` and a TOTP code, a recovery
    code or a passkey's assertion (``credential``, for `POST /auth/passkey/options`).

    The answer is the one the first step would have given: a session cookie for a
    session login, a token pair for a token login. 401 for a spent, expired or unknown
    ``mfa_token`` or a wrong code; 429 past ``AUTHWARD_MFA_MAX_FAILURES``.
    """
    check_origin(request)  # it may set a cookie: a forged one would be login CSRF
    runtime = runtime_of(request)
    done = await runtime.factors.complete(
        body.mfa_token,
        code=body.code,
        recovery_code=body.recovery_code,
        credential=body.credential,
    )
    user = await runtime.accounts.users.get(done.user_id)
    if user is None or user.disabled:
        raise InvalidCredentials  # disabled between the two steps
    amr = ("pwd", *done.methods)
    if done.mode == "session":
        return await session_answer(request, user, amr)
    pair = await runtime.tokens.issue(user.id, device_of(request), amr=amr)
    return token_answer(request, runtime, pair)
