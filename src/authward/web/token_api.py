"""The JWT strategy's endpoints: issue, refresh, revoke, and the public keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from authward.errors import NotAuthenticated
from authward.tokens.service import TokenPair
from authward.web.api import ERROR_RESPONSES, Authenticated, device_of, login
from authward.web.auth import runtime_of
from authward.web.bodies import read_fields
from authward.web.errors import expect_bearer
from authward.web.routing import AuthwardRoute
from authward.web.schemas import Credentials, RefreshIn, TokenOut

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


def _token_response(pair: TokenPair) -> JSONResponse:
    body = TokenOut(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )
    return JSONResponse(body.model_dump(), headers=NO_STORE)


@router.post(
    "/auth/token", response_model=TokenOut, responses=ERROR_RESPONSES, openapi_extra=TOKEN_BODY
)
async def token(request: Request) -> JSONResponse:
    """Log in for tokens: JSON {email, password} or the OAuth2 password form."""
    runtime = runtime_of(request)
    fields = await read_fields(request, "email", "password", aliases={"username": "email"})
    user = await login(request, "jwt", fields["email"], fields["password"])
    return _token_response(await runtime.tokens.issue(user.id, device_of(request)))


@router.post("/auth/token/refresh", response_model=TokenOut, responses=ERROR_RESPONSES)
async def refresh(body: RefreshIn, request: Request) -> JSONResponse:
    """Spend a refresh token for a new pair; a spent one coming back revokes its family."""
    pair = await runtime_of(request).tokens.refresh(body.refresh_token, device_of(request))
    return _token_response(pair)


@router.post("/auth/token/revoke", status_code=204, responses=ERROR_RESPONSES)
async def revoke(request: Request, principal: Authenticated) -> Response:
    """Revoke this access token's family at once: its access and refresh tokens stop working."""
    if principal.via != "jwt":
        expect_bearer(request.scope)
        raise NotAuthenticated
    runtime = runtime_of(request)
    await runtime.tokens.revoke_family(principal.handle)
    await runtime.events.emit(
        "revoke", user_id=principal.user_id, via="jwt", handle=principal.handle
    )
    return Response(status_code=204)


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> JSONResponse:
    """The public keys that verify authward's access tokens (RFC 7517)."""
    return JSONResponse(
        runtime_of(request).tokens.jwks(), headers={"Cache-Control": "public, max-age=60"}
    )
