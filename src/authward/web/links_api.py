"""The JSON API of the flows that go through a mailed link: password reset, email
verification, email change (`authward.flows` does the work; these routes stay thin).

A 202 here has one body whatever the email: whether an account exists is decided after
the answer went out, in a background task (`later`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from authward.callers import AuthUser
from authward.errors import InvalidInput
from authward.web.accepted import accepted, later
from authward.web.addresses import client_address
from authward.web.api import ERROR_RESPONSES
from authward.web.auth import (
    authenticate,
    require,
    require_recent_login,
    runtime_of,
    session_id_of,
)
from authward.web.routing import AuthwardRoute
from authward.web.schemas import (
    AcceptedOut,
    EmailChangeIn,
    ForgotIn,
    ResendIn,
    ResetIn,
    VerifyIn,
)

router = APIRouter(prefix="/auth", route_class=AuthwardRoute, strict_content_type=True)
Authenticated = Annotated[AuthUser, Depends(require)]


async def _maybe_caller(request: Request) -> AuthUser | None:
    # Not `authenticate` itself: FastAPI would read its `accepted` parameter from the body.
    return await authenticate(request)


MaybeAuthenticated = Annotated[AuthUser | None, Depends(_maybe_caller)]


def _address(request: Request) -> str:
    return client_address(request.scope, runtime_of(request).settings.trusted_proxies)


@router.post(
    "/password/forgot", status_code=202, response_model=AcceptedOut, responses=ERROR_RESPONSES
)
async def forgot_password(body: ForgotIn, request: Request) -> JSONResponse:
    """Mail a reset link to the account of `email`, if there is one (202 either way;
    429 when this address asked too often)."""
    reset = runtime_of(request).flows.reset
    await reset.admit(_address(request))
    return accepted(later(reset.send, body.email))


@router.post("/password/reset", status_code=204, responses=ERROR_RESPONSES)
async def reset_password(body: ResetIn, request: Request) -> Response:
    """Set a new password with a reset link's token; every session and token family of
    the account ends (400 for any unusable token, 422 for a password refused)."""
    await runtime_of(request).flows.reset.complete(body.token, body.new_password)
    return Response(status_code=204)


@router.post("/email/verify", status_code=204, responses=ERROR_RESPONSES)
async def verify_email(body: VerifyIn, request: Request, caller: MaybeAuthenticated) -> Response:
    """Use a verification or email-change link's token (400 for any unusable token).

    The first verification ends the account's other sessions and families: someone else
    may have registered with this address. The caller's own, if any, stays.
    """
    keep_session = session_id_of(request, caller) if caller is not None else None
    keep_family = caller.handle if caller is not None and caller.via == "jwt" else None
    await runtime_of(request).flows.verification.verify(
        body.token, keep_session_id=keep_session, keep_family=keep_family
    )
    return Response(status_code=204)


@router.post(
    "/email/verify/resend",
    status_code=202,
    response_model=AcceptedOut,
    responses=ERROR_RESPONSES,
)
async def resend_verification(
    request: Request, caller: MaybeAuthenticated, body: ResendIn | None = None
) -> JSONResponse:
    """Mail a fresh verification link: to the caller, or to the account of `email`
    (202 alike for every email)."""
    verification = runtime_of(request).flows.verification
    await verification.admit(_address(request))
    if caller is not None:
        return accepted(later(verification.resend_for, caller.id))
    if body is None or body.email is None:
        raise InvalidInput("An email is required unless you are signed in.")
    return accepted(later(verification.resend_to, body.email))


@router.post("/email", status_code=202, response_model=AcceptedOut, responses=ERROR_RESPONSES)
async def change_email(
    body: EmailChangeIn, request: Request, caller: Authenticated
) -> JSONResponse:
    """Ask to move the account to `new_email`: a link goes there, a notice to the current
    address. Nothing changes until the link is used. A step-up: ``current_password``
    (403 when wrong, counted), or a recent login (else 401 with the challenge)."""
    email_change = runtime_of(request).flows.email_change
    if body.current_password is None:
        await require_recent_login(request, caller)
    new_email = await email_change.admit(
        caller.id, body.new_email, body.current_password, address=_address(request)
    )
    return accepted(later(email_change.send, caller.id, new_email))
