"""The JWT strategy's endpoints: issue, refresh, revoke, and the public keys.

With ``AUTHWARD_TOKEN_COOKIES`` the token answers also set the token cookies (see
`authward.web.transports`), and so a browser's request to them from another site is
refused first, as the session login's is: a forged login would plant the attacker's
tokens in the victim's browser.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse

from authward.errors import InvalidInput, NotAuthenticated
from authward.runtime import Runtime
from authward.tokens.service import TokenPair
from authward.web.api import ERROR_RESPONSES, device_of, login, mfa_required, second_step
from authward.web.auth import presented_csrf_token, require_token, runtime_of
from authward.web.bodies import read_fields
from authward.web.origin import check_origin
from authward.web.routing import AuthwardRoute
from authward.web.schemas import (
    Credentials,
    MfaRequiredOut,
    RefreshIn,
    RevokeIn,
    TokenOut,
)
from authward.web.security import BEARER
from authward.web.transports import (
    REFRESH_ROUTE,
    clear_token_cookies,
    read_refresh_cookie,
    refresh_path,
    set_token_cookies,
)

router = APIRouter(route_class=AuthwardRoute, strict_content_type=True)  # see `api.router`

# RFC 6749 §5.1: token responses must not be cached anywhere.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
TOKEN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": Credentials.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": {"type": "string"},
                        "password": {"type": "string"},
                    },
                }
            },
        },
    }
}


def token_answer(request: Request, runtime: Runtime, pair: TokenPair) -> JSONResponse:
    """A token login's or a refresh's answer: the pair, and the cookies when they are on."""
    settings = runtime.settings
    csrf_token = runtime.tokens.csrf_token(pair.family.id) if settings.token_cookies else None
    body = TokenOut(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        csrf_token=csrf_token,
    )
    response = JSONResponse(body.model_dump(exclude_none=True), headers=NO_STORE)
    if csrf_token is not None:
        # The refresh cookie lives as long as its family, whose lifetime never slides.
        family_left = (pair.family.expires_at - runtime.clock.now()).total_seconds()
        set_token_cookies(
            response,
            pair,
            csrf_token,
            refresh_max_age=max(1, int(family_left)),
            refresh_path=refresh_path(request.scope),
            settings=settings,
        )
    return response


@router.post(
    "/auth/token",
    response_model=TokenOut | MfaRequiredOut,
    responses=ERROR_RESPONSES,
    openapi_extra=TOKEN_BODY,
)
async def token(request: Request) -> JSONResponse:
    """Log in for tokens: JSON {email, password} or the OAuth2 password form.

    With token cookies on, the tokens are also set in cookies, with the family's CSRF
    token in the body, and a browser's request from another site is refused (403). With
    a second factor on, the answer is ``mfa_required`` instead: the pair comes from
    ``POST /auth/mfa``.
    """
    runtime = runtime_of(request)
    if runtime.settings.token_cookies:
        check_origin(request)
    fields = await read_fields(request, "email", "password", aliases={"username": "email"})
    user = await login(request, "jwt", fields["email"], fields["password"])
    if (owed := await second_step(request, user, "jwt")) is not None:
        return mfa_required(owed)
    return token_answer(request, runtime, await runtime.tokens.issue(user.id, device_of(request)))


@router.post(
    "/auth/token/refresh",
    name=REFRESH_ROUTE,
    response_model=TokenOut,
    responses=ERROR_RESPONSES,
)
async def refresh(
    request: Request, body: Annotated[RefreshIn | None, Body()] = None
) -> JSONResponse:
    """Spend a refresh token for a new pair; a spent one coming back revokes its family.

    With token cookies on, a body without a token spends the refresh cookie instead,
    which needs the family's CSRF token (``X-CSRF-Token``), and both cookies are renewed.
    """
    runtime = runtime_of(request)
    device = device_of(request)
    presented = body.refresh_token if body is not None else None
    if not runtime.settings.token_cookies:
        if presented is None:
            raise InvalidInput("Field 'refresh_token' is required and must be a string.")
        return token_answer(request, runtime, await runtime.tokens.refresh(presented, device))
    check_origin(request)
    if presented is not None:
        pair = await runtime.tokens.refresh(presented, device)
    elif (cookie := read_refresh_cookie(request, runtime.settings)) is not None:
        csrf_token = await presented_csrf_token(request)
        pair = await runtime.tokens.refresh(cookie, device, by_cookie=True, csrf_token=csrf_token)
    else:
        raise NotAuthenticated
    return token_answer(request, runtime, pair)


@router.post(
    "/auth/token/revoke",
    status_code=204,
    responses=ERROR_RESPONSES,
    # The bearer token, or nothing at all when the body holds a refresh token.
    openapi_extra={"security": [{BEARER.scheme_name: []}, {}]},
)
async def revoke(request: Request, body: Annotated[RevokeIn | None, Body()] = None) -> Response:
    """Revoke a token family at once: its access and refresh tokens stop working.

    With ``{"refresh_token"}`` in the body, that token's family, for whoever holds it
    (RFC 7009: possession is the proof, so a client can end its family without a live
    access token); any other token revokes nothing and gets the same 204, telling
    nothing. Without it, the access token's family: the token comes in the
    Authorization header or, with token cookies on, in the access cookie (then with the
    family's CSRF token); the token cookies are cleared.
    """
    runtime = runtime_of(request)
    if body is not None and body.refresh_token is not None:
        await runtime.tokens.revoke_refresh_token(body.refresh_token)
        return Response(status_code=204)
    principal = await require_token(request)
    await runtime.tokens.revoke_family(principal.handle)
    await runtime.events.emit("revoke", user_id=principal.id, via="jwt", handle=principal.handle)
    response = Response(status_code=204)
    if runtime.settings.token_cookies:
        path = refresh_path(request.scope)
        clear_token_cookies(response, refresh_path=path, settings=runtime.settings)
    return response


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> JSONResponse:
    """The public keys that verify authward's access tokens (RFC 7517)."""
    return JSONResponse(
        runtime_of(request).tokens.jwks(), headers={"Cache-Control": "public, max-age=60"}
    )
