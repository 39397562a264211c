"""/how: the two strategies side by side, live, for the person looking at them.

The session column shows what this browser holds (the cookie, only a prefix of it) and
what the store keeps for it; the token column shows an access token issued for the
same person and decoded. Each can be tested and revoked, to see the next request with
it refused. Served only when ``AUTHWARD_DEMO_PAGES`` is on.

The demo token travels in an HttpOnly cookie scoped to ``/how``: nothing else reads
it, and it is what a browser should do with a token it must hold.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from authward import crypto
from authward.callers import AuthUser
from authward.devices import describe_all
from authward.errors import InvalidToken, NotAuthenticated, NotFound
from authward.runtime import Runtime
from authward.tokens.models import AccessClaims, Family
from authward.web.api import device_of
from authward.web.auth import runtime_of, session_id_of
from authward.web.pages.comparison import ASPECTS
from authward.web.pages.guard import field
from authward.web.pages.render import login_url, redirect
from authward.web.pages.route import PageRoute, cookie_form, page, signed_in
from authward.web.transports import session_cookie_name

router = APIRouter(route_class=PageRoute)

SECURE_DEMO_COOKIE: Final = "__Secure-authward_how_token"
INSECURE_DEMO_COOKIE: Final = "authward_how_token"
DEMO_COOKIE_PATH: Final = "/how"
COOKIE_PREFIX_LENGTH: Final = 6


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the server answered when just now asked with a credential."""

    what: str  # "session" | "token"
    accepted: bool
    action: str  # "test" | "revoke"
    revoked_live: bool = False  # the revoke ended something that still worked


@dataclass(frozen=True, slots=True)
class DecodedToken:
    """A compact JWT split for display: its three parts, header and claims as JSON."""

    header_part: str
    claims_part: str
    signature_part: str
    header: str
    claims: str


@router.get("/how")
async def how_page(request: Request) -> Response:
    caller = await signed_in(request)
    if caller is None or (session_id := session_id_of(request, caller)) is None:
        return redirect(login_url("/how"))
    return await _how(request, session_id, caller)


@router.post("/how/token")
async def issue_token(request: Request) -> Response:
    """Issue an access token for the visitor, into the /how cookie (the old one is revoked)."""
    if (caller := await signed_in(request)) is None:
        return redirect(login_url("/how"))
    runtime = runtime_of(request)
    if (old := _token_of(request)) is not None and (sid := _unverified_sid(old)) is not None:
        try:
            await runtime.tokens.revoke_by_handle(caller.id, sid)
        except NotFound:
            pass  # already revoked or expired: nothing left to clean up
    pair = await runtime.tokens.issue(caller.id, device_of(request))
    response = redirect("/how")
    response.set_cookie(
        _token_cookie_name(runtime),
        pair.access_token,
        max_age=pair.expires_in,
        path=DEMO_COOKIE_PATH,
        secure=not runtime.settings.insecure_cookies,
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/how/test")
async def test(request: Request) -> Response:
    """Ask the server with the session cookie or the token, as the next request would."""
    return await _act(request, "test")


@router.post("/how/revoke")
async def revoke(request: Request) -> Response:
    """Revoke the session or the token, then ask with it again: it is refused."""
    return await _act(request, "revoke")


async def _act(request: Request, action: str) -> Response:
    checked = await cookie_form(request)
    if checked is None:
        return redirect(login_url("/how"))
    session_id, form = checked
    runtime = runtime_of(request)
    what = "token" if field(form, "what") == "token" else "session"
    token = _token_of(request)
    revoked_live = False
    if action == "revoke":
        if what == "session":
            revoked_live = await runtime.sessions.end(session_id)
        elif token is not None and (claims := _verified(runtime, token)) is not None:
            await runtime.tokens.revoke_family(claims.sid)  # signed: it is theirs to revoke
            revoked_live = True
    if what == "session":
        accepted = await _session_holds(runtime, session_id)
    else:
        accepted = token is not None and _verified(runtime, token) is not None
    # Render straight away (no redirect): sending the form again only asks again. Who is
    # signed in is asked after the action: a revoked session has just signed this out.
    caller = await signed_in(request)
    return await _how(request, session_id, caller, Outcome(what, accepted, action, revoked_live))


async def _session_holds(runtime: Runtime, session_id: str) -> bool:
    try:
        await runtime.sessions.resume(session_id)
    except NotAuthenticated:
        return False
    return True


def _verified(runtime: Runtime, token: str) -> AccessClaims | None:
    try:
        return runtime.tokens.verify(token)
    except InvalidToken:
        return None


async def _how(
    request: Request, session_id: str, caller: AuthUser | None, outcome: Outcome | None = None
) -> Response:
    runtime = runtime_of(request)
    account = None if caller is None else await runtime.accounts.users.get(caller.id)
    now = runtime.clock.now()
    id_digest = crypto.digest(session_id)
    stored = await runtime.sessions.store.get(id_digest)
    if stored is not None and stored.expired(now):
        stored = None
    token = _token_of(request)
    claims = None if token is None else _verified(runtime, token)
    family: Family | None = None
    if caller is not None and claims is not None:
        families = await runtime.tokens.list_families(caller.id)
        family = next((f for f in families if f.id == claims.sid), None)
    agents = [stored.device.user_agent if stored else ""]
    agents += [family.device.user_agent if family else ""]
    names = await describe_all(agents)
    settings = runtime.settings
    context: dict[str, Any] = {
        "caller": caller,
        "account": account,
        "csrf_token": runtime.sessions.csrf_token(session_id),
        "now": now,
        "outcome": outcome,
        "cookie": {
            "name": session_cookie_name(settings),
            "prefix": session_id[:COOKIE_PREFIX_LENGTH],
            "length": len(session_id),
            "secure": not settings.insecure_cookies,
            "same_site": settings.same_site.capitalize(),
            "max_age": settings.session_absolute_ttl,
        },
        "digest": id_digest.hex(),
        "stored": stored,
        "stored_device": names[stored.device.user_agent] if stored else "",
        "token_cookie": _token_cookie_name(runtime),
        "token": token,
        "decoded": None if token is None else _decode(token),
        "claims": claims,
        "family": family,
        "family_device": names[family.device.user_agent] if family else "",
        "alg": settings.jwt_alg,
        "access_ttl": settings.access_ttl,
        "aspects": ASPECTS,
        "active": "how",
    }
    return page(request, "how.html", **context)


def _token_cookie_name(runtime: Runtime) -> str:
    return INSECURE_DEMO_COOKIE if runtime.settings.insecure_cookies else SECURE_DEMO_COOKIE


def _token_of(request: Request) -> str | None:
    value = request.cookies.get(_token_cookie_name(runtime_of(request)), "")
    return value if 0 < len(value) <= 4096 and value.count(".") == 2 else None


def _decode(token: str) -> DecodedToken | None:
    """Split and decode a compact JWT for display only: nothing here is trusted."""
    header_part, claims_part, signature_part = token.split(".")
    try:
        header = json.loads(_b64(header_part))
        claims = json.loads(_b64(claims_part))
    except (ValueError, binascii.Error, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return DecodedToken(
        header_part,
        claims_part,
        signature_part,
        json.dumps(header, indent=2),
        json.dumps(claims, indent=2),
    )


def _unverified_sid(token: str) -> str | None:
    decoded = _decode(token)
    sid = None if decoded is None else json.loads(decoded.claims).get("sid")
    return sid if isinstance(sid, str) else None


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
