"""Step-up over HTTP: ``POST /auth/reauth`` makes the caller's login recent again.

The routes that change how an account signs in ask for a recent login (RFC 9470); this
is how a caller gets one without signing in anew: the proof is checked by
`authward.flows.Reauthentication`, which the pages share.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from authward.callers import AuthUser
from authward.flows import Proof
from authward.web.addresses import client_address
from authward.web.api import ERROR_RESPONSES, device_of
from authward.web.auth import require, runtime_of, session_id_of
from authward.web.origin import check_origin
from authward.web.routing import AuthwardRoute
from authward.web.schemas import ReauthIn, TokenOut
from authward.web.token_api import NO_STORE, token_answer

router = APIRouter(prefix="/auth", route_class=AuthwardRoute, strict_content_type=True)
Authenticated = Annotated[AuthUser, Depends(require)]


@router.post(
    "/reauth",
    status_code=204,
    responses={**ERROR_RESPONSES, 200: {"model": TokenOut}},
)
async def reauth(body: ReauthIn, request: Request, caller: Authenticated) -> Response:
    """Step-up: exactly one of ``password``, ``code`` (TOTP) or ``credential`` (a passkey's
    assertion for `POST /auth/reauth/options`, or for `POST /auth/passkey/options` with
    one of the caller's own passkeys) makes the caller's login recent; 422 for none or
    more than one.

    Each proof is checked and counted as at login: a wrong password is 403 (a failed
    login of the account), a wrong, replayed or foreign code or passkey 401 (a failed
    second step), 429 past either limit. The login keeps its methods (NIST SP 800-63B
    lets one factor reauthenticate a login of any level); only its auth time is now.

    A session caller (CSRF token required) gets 204: the session is the same, its auth
    time now. A token caller gets 200 with a new pair of the same family, rotated as a
    refresh rotates it: the refresh token it held is spent (presented again it is
    reuse, and revokes the family, as after any refresh), and the pair carries the new
    auth time, as every later refresh does. With ``AUTHWARD_TOKEN_COOKIES`` the pair is
    set in the cookies too.
    """
    runtime = runtime_of(request)
    settings = runtime.settings
    address = client_address(request.scope, settings.trusted_proxies)
    proof = Proof(password=body.password, code=body.code, credential=body.credential)
    step_up = runtime.flows.reauth
    if (session_id := session_id_of(request, caller)) is not None:
        await step_up.session(caller.id, session_id, proof, address=address)
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    if settings.token_cookies:
        check_origin(request)  # it sets cookies: a forged one is refused as a login's is
    pair = await step_up.family(
        caller.id, caller.handle, proof, address=address, device=device_of(request)
    )
    return token_answer(request, runtime, pair)


@router.post("/reauth/options", responses=ERROR_RESPONSES)
async def reauth_options(request: Request, caller: Authenticated) -> JSONResponse:
    """`PublicKeyCredentialRequestOptions` (JSON) for a step-up with a passkey: the
    caller's own passkeys listed (so a device holding passkeys of several accounts offers
    only theirs), user verification required, a challenge for five minutes that only
    one of the caller's passkeys can answer (in ``credential`` of `POST /auth/reauth`).
    404 when the caller holds no passkey; counted per client address as every passkey
    challenge is (429 with Retry-After)."""
    runtime = runtime_of(request)
    address = client_address(request.scope, runtime.settings.trusted_proxies)
    options = await runtime.passkeys.authentication_options(address=address, user_id=caller.id)
    return JSONResponse(json.loads(options), headers=NO_STORE)
