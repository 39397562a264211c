"""`Authward`: authward inside your own app, from one object.

::

    auth = Authward.from_env()
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)

    @app.get("/me")
    async def me(user: Annotated[AuthUser, Depends(auth.current_user)]) -> dict[str, str]:
        return {"id": user.id}

Everything is built once from Settings (`build_runtime`); the lifespan opens the stores
with the app and closes them with it. The routes and dependencies find this runtime
through the request they serve (never through the app's ``state``), so one app can hold
authward's router beside routers of its own, mount it, or even hold two of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cached_property
from types import TracebackType
from typing import Any, Final, Self, TypeVar

from fastapi import APIRouter, Depends, FastAPI
from starlette.requests import Request

from authward.accounts.models import Account
from authward.accounts.store import UserStore
from authward.assurance import Level
from authward.auth import ALL_VIAS, JWT_ONLY
from authward.auth.transports import credential_headers
from authward.callers import AuthUser
from authward.clock import Clock
from authward.errors import AuthwardError, NotAuthenticated
from authward.events import EventKind, Events, Hook
from authward.ids import Via
from authward.runtime import Runtime, build_runtime
from authward.settings import Settings, load_settings
from authward.web import api, factors_api, links_api, passkeys_api, reauth_api, token_api
from authward.web.auth import (
    OUTCOME_KEY,
    Outcome,
    bearer_expected,
    bind_runtime,
    presented_csrf_token,
    require_recent_login,
)
from authward.web.errors import http_exception, install_error_handlers
from authward.web.headers import install_middleware
from authward.web.routing import GatedRouter, slash_twins
from authward.web.security import Guard, Guarded, document_credentials
from authward.web.transports import read_session_cookie

__all__ = ["ALL_STRATEGIES", "Authward", "Strategy"]

# A strategy's name is the `via` of the callers it authenticates.
Strategy = Via
ALL_STRATEGIES: Final[frozenset[Strategy]] = ALL_VIAS

App = TypeVar("App")
State = TypeVar("State")
H = TypeVar("H", bound=Hook)
T = TypeVar("T")
# What FastAPI's Depends takes: an async function of the request.
Dependency = Callable[[Request], Coroutine[Any, Any, T]]


class Authward:
    """authward's routes, dependencies, middleware support, lifespan and events for one app.

    `strategies` chooses which routes `router` offers and which credentials the
    dependencies accept: ``{"session", "jwt"}`` (the default) for pages on sessions and
    an API on tokens at once, ``{"session"}`` or ``{"jwt"}`` for one alone.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        runtime: Runtime | None = None,
        strategies: Iterable[Strategy] = ALL_STRATEGIES,
        user_store: UserStore | None = None,
        clock: Clock | None = None,
        migrate: bool = True,
    ) -> None:
        """Build from `settings`, or wrap `runtime` (built elsewhere); exactly one of them.

        Every way to make an Authward ends here, so no attribute can be missed (a
        subclass's own ``__init__`` included). ValueError for a bad choice of strategies,
        or for `user_store` or `clock` given with a runtime (it has its own).
        """
        chosen = frozenset(strategies)
        if not chosen or not chosen <= ALL_STRATEGIES:
            raise ValueError("strategies must be a non-empty subset of {'session', 'jwt'}")
        if runtime is None:
            if settings is None:
                raise ValueError("Authward needs settings or a runtime")
            runtime = build_runtime(settings, clock=clock, user_store=user_store)
        elif settings is not None or user_store is not None or clock is not None:
            raise ValueError("a runtime brings its own settings, stores and clock")
        self.runtime = runtime
        self.strategies: frozenset[Strategy] = chosen
        self._migrate = migrate
        self._opened = 0
        self._lock = asyncio.Lock()

    @classmethod
    def from_env(
        cls,
        *,
        strategies: Iterable[Strategy] = ALL_STRATEGIES,
        user_store: UserStore | None = None,
        migrate: bool = True,
    ) -> Self:
        """Build from the ``AUTHWARD_*`` environment; SettingsError names a bad variable."""
        return cls(load_settings(), strategies=strategies, user_store=user_store, migrate=migrate)

    @classmethod
    def from_runtime(
        cls,
        runtime: Runtime,
        *,
        strategies: Iterable[Strategy] = ALL_STRATEGIES,
        migrate: bool = True,
    ) -> Self:
        """Wrap a runtime built elsewhere (`build_runtime` with stores of your choosing)."""
        return cls(runtime=runtime, strategies=strategies, migrate=migrate)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def events(self) -> Events:
        """The event hooks (``auth.events.subscribe(hook)``); see `on`."""
        return self.runtime.events

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        """Migrate the schema (unless ``migrate=False``), load keys, start the sweeps.

        Nested opens are counted: only the first opens and the matching last close closes.
        """
        async with self._lock:
            if self._opened == 0:
                await self.runtime.open(migrate=self._migrate)
            self._opened += 1

    async def close(self) -> None:
        """Stop the background work and close the stores (at the last matching close)."""
        async with self._lock:
            if self._opened == 0:
                return
            self._opened -= 1
            if self._opened == 0:
                await self.runtime.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def lifespan(self, app: object) -> AbstractAsyncContextManager[None]:
        """The app's lifespan: ``FastAPI(lifespan=auth.lifespan)``, ``Starlette(lifespan=...)``.

        On a FastAPI app it also documents the session cookie beside the bearer token
        (`document`).
        """
        self.document(app)
        return self._running()

    def document(self, app: object) -> None:
        """Have a FastAPI app's OpenAPI document (and those of the FastAPI apps mounted in
        `app`) list the session cookie beside the bearer token on the routes whose check
        takes either (``current_user`` and its kin).

        The lifespans call it; call it yourself for a document built without starting
        the app (``app.openapi()`` in a script). Without it such routes list the bearer
        alone: the checks carry no dependency of their own that would name the cookie,
        since FastAPI would solve it on every request.
        """
        document_credentials(app)

    def lifespan_with(
        self, other: Callable[[App], AbstractAsyncContextManager[State]]
    ) -> Callable[[App], AbstractAsyncContextManager[State]]:
        """Your app's own lifespan, run inside authward's: opened after it, closed before it.

        Whatever `other` yields (lifespan state, or None) is what the app gets.
        """

        @asynccontextmanager
        async def both(app: App) -> AsyncIterator[State]:
            self.document(app)
            async with self, other(app) as state:
                yield state

        return both

    @asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        async with self:
            yield

    # --- events ---------------------------------------------------------------------

    def on(self, *kinds: EventKind) -> Callable[[H], H]:
        """Decorate a hook (sync or async) to hear `kinds`; every kind when none is named."""
        return self.runtime.events.on(*kinds)

    # --- routes ---------------------------------------------------------------------

    @cached_property
    def router(self) -> APIRouter:
        """The contract's JSON API for the chosen strategies: ``app.include_router(auth.router)``.

        Each route answers authward's errors itself, so the app needs no handlers.
        """
        router = GatedRouter()
        bind = [Depends(self._bind)]
        included = [api.router, links_api.router]
        router.include_router(api.router, dependencies=bind, tags=["accounts and sessions"])
        router.include_router(links_api.router, dependencies=bind, tags=["accounts and sessions"])
        if "session" in self.strategies:
            included.append(api.session_router)
            router.include_router(
                api.session_router, dependencies=bind, tags=["accounts and sessions"]
            )
        if "jwt" in self.strategies:
            included.append(token_api.router)
            router.include_router(token_api.router, dependencies=bind, tags=["tokens"])
        included.append(factors_api.router)
        router.include_router(factors_api.router, dependencies=bind, tags=["second factors"])
        included.append(passkeys_api.router)
        router.include_router(passkeys_api.router, dependencies=bind, tags=["passkeys"])
        included.append(reauth_api.router)
        router.include_router(reauth_api.router, dependencies=bind, tags=["step-up"])
        # Last: a 404 for /auth/me/ and the like, never the app's redirect built from Host.
        router.include_router(slash_twins(*included))
        router.close_gate()  # the app's own routes declared after it no longer walk past it
        return router

    @cached_property
    def asgi_app(self) -> FastAPI:
        """The same API as an ASGI app to mount (Starlette): ``Mount("/", auth.asgi_app)``.

        Mounted apps get no lifespan of their own: give the parent ``lifespan=auth.lifespan``.
        """
        # No trailing-slash redirects: Starlette builds their Location from the Host header.
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)
        app.state.authward_runtime = self.runtime
        install_error_handlers(app)
        app.include_router(self.router)
        install_middleware(app, max_body_bytes=self.settings.max_body_bytes)
        return app

    async def _bind(self, request: Request) -> None:
        bind_runtime(request.scope, self.runtime)

    # --- dependencies ---------------------------------------------------------------
    #
    # Each dependency is an object made once per Authward (a cached property), never a
    # bound method: FastAPI inspects the callable on every request it solves, and a bound
    # method costs it an attribute miss through to the function (~2 µs a request in
    # `benchmarks/`). `current_user` and its kin are `_Caller`s: FastAPI awaits the check
    # itself, with no function of ours in between.

    @cached_property
    def current_user(self) -> Dependency[AuthUser]:
        """The caller by bearer token, session cookie or (with ``AUTHWARD_TOKEN_COOKIES``)
        access-token cookie, in that order; 401 without a usable one.

        A cookie-authenticated unsafe request needs its CSRF token (403 otherwise).
        """
        return self._requirement(self.strategies)

    @cached_property
    def optional_user(self) -> Dependency[AuthUser | None]:
        """The caller, or None without a credential (or with an ended session's cookie).

        A bearer token that does not hold is still a 401: a client that tried to
        authenticate and failed is told so, not served as anonymous.
        """
        return _Caller(self, self.strategies, required=False)

    @cached_property
    def session_user(self) -> Dependency[AuthUser]:
        """The caller by session cookie only; 401 otherwise."""
        return self._requirement(frozenset({"session"}))

    @cached_property
    def token_user(self) -> Dependency[AuthUser]:
        """The caller by access token only (the bearer header, or the token cookie when
        ``AUTHWARD_TOKEN_COOKIES`` is on); 401 (``WWW-Authenticate: Bearer``) otherwise."""
        return self._requirement(frozenset({"jwt"}))

    @cached_property
    def current_account(self) -> Dependency[Account]:
        """The caller's `Account` (id, email, created_at, disabled), by the credentials
        `current_user` accepts; 401 also for a disabled or deleted account.

        A repeat caller's account comes from this node's cache (``AUTHWARD_ACCOUNT_CACHE_TTL``),
        which every change made through authward clears on every node (the revocation
        bus): no store read. Your own user model is one lookup of yours by `Account.id`.
        """
        require_user = self._requirement(self.strategies)
        accounts = self.runtime.accounts
        kept, read = accounts.kept_account, accounts.account

        async def current_account(request: Request) -> Account:
            user = await require_user(request)
            account = kept(user.id)
            if account is None:
                try:
                    account = await read(user.id)
                except AuthwardError as exc:
                    raise http_exception(exc, bearer=bearer_expected(request)) from None
            if account is None or account.disabled:
                raise http_exception(NotAuthenticated(), bearer=bearer_expected(request))
            return account

        return Guard(current_account, self.strategies)

    def require(
        self, *, aal: Level | None = None, max_age: int | None = None
    ) -> Dependency[AuthUser]:
        """The caller, like `current_user`, whose login is recent and strong enough (step-up).

        ``Depends(auth.require(aal="aal2", max_age=300))`` answers a login older than
        `max_age` seconds (``AUTHWARD_REAUTH_MAX_AGE`` by default) or below `aal` with 401
        and the RFC 9470 challenge (``error="insufficient_user_authentication"``,
        ``max_age``, and ``acr_values`` when the level falls short), cookie callers too.
        """
        if max_age is not None and max_age < 0:
            raise ValueError("max_age must be 0 or more")
        require_user = self._requirement(self.strategies)

        async def require_step_up(request: Request) -> AuthUser:
            user = await require_user(request)
            try:
                await require_recent_login(request, user, max_age=max_age, aal=aal)
            except AuthwardError as exc:
                raise http_exception(exc, bearer=bearer_expected(request)) from None
            return user

        return Guard(require_step_up, self.strategies)

    def csrf_token(self, request: Request) -> str | None:
        """The CSRF token of the request's session cookie, for a page's forms; None without one.

        It is derived from the cookie alone: check the session first (`session_user`).
        """
        session_id = read_session_cookie(request, self.settings)
        return None if session_id is None else self.runtime.sessions.csrf_token(session_id)

    def _requirement(self, accepted: frozenset[Strategy]) -> Dependency[AuthUser]:
        """A dependency answering the caller by a strategy in `accepted`, 401 for nobody."""
        return _Caller(self, accepted, required=True)  # type: ignore[return-value]


