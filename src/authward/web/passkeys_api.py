"""Passkeys over HTTP: add and remove them, and sign in with one alone.

Each ceremony is two requests: options (a fresh single-use challenge, kept in the
database every node reads) and the browser's answer to them. Asking for a new passkey's
options, adding one and removing one are step-ups, as every factor change is: the
current password in the body, or a recent login (`require_step_up`). A passkey sign-in
answers what a password login answers, without the second step: a passkey verified
with user verification is two factors by itself.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from authward.callers import AuthUser
from authward.errors import InvalidCredentials
from authward.factors.models import Passkey
from authward.web.api import ERROR_RESPONSES, device_of, session_answer
from authward.web.auth import require, require_step_up, runtime_of
from authward.web.origin import check_origin
from authward.web.routing import AuthwardRoute
from authward.web.schemas import (
    CurrentPasswordIn,
    PasskeyIn,
    PasskeyLoginIn,
    PasskeyOut,
    SessionLoginOut,
    TokenOut,
)
from authward.web.token_api import NO_STORE, token_answer

router = APIRouter(prefix="/auth", route_class=AuthwardRoute, strict_content_type=True)
Authenticated = Annotated[AuthUser, Depends(require)]
# A step-up's body: ``{"current_password"}``, or none at all after a recent login.
StepUpBody = Annotated[CurrentPasswordIn | None, Body()]


def passkey_out(passkey: Passkey) -> PasskeyOut:
    return PasskeyOut(
        id=passkey.id,
        name=passkey.name,
        created_at=passkey.created_at,
        last_used_at=passkey.last_used_at,
        backed_up=passkey.backed_up,
        backup_eligible=passkey.backup_eligible,
    )


def _options(options_json: str) -> JSONResponse:
    return JSONResponse(json.loads(options_json), headers=NO_STORE)


@router.post("/factors/passkeys/options", responses=ERROR_RESPONSES)
async def registration_options(
    request: Request, principal: Authenticated, body: StepUpBody = None
) -> JSONResponse:
    """`PublicKeyCredentialCreationOptions` (JSON) for `navigator.credentials.create()`:
    a discoverable credential, the user's passkeys excluded, a challenge for five minutes.
    A step-up: ``{"current_password"}``, or no body after a recent login (else 401)."""
    runtime = runtime_of(request)
    await require_step_up(request, principal, None if body is None else body.current_password)
    user = await runtime.accounts.users.get(principal.id)
    if user is None or user.disabled:
        raise InvalidCredentials
    return _options(await runtime.passkeys.registration_options(user.id, user.email))


@router.post(
    "/factors/passkeys", status_code=201, response_model=PasskeyOut, responses=ERROR_RESPONSES
)
async def add_passkey(body: PasskeyIn, request: Request, principal: Authenticated) -> JSONResponse:
    """Keep a new passkey: the answer to this user's options, named (409: registered).
    A step-up: ``current_password``, or a recent login (else 401)."""
    runtime = runtime_of(request)
    await require_step_up(request, principal, body.current_password)
    passkey = await runtime.passkeys.register(principal.id, body.credential, body.name)
    return JSONResponse(passkey_out(passkey).model_dump(mode="json"), status_code=201)


@router.delete("/factors/passkeys/{passkey_id}", status_code=204, responses=ERROR_RESPONSES)
async def remove_passkey(
    passkey_id: str,
    request: Request,
    principal: Authenticated,
    body: StepUpBody = None,
) -> Response:
    """Remove one of your passkeys (404 for anyone else's). A step-up, as above."""
    runtime = runtime_of(request)
    await require_step_up(request, principal, None if body is None else body.current_password)
    await runtime.passkeys.remove(principal.id, passkey_id)
    return Response(status_code=204)


@router.post("/passkey/options", responses=ERROR_RESPONSES)
async def authentication_options(request: Request) -> JSONResponse:
    """`PublicKeyCredentialRequestOptions` (JSON) for `navigator.credentials.get()`:
    no credentials listed (the passkey says whose it is), user verification required.
    The same options serve the second step of a password login (`POST /auth/mfa`)."""
    return _options(await runtime_of(request).passkeys.authentication_options())


@router.post("/passkey/login", response_model=SessionLoginOut | TokenOut, responses=ERROR_RESPONSES)
async def passkey_login(body: PasskeyLoginIn, request: Request) -> JSONResponse:
    """Sign in with a passkey alone: the answer of a session or token login, with amr
    ``["hwk", "user"]`` and acr ``aal2``. 401 for anything that does not verify."""
    check_origin(request)  # it may set a cookie: a forged one would be login CSRF
    runtime = runtime_of(request)
    used = await runtime.passkeys.authenticate(body.credential, require_uv=True)
    user = await runtime.accounts.users.get(used.passkey.user_id)
    if user is None or user.disabled:
        raise InvalidCredentials
    if body.mode == "session":
        return await session_answer(request, user, used.amr)
    pair = await runtime.tokens.issue(user.id, device_of(request), amr=used.amr)
    return token_answer(request, runtime, pair)
