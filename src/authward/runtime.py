"""Build authward from Settings, and run its lifecycle: the one place that assembles.

This is the only module that knows the concrete stores and buses (SQL, Redis, memory);
the services receive what it chose, typed by their Protocols. Shared by the web app and
the CLI: both get the same stores, the same rules and the same cascade of revocations
(password change, disable, sign out everywhere: `authward.lifecycle`).

Without ``AUTHWARD_REDIS_URL`` everything shared lives in the database, and revocations
are rows of its table, read again by every process each
``AUTHWARD_REVOCATION_POLL_INTERVAL`` (`SqlRevocationBus`), and pushed at once: on
PostgreSQL by LISTEN/NOTIFY to every node (`PostgresRevocationBus`), on a SQLite file by
Unix datagrams to every process on it (`SameHostRevocationBus`, the workers of one
``authward serve --workers N`` and the command line). Should the push have no way (a socket
directory others may enter), the poll carries them alone.

With it, sessions (`RedisSessionStore`), failed-login counts (`RedisFailureLog`) and the
revocation bus (`RedisRevocationBus`) move to Redis, one node or a Redis Cluster. Users,
signing keys and refresh token families stay in the database: they must survive
anything, and a refresh rotation is one conditional UPDATE there, which already gives
exactly one winner between racing nodes.

Either way, ``AUTHWARD_SESSION_CACHE_TTL`` puts a `CachedSessionStore` in front of the
session store (unset, it is `DEFAULT_SESSION_CACHE_TTL` when the bus pushes, so that a
session's end reaches every process at once, and off when only the poll carries it), and
``AUTHWARD_ACCOUNT_CACHE_TTL`` (on by default) a `CachedUserStore` in front of the user
store; both hear the revocation bus. Redis being down at start is no reason not to start:
every call that needs it answers 503 (StoreUnavailable) until it is back, and the
subscriber reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.accounts.cache import CachedUserStore
from authward.accounts.link_sql import SqlLinkStore
from authward.accounts.models import User
from authward.accounts.policy import PasswordPolicy
from authward.accounts.service import AccountService
from authward.accounts.sql import SqlUserStore
from authward.accounts.store import UserStore
from authward.audit import SqlAuditLog
from authward.auth import Authenticator
from authward.background import stop
from authward.clock import Clock, SystemClock
from authward.errors import StoreUnavailable
from authward.events import Events
from authward.factors import totp
from authward.factors.passkey_sql import SqlPasskeyStore
from authward.factors.passkeys import PasskeyService, RelyingParty
from authward.factors.service import FactorService
from authward.factors.sql import SqlFactorStore
from authward.flows import AccountFlows, LinkMailer
from authward.flows.notices import USER_STORE_KINDS, WRITTEN, NoticeMailer
from authward.ids import UserId
from authward.instrument import timed
from authward.lifecycle import AccountLifecycle
from authward.mail.outbox import MailQueue, Outbox
from authward.mail.seal import KEY_PURPOSE as MAIL_KEY_PURPOSE
from authward.mail.sender import MailSender
from authward.mail.smtp import SmtpServer, SmtpTransport
from authward.mail.sql import SqlOutbox
from authward.mail.templates import checked_renderer
from authward.masterkey import MasterSecret, load_master_secret
from authward.metrics import observe_live_sessions, observe_sweep
from authward.passwords import PasswordHasher
from authward.revocation import samehost
from authward.revocation.bus import LocalRevocationBus, RevocationBus
from authward.revocation.postgres import PostgresRevocationBus
from authward.revocation.samehost import SameHostRevocationBus
from authward.revocation.sql import SqlRevocationBus
from authward.sessions.cache import CachedSessionStore
from authward.sessions.service import SessionPolicy, SessionService
from authward.sessions.sql import SqlSessionStore
from authward.sessions.store import SessionStore
from authward.settings import Settings
from authward.storage.sql import create_engine, translated_errors
from authward.throttle.log import FailureLog
from authward.throttle.policy import ThrottlePolicy
from authward.throttle.sql import SqlFailureLog
from authward.throttle.throttles import (
    ChallengeThrottle,
    LoginThrottle,
    MailThrottle,
    MfaThrottle,
    RefreshThrottle,
    RegistrationThrottle,
)
from authward.tokens import jwk
from authward.tokens.service import KEY_POLL_INTERVAL, TokenService
from authward.tokens.sql import SqlFamilyStore, SqlKeyStore
from authward.tokens.store import FamilyStore, KeyStore, MemoryFamilyStore, MemoryKeyStore

# What only some runtimes use is imported where it is used, so that a command's runtime
# (`authward users list`) loads no more than it needs: the Redis client and stores (with
# AUTHWARD_REDIS_URL), Alembic (`open` with migrate), httpx (AUTHWARD_BREACHED_PASSWORDS).
if TYPE_CHECKING:
    from authward.storage.redis import RedisClient

log = logging.getLogger("authward")
security_log = logging.getLogger("authward.security")

HEALTH_TIMEOUT: Final = 2.0  # seconds
# The session cache's TTL when AUTHWARD_SESSION_CACHE_TTL is unset and the bus pushes:
# the bound on a session ended elsewhere should every push and poll fail, well below the
# revocation feed's own limit before tokens fail closed (tokens/service.py).
DEFAULT_SESSION_CACHE_TTL: Final = 5.0
# Passkeys' origin when AUTHWARD_PUBLIC_URL is not set (the library without mail): a
# browser takes no IP address as a relying party id, so not 127.0.0.1.
DEFAULT_PASSKEY_ORIGIN: Final = "http://localhost:8000"


@dataclass(frozen=True)
class Runtime:
    """Everything a running authward needs, built once from Settings (`build_runtime`).

    Frozen: what was assembled stays assembled. `redis` is the shared client when
    ``AUTHWARD_REDIS_URL`` is set, for `health` and `close` only: the stores on it are
    already inside the services.
    """

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    master: MasterSecret
    hasher: PasswordHasher
    accounts: AccountService
    sessions: SessionService
    throttle: LoginThrottle
    tokens: TokenService
    mail: MailSender
    factors: FactorService
    events: Events = field(default_factory=Events)
    audit: SqlAuditLog | None = None
    redis: RedisClient | None = None
    mail_throttle: MailThrottle | None = None
    session_cache_ttl: float = 0.0  # seconds; 0: every session is read from its store
    # Whether the users are in authward's own store, which writes a password change's
    # notice in the change's transaction; an application's adapter (`user_store=`) does not.
    own_users: bool = True
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # One Events per deployment: every service emits on the runtime's, so a hook
        # subscribed once (`auth.on`) hears accounts, sessions and tokens alike, whatever
        # Events (or none) each service was built with.
        self.accounts.events = self.sessions.events = self.tokens.events = self.events
        self.factors.events = self.events
        if self.factors.passkeys is not None:
            self.factors.passkeys.events = self.events
        # AUTHWARD_EMAIL_VERIFICATION=required: a sign-in refused for an unverified email
        # mails a fresh link first.
        self.accounts.on_unverified = self._remind
        # Every change to how the account signs in mails it a notice, whoever made it,
        # queued in the change's own transaction (users, factors, passkeys and the outbox
        # share the one SQL engine, Redis or not). Over an application's own user store,
        # a password's notice follows its event instead.
        mailer = LinkMailer(self.outbox, self.settings.public_url)
        written = WRITTEN if self.own_users else WRITTEN - USER_STORE_KINDS
        NoticeMailer(self.accounts.users, mailer, written=written).subscribe(self.events)

    async def _remind(self, user: User) -> None:
        await self.flows.verification.remind(user)

    @cached_property
    def flows(self) -> AccountFlows:
        """The flows through mailed links: registration, verification, reset, email change."""
        throttle = self.mail_throttle or MailThrottle(
            self.throttle.log, ThrottlePolicy.of(self.settings), self.clock
        )
        return AccountFlows.build(self.settings, self.lifecycle, throttle, self.outbox, self.clock)

    @property
    def outbox(self) -> Outbox:
        """Where the concepts queue mail (`Outbox.enqueue`), in their own transaction."""
        return self.mail.queue

    @property
    def mail_queue(self) -> MailQueue:
        """The outbox as its operator sees it: ``authward mail list|retry``."""
        return self.mail.queue

    @property
    def passkeys(self) -> PasskeyService:
        """Passkeys: the factor service's, which the second step of a login shares."""
        if self.factors.passkeys is None:  # build_runtime always gives it one
            raise RuntimeError("this runtime's factor service has no passkeys")
        return self.factors.passkeys

    @property
    def bus(self) -> RevocationBus:
        """The revocation bus: the token service's, which the session cache shares."""
        return self.tokens.bus

    @cached_property
    def lifecycle(self) -> AccountLifecycle:
        """The rules that end what a user holds (sign out everywhere, disable, password)."""
        return AccountLifecycle(
            self.accounts, self.sessions, self.tokens, self.events, self.factors
        )

    @cached_property
    def authenticator(self) -> Authenticator:
        """The one way from a request's credential to its caller, for every entry point."""
        return Authenticator(self.sessions, self.tokens, self.settings)

    async def open(self, *, migrate: bool = True, background: bool = True) -> None:
        """Bring the schema up to date and start the periodic sweep."""
        if self.settings.insecure_cookies:
            # What `authward serve` prints at start, for an app that embeds authward too.
            security_log.warning(
                "AUTHWARD_INSECURE_COOKIES=1: session cookies are sent without Secure and"
                " without the __Host- prefix. For plain-HTTP development and tests only;"
                " never in production.",
                extra={"event": "insecure_cookies"},
            )
        if migrate:
            from authward.storage.migrate import upgrade

            await upgrade(self.engine)
        if background:
            self.bus.start()  # Redis's subscriber, which reconnects by itself; SQL polls
        await self.tokens.open(background=background)
        if background:
            self._background.append(asyncio.create_task(self._sweep_forever()))
            self.mail.start()

    async def close(self) -> None:
        await stop(self._background)
        self._background.clear()
        await self.mail.close()
        await self.tokens.close()
        await self.accounts.policy.aclose()
        await self.bus.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()

    async def sweep(self) -> dict[str, int]:
        """Remove expired state everywhere; expiry is enforced on every read regardless."""
        removed = {
            "sessions": await self.sessions.sweep(),
            "login_failures": await self.throttle.prune(),
            "token_records": await self.tokens.sweep(),
            "account_links": await self.accounts.links.store.sweep(self.clock.now()),
            # A sent mail's body is gone already; its record stays this long for `mail list`.
            "mails": await self.mail_queue.prune(
                self.clock.now() - timedelta(days=self.settings.mail_retention_days)
            ),
            "mfa_challenges": await self.factors.sweep(),
            "passkey_challenges": await self.passkeys.sweep(),
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
        """`AccountLifecycle.sign_out_everywhere`, kept here for embedders and scripts."""
        await self.lifecycle.sign_out_everywhere(
            user_id, keep_session_id=keep_session_id, keep_family=keep_family
        )

    async def disable_user(self, user_id: UserId) -> None:
        """`AccountLifecycle.disable`, kept here for embedders and scripts."""
        await self.lifecycle.disable(user_id)

    async def health(self) -> dict[str, bool]:
        """Whether each store answers right now."""
        try:
            async with translated_errors(), self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=HEALTH_TIMEOUT)
            database = True
        except (StoreUnavailable, TimeoutError):
            database = False
        shared = {} if self.redis is None else {"redis": await _pings(self.redis)}
        return {"database": database, **shared, "revocations": self.tokens.feed_healthy()}

    def staleness(self) -> dict[str, float]:
        """The bounds, in seconds, that /healthz states while every store answers.

        ``revocation_staleness_seconds``: how long a token revoked on another node may
        still verify here (the bus says: the polled table, one interval; Redis,
        milliseconds as a rule, two intervals when a message is lost).
        ``session_staleness_seconds``: how long a session ended on another node may
        still be accepted here: the session cache's TTL, whatever happens to the bus (at
        once as a rule, when the bus pushes); 0 without a cache, every request asks the
        store.
        """
        return {
            "revocation_staleness_seconds": self.bus.staleness(
                self.settings.revocation_poll_interval
            ),
            "session_staleness_seconds": self.session_cache_ttl,
        }

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


