"""Build authward's services from Settings, and run their lifecycle.

Shared by the web app and the CLI: both get the same stores, the same rules and the
same cascade of revocations (password change, disable, sign out everywhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.accounts.service import AccountService
from authward.accounts.sql import SqlUserStore
from authward.accounts.store import UserStore
from authward.audit import SqlAuditLog
from authward.auth import Authenticator
from authward.backends import Backends
from authward.background import stop
from authward.clock import Clock, SystemClock
from authward.errors import StoreUnavailable
from authward.events import Events
from authward.ids import UserId
from authward.instrument import timed
from authward.masterkey import MasterSecret, load_master_secret
from authward.metrics import observe_live_sessions, observe_sweep
from authward.passwords import PasswordHasher
from authward.sessions.service import SessionPolicy, SessionService
from authward.sessions.sql import SqlSessionStore
from authward.sessions.store import SessionStore
from authward.settings import Settings
from authward.storage.migrate import upgrade
from authward.storage.sql import create_engine, translated_errors
from authward.throttle.log import FailureLog
from authward.throttle.policy import ThrottlePolicy
from authward.throttle.sql import SqlFailureLog
from authward.throttle.throttles import LoginThrottle, RefreshThrottle, RegistrationThrottle
from authward.tokens.service import TokenService

log = logging.getLogger("authward")


@dataclass
class Runtime:
    """Everything a running authward needs, built once from Settings."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    master: MasterSecret
    hasher: PasswordHasher
    accounts: AccountService
    sessions: SessionService
    throttle: LoginThrottle
    tokens: TokenService
    events: Events = field(default_factory=Events)
    audit: SqlAuditLog | None = None
    backends: Backends | None = None
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # One Events per deployment: every service emits on the runtime's, so a hook
        # subscribed once (`auth.on`) hears accounts, sessions and tokens alike, whatever
        # Events (or none) each service was built with.
        self.accounts.events = self.sessions.events = self.tokens.events = self.events

    @cached_property
    def authenticator(self) -> Authenticator:
        """The one way from a request's credential to its caller, for every entry point."""
        return Authenticator(self.sessions, self.tokens, self.settings)

    async def open(self, *, migrate: bool = True, background: bool = True) -> None:
        """Bring the schema up to date and start the periodic sweep."""
        if migrate:
            await upgrade(self.engine)
        if background and self.backends is not None:
            self.backends.start()  # the Redis subscriber: it reconnects by itself
        await self.tokens.open(background=background)
        if background:
            self._background.append(asyncio.create_task(self._sweep_forever()))

    async def close(self) -> None:
        await stop(self._background)
        self._background.clear()
        await self.tokens.close()
        if self.backends is not None:
            await self.backends.close()
        await self.engine.dispose()

    async def sweep(self) -> dict[str, int]:
        """Remove expired state everywhere; expiry is enforced on every read regardless."""
        removed = {
            "sessions": await self.sessions.sweep(),
            "login_failures": await self.throttle.prune(),
            "token_records": await self.tokens.sweep(),
        }
        if self.audit is not None:
            retention = timedelta(days=self.settings.audit_retention_days)
            removed["audit_records"] = await self.audit.prune(self.clock.now() - retention)
        observe_sweep(removed, await self.sessions.store.count())
        return removed

    async def sign_out_everywhere(
        self,
        user_id: UserId,
        *,
        keep_session_id: str | None = None,
        keep_family: str | None = None,
    ) -> None:
        """End the user's sessions and token families, but the one session or family kept.

        Sessions go first: they are the store lookups; token families then reach every
        node through the revocation bus.
        """
        await self.sessions.end_all(user_id, keep_session_id=keep_session_id)
        await self.tokens.revoke_user(
            user_id, keep_family=keep_family if keep_session_id is None else None
        )
        await self.events.emit("revoke", user_id=user_id)

    async def disable_user(self, user_id: UserId) -> None:
        """Disable the account and end everything it holds, at once."""
        await self.accounts.set_disabled(user_id, True)
        await self.sign_out_everywhere(user_id)

    async def health(self) -> dict[str, bool]:
        """Whether each store answers right now."""
        try:
            async with translated_errors(), self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=2)
            database = True
        except (StoreUnavailable, TimeoutError):
            database = False
        shared = await self.backends.health() if self.backends is not None else {}
        return {"database": database, **shared, "revocations": self.tokens.feed_healthy()}

    def staleness(self) -> dict[str, float]:
        """The propagation bounds between nodes, seconds (see `Backends.staleness`)."""
        return self.backends.staleness() if self.backends is not None else {}

    async def _sweep_forever(self) -> None:
        # The gauge counts the store at once, not from the first sweep (a minute away).
        with contextlib.suppress(StoreUnavailable):  # then the sweeps will tell
            observe_live_sessions(await self.sessions.store.count())
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            try:
                removed = await self.sweep()
            except StoreUnavailable:
                continue  # the next round tries again; reads enforce expiry meanwhile
            if any(removed.values()):
                log.info("sweep removed %s", removed)


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: AsyncEngine | None = None,
    user_store: UserStore | None = None,
    session_store: SessionStore | None = None,
    failure_log: FailureLog | None = None,
) -> Runtime:
    """Build the runtime; stores default to the SQL ones on `settings.database_url`, or to
    Redis ones with `settings.redis_url` (see `authward.backends`)."""
    clock = clock or SystemClock()
    engine = engine or create_engine(
        settings.database_url,
        postgres_pool_size=settings.database_pool_size,
        postgres_pool_timeout=settings.database_pool_timeout,
        postgres_timeout=settings.database_timeout,
    )
    master = load_master_secret(settings)
    backends = Backends.of(settings, engine, clock)
    events = Events(clock)
    audit = SqlAuditLog(engine) if settings.audit_log else None
    if audit is not None:
        events.subscribe(audit.record)  # first, so the log holds what hooks were told
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        max_concurrent=settings.argon2_max_concurrent,
    )
    failure_log = timed(failure_log or backends.failure_log or SqlFailureLog(engine), "failure_log")
    policy = ThrottlePolicy.of(settings)
    throttle = LoginThrottle(failure_log, policy, clock)
    accounts = AccountService(
        timed(user_store or SqlUserStore(engine), "users"),
        hasher,
        throttle,
        clock,
        events=events,
        registrations=RegistrationThrottle(failure_log, policy, clock),
    )
    sessions = SessionService(
        backends.cached(
            timed(
                session_store
                or backends.session_store
                or SqlSessionStore(engine, pacing=settings.sweep_pacing),
                "sessions",
            )
        ),
        SessionPolicy(
            idle_ttl=timedelta(seconds=settings.session_idle_ttl),
            absolute_ttl=timedelta(seconds=settings.session_absolute_ttl),
            max_per_user=settings.max_sessions_per_user,
        ),
        clock,
        csrf_key=master.derive("authward/csrf"),
        events=events,
    )
    tokens = TokenService(
        settings,
        master,
        engine,
        clock,
        bus=backends.bus,
        events=events,
        throttle=RefreshThrottle(failure_log, policy, clock),
    )
    tokens.refresh_tokens.store = timed(tokens.refresh_tokens.store, "families")
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        master=master,
        hasher=hasher,
        accounts=accounts,
        sessions=sessions,
        throttle=throttle,
        tokens=tokens,
        events=events,
        audit=audit,
        backends=backends,
    )