class _Caller(Guarded):
    """Who made the request, by a strategy in `accepted`: `current_user` and its kin.

    The whole check is this one ``__call__``, which is what FastAPI awaits (and what
    ``await auth.current_user(request)`` runs): no function of ours between FastAPI and
    the Authenticator. Inside a whole request each coroutine layer costs a few thousand
    instructions; three of them were a tenth of what ``Depends(auth.current_user)`` cost
    over a no-op dependency.
    """

    def __init__(self, auth: Authward, accepted: frozenset[Strategy], *, required: bool) -> None:
        super().__init__(accepted)  # its own OpenAPI scheme: /docs can authorize
        self._runtime = auth.runtime
        self._authenticate = auth.runtime.authenticator.caller  # bound once
        self._accepted = accepted
        self._required = required
        # No session lookup for a route that would refuse it anyway (no token cookies).
        token_cookies = auth.runtime.authenticator.access_cookie is not None
        self._bearer_only = accepted == JWT_ONLY and not token_cookies
        self._bearer_expected = "jwt" in accepted  # a 401 for nobody says Bearer

    async def __call__(self, request: Request) -> AuthUser | None:
        """The caller, or None for nobody unless `required` (then 401); an ended or expired
        cookie (session or token) is nobody.

        Raises HTTPException: 401 for a bearer token that does not hold, 403 for a missing
        CSRF token, 503 while a store is down. The order of credentials is the
        Authenticator's; a token seen before, or a session this process holds fresh,
        costs no await there.
        """
        scope = request.scope
        runtime = self._runtime
        accepted = self._accepted
        bind_runtime(scope, runtime)
        authorization, cookies = credential_headers(scope["headers"])
        user: AuthUser | None = None
        if authorization is not None or not self._bearer_only:
            try:
                # What the middleware found, read inline: this is every request's path.
                found = scope.get(OUTCOME_KEY)
                if found is not None and found[0] is runtime and found[1] == accepted:
                    user = _raised(found[2])  # the middleware asked the same question already
                else:
                    user = await self._authenticate(
                        request,
                        presented_csrf_token,
                        scope["method"],
                        authorization,
                        cookies,
                        accepted,
                    )
            except NotAuthenticated as exc:
                if authorization is not None:
                    raise http_exception(exc, bearer=True) from None
                user = None  # an ended or expired cookie (session or token) is no credential
            except AuthwardError as exc:
                raise http_exception(exc, bearer=bearer_expected(request)) from None
            if user is not None and user.via not in accepted:
                user = None
        if user is None and self._required:
            bearer = self._bearer_expected or bearer_expected(request)
            raise http_exception(NotAuthenticated(), bearer=bearer)
        return user


def _raised(outcome: Outcome) -> AuthUser | None:
    """What `AuthwardMiddleware` found for this request, raised again if it was an error."""
    if isinstance(outcome, AuthwardError):
        raise outcome
    return outcome