async def _pings(client: RedisClient) -> bool:
    """Whether Redis answers PING (every node of a cluster) within the health timeout."""
    from authward.storage import redis as redis_storage

    try:
        async with redis_storage.translated_errors():
            await asyncio.wait_for(client.ping(), timeout=HEALTH_TIMEOUT)
    except (StoreUnavailable, TimeoutError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class _Shared:
    """What the nodes of a deployment share, chosen from Settings; None: it stays in SQL."""

    bus: RevocationBus
    pushes: bool  # whether a revocation reaches every process at once, not at its next poll
    redis: RedisClient | None = None
    session_store: SessionStore | None = None
    failure_log: FailureLog | None = None


def _shared(settings: Settings, engine: AsyncEngine, clock: Clock) -> _Shared:
    """SQL alone, or Redis too (see the module docstring); nothing connects yet."""
    if settings.redis_url is None:
        pushed = _database_bus(engine, clock) if settings.revocation_push else None
        return _Shared(pushed or SqlRevocationBus(engine, clock), pushes=pushed is not None)
    from authward.revocation.redis import RedisRevocationBus
    from authward.sessions.redis import RedisSessionStore
    from authward.storage.redis import KeyNames, create_client
    from authward.throttle.redis import RedisFailureLog

    client = create_client(settings.redis_url)
    keys = KeyNames(settings.redis_prefix)
    return _Shared(
        RedisRevocationBus(client, clock, keys=keys),
        pushes=True,
        redis=client,
        session_store=RedisSessionStore(client, keys=keys, pacing=settings.sweep_pacing),
        failure_log=RedisFailureLog(
            client, window=timedelta(seconds=settings.login_window), keys=keys
        ),
    )


def _database_bus(engine: AsyncEngine, clock: Clock) -> SqlRevocationBus | None:
    """The table, pushed by NOTIFY on PostgreSQL, by datagrams on a SQLite file; None
    when nothing can push it (the poll alone carries it then)."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return PostgresRevocationBus(engine, clock)
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None  # in memory: no other process can share it
    try:
        directory = samehost.prepare(samehost.directory_for(database))
    except (OSError, samehost.UnsafeDirectory) as exc:
        security_log.warning(
            "revocations reach the other processes by the poll only: %s",
            exc,
            extra={"event": "revocation_push_unavailable"},
        )
        return None
    return SameHostRevocationBus(engine, clock, directory)


def build_tokens(
    settings: Settings,
    master: MasterSecret,
    engine: AsyncEngine | None,
    clock: Clock,
    *,
    keys: KeyStore | None = None,
    families: FamilyStore | None = None,
    bus: RevocationBus | None = None,
    key_poll_interval: float = KEY_POLL_INTERVAL,
    cache_size: int = 10_000,
    rsa_bits: int = jwk.RSA_BITS,
    events: Events | None = None,
    throttle: RefreshThrottle | None = None,
) -> TokenService:
    """A TokenService on SQL stores over `engine` (the bus: the polled SQL table), or on
    memory ones when `engine` is None (a benchmark, a test); each can be given instead."""
    if keys is None:
        keys = MemoryKeyStore() if engine is None else SqlKeyStore(engine)
    if families is None:
        families = MemoryFamilyStore() if engine is None else SqlFamilyStore(engine)
    if bus is None:
        bus = LocalRevocationBus() if engine is None else SqlRevocationBus(engine, clock)
    return TokenService(
        settings,
        master,
        clock,
        keys=keys,
        families=families,
        bus=bus,
        key_poll_interval=key_poll_interval,
        cache_size=cache_size,
        rsa_bits=rsa_bits,
        events=events,
        throttle=throttle,
    )


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: AsyncEngine | None = None,
    user_store: UserStore | None = None,
    session_store: SessionStore | None = None,
    failure_log: FailureLog | None = None,
    outbox: MailQueue | None = None,
) -> Runtime:
    """Build the runtime; stores default to the SQL ones on `settings.database_url`, or to
    Redis ones with `settings.redis_url`; each store given here is used instead."""
    clock = clock or SystemClock()
    engine = engine or create_engine(
        settings.database_url,
        postgres_pool_size=settings.database_pool_size,
        postgres_pool_timeout=settings.database_pool_timeout,
        postgres_timeout=settings.database_timeout,
    )
    master = load_master_secret(settings)
    shared = _shared(settings, engine, clock)
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
    failure_log = timed(failure_log or shared.failure_log or SqlFailureLog(engine), "failure_log")
    policy = ThrottlePolicy.of(settings)
    throttle = LoginThrottle(failure_log, policy, clock)
    users, account_cache = _user_store(
        settings, timed(user_store or SqlUserStore(engine), "users"), shared.bus, clock
    )
    accounts = AccountService(
        users,
        hasher,
        throttle,
        clock,
        events=events,
        registrations=RegistrationThrottle(failure_log, policy, clock),
        policy=_password_policy(settings),
        links=timed(SqlLinkStore(engine), "links"),
        require_verified=settings.email_verification == "required",
        cache=account_cache,
    )
    cache_ttl = settings.session_cache_ttl
    if cache_ttl is None:
        cache_ttl = DEFAULT_SESSION_CACHE_TTL if shared.pushes else 0.0
    sessions = _session_service(
        settings,
        cache_ttl,
        timed(
            session_store
            or shared.session_store
            or SqlSessionStore(engine, pacing=settings.sweep_pacing),
            "sessions",
        ),
        shared.bus,
        clock,
        csrf_key=master.derive("authward/csrf"),
        events=events,
    )
    tokens = TokenService(
        settings,
        master,
        clock,
        keys=SqlKeyStore(engine),
        families=timed(SqlFamilyStore(engine), "families"),
        bus=shared.bus,
        events=events,
        throttle=RefreshThrottle(failure_log, policy, clock),
    )
    passkeys = PasskeyService(
        timed(SqlPasskeyStore(engine), "passkeys"),
        RelyingParty.of(
            settings.public_url or DEFAULT_PASSKEY_ORIGIN, settings.rp_id, settings.issuer
        ),
        clock,
        events,
        throttle=ChallengeThrottle(failure_log, policy, clock),
    )
    factors = FactorService(
        timed(SqlFactorStore(engine), "factors"),
        master.derive(totp.KEY_PURPOSE),
        MfaThrottle(failure_log, settings.mfa_max_failures, policy.window, clock),
        clock,
        issuer=settings.issuer,
        events=events,
        passkeys=passkeys,
    )
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
        mail=_mail_sender(settings, engine, master, clock, outbox),
        factors=factors,
        events=events,
        audit=audit,
        redis=shared.redis,
        mail_throttle=MailThrottle(failure_log, policy, clock),
        session_cache_ttl=cache_ttl,
        own_users=user_store is None,
    )


def _mail_sender(
    settings: Settings,
    engine: AsyncEngine,
    master: MasterSecret,
    clock: Clock,
    outbox: MailQueue | None,
) -> MailSender:
    """The outbox (in the database unless one is given) and its sender: SMTP with
    AUTHWARD_SMTP_URL, else the development log."""
    if outbox is None:
        # Checked: an operator's broken template fails the start, not a password reset.
        renderer = checked_renderer(settings.mail_templates)
        outbox = SqlOutbox(engine, renderer, master.derive(MAIL_KEY_PURPOSE), clock)
    transport = None
    if settings.smtp_url is not None:
        transport = SmtpTransport(SmtpServer.from_url(settings.smtp_url.get_secret_value()))
    return MailSender(outbox, transport, settings.mail_from, clock)


def _user_store(
    settings: Settings, store: UserStore, bus: RevocationBus, clock: Clock
) -> tuple[UserStore, CachedUserStore | None]:
    """The user store, behind this node's account cache when AUTHWARD_ACCOUNT_CACHE_TTL is
    set: every write then goes through the cache, which announces it on the bus."""
    if settings.account_cache_ttl <= 0:
        return store, None
    cache = CachedUserStore(
        store,
        bus,
        clock,
        ttl=timedelta(seconds=settings.account_cache_ttl),
        max_entries=settings.account_cache_size,
    )
    return cache, cache


def _session_service(
    settings: Settings,
    cache_ttl: float,
    store: SessionStore,
    bus: RevocationBus,
    clock: Clock,
    *,
    csrf_key: bytes,
    events: Events,
) -> SessionService:
    """Sessions on `store`, behind this node's cache for `cache_ttl` seconds (0: none):
    the service is handed the cache twice, as its store and as the fast path of `held`."""
    policy = SessionPolicy(
        idle_ttl=timedelta(seconds=settings.session_idle_ttl),
        absolute_ttl=timedelta(seconds=settings.session_absolute_ttl),
        max_per_user=settings.max_sessions_per_user,
    )
    if cache_ttl <= 0:
        return SessionService(store, policy, clock, csrf_key=csrf_key, events=events)
    cache = CachedSessionStore(
        store,
        bus,
        clock,
        ttl=timedelta(seconds=cache_ttl),
        max_entries=settings.session_cache_size,
    )
    return SessionService(cache, policy, clock, csrf_key=csrf_key, events=events, cache=cache)


def _password_policy(settings: Settings) -> PasswordPolicy:
    """The common-password list always; the breached check with AUTHWARD_BREACHED_PASSWORDS."""
    if settings.breached_passwords == "off":
        return PasswordPolicy()
    from authward.accounts.breached import BreachedPasswords

    breached = BreachedPasswords(
        settings.breached_passwords_url,
        timeout=settings.breached_passwords_timeout,
        fail_closed=settings.breached_passwords_fail == "closed",
    )
    return PasswordPolicy(breached=breached)
