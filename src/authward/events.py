"""Security events: what happened to whom, told to hooks and to the audit log.

The domain emits an `AuthEvent` where a fact becomes true (an account registered, a
session or token family started, a password changed, a family revoked for reuse...);
`Events` hands it to every hook subscribed to its kind, in subscription order. A hook
is a function of the event, sync or async; a sync one runs in a worker thread so a
slow one cannot stall the event loop. A hook that raises is logged on the
``authward.events`` logger and skipped: a broken hook never breaks a login.

An event carries public facts only: the user id, the strategy, a public handle (a
session's handle, a token family's id, a key's kid), the client address and user
agent. Never a password, a token, a session id or a digest of one.

Where a request is being served, its address and user agent come from the route that
serves it (`request_origin`), so domain code need not pass them down.

Every event emitted is also one JSON line on the ``authward.security`` logger, written
here and nowhere else: the services emit an event and log nothing of their own for it,
so no fact is logged twice (or, by a hook that was never subscribed, not at all).
Refusals that are no event (a throttled attempt, a CSRF token refused) are logged where
they happen.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, Protocol, TypeVar, get_args

import anyio.to_thread

from authward.clock import Clock, SystemClock
from authward.ids import Device, UserId, Via

__all__ = [
    "EVENT_KINDS",
    "AuthEvent",
    "EventKind",
    "Events",
    "Hook",
    "NoNotices",
    "Notices",
    "Then",
    "request_origin",
]

log = logging.getLogger("authward.events")
security_log = logging.getLogger("authward.security")

EventKind = Literal[
    "register",
    "login",
    "login_failed",
    "logout",
    "revoke",
    "refresh_reuse",
    "password_change",
    "key_rotated",
    "totp_enabled",
    "totp_disabled",
    "recovery_codes_generated",
    "recovery_code_used",
    "mfa_failed",
    "password_reset",
    "password_reset_sent",
    "mfa_reset",
    "email_verified",
    "email_change_requested",
    "email_changed",
    "user_disabled",
    "user_enabled",
    "user_deleted",
    "passkey_added",
    "passkey_removed",
]
EVENT_KINDS: Final[tuple[EventKind, ...]] = get_args(EventKind)
# Each kind's security log line; a warning where an operator may need to act.
_LOG_LINES: Final[dict[EventKind, tuple[int, str]]] = {
    "register": (logging.INFO, "user registered"),
    "login": (logging.INFO, "login"),
    "login_failed": (logging.WARNING, "login failed"),
    "logout": (logging.INFO, "logout"),
    "revoke": (logging.INFO, "sessions or token families revoked"),
    "refresh_reuse": (logging.WARNING, "refresh token reused; family revoked"),
    "password_change": (logging.INFO, "password changed"),
    "key_rotated": (logging.INFO, "signing key rotated"),
    "totp_enabled": (logging.INFO, "TOTP turned on"),
    "totp_disabled": (logging.WARNING, "TOTP turned off"),
    "recovery_codes_generated": (logging.INFO, "new recovery codes; the old set is void"),
    "recovery_code_used": (logging.WARNING, "recovery code used"),
    "mfa_failed": (logging.WARNING, "second factor refused"),
    "password_reset": (logging.WARNING, "password reset through a mailed link"),
    "password_reset_sent": (logging.INFO, "an operator mailed a password reset link"),
    "mfa_reset": (logging.INFO, "an operator turned every second factor off"),
    "email_verified": (logging.INFO, "email verified"),
    "email_change_requested": (logging.INFO, "email change requested"),
    "email_changed": (logging.WARNING, "email changed"),
    "user_disabled": (logging.INFO, "account disabled"),
    "user_enabled": (logging.INFO, "account enabled"),
    "user_deleted": (logging.INFO, "account deleted"),
    "passkey_added": (logging.INFO, "passkey added"),
    "passkey_removed": (logging.WARNING, "passkey removed"),
}


@dataclass(frozen=True, slots=True)
class AuthEvent:
    """One security event; every field is safe to store and to show an operator.

    `handle` names what the event is about: a session's public handle, a token family's
    id (the ``sid`` claim), or a signing key's kid; None when it is about every session
    and family of the user (``revoke`` by sign-out-everywhere).
    """

    kind: EventKind
    at: datetime
    user_id: UserId | None = None
    via: Via | None = None
    handle: str | None = None
    ip: str = ""
    user_agent: str = ""


Hook = Callable[[AuthEvent], Awaitable[None] | None]
H = TypeVar("H", bound=Hook)

# What a store runs inside the transaction of the change it writes, when a row changed:
# called with that transaction's SQL connection (None from a store with no transaction,
# which calls it after the change). Typed loosely: the concepts know no SQL.
Then = Callable[[Any], Awaitable[None]]


class Notices(Protocol):
    """The notice mails that commit with the change they tell of (a transactional outbox).

    Before a change to how an account signs in, its service asks `prepare` for the
    notice of `kind` and hands what it gets (`Then`) to the store write that decides the
    change: the mail's row is written in that write's transaction, so the change and its
    notice commit together or not at all. None: no notice of `kind` is written this way
    (none at all, the account is gone, or it is queued just after the change instead).

    The notice goes to the address the account has when it is prepared (before an email
    change: the old one); `values`, the change's own (an email change's new address).
    """

    async def prepare(
        self, kind: EventKind, user_id: UserId, *, values: Mapping[str, str] | None = None
    ) -> Then | None: ...


class NoNotices:
    """No notice written with the change: a service built without the runtime's mailer."""

    async def prepare(
        self, kind: EventKind, user_id: UserId, *, values: Mapping[str, str] | None = None
    ) -> Then | None:
        return None


_origin: ContextVar[Callable[[], Device] | None] = ContextVar("authward_origin", default=None)


@contextmanager
def request_origin(origin: Callable[[], Device]) -> Iterator[None]:
    """Attribute the events emitted within the block to the device `origin` returns.

    `origin` is called only when an event is emitted, so requests that emit nothing
    pay nothing for it.
    """
    token = _origin.set(origin)
    try:
        yield
    finally:
        _origin.reset(token)


class Events:
    """Subscribe hooks to event kinds, and emit events to them."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._hooks: list[tuple[Hook, frozenset[EventKind]]] = []
        # The notices written with the change (the runtime's `NoticeMailer`): carried here
        # because every service already shares the runtime's Events.
        self.notices: Notices = NoNotices()

    def on(self, *kinds: EventKind) -> Callable[[H], H]:
        """Decorate a hook to hear `kinds` (every kind when none is named)."""
        chosen = _checked(kinds or EVENT_KINDS)

        def subscribe(hook: H) -> H:
            self._hooks.append((hook, chosen))
            return hook

        return subscribe

    def subscribe(self, hook: Hook, kinds: Iterable[EventKind] | None = None) -> None:
        """Call `hook` for each event of `kinds` (None: all); ValueError for an unknown kind."""
        self._hooks.append((hook, _checked(EVENT_KINDS if kinds is None else kinds)))

    def unsubscribe(self, hook: Hook) -> None:
        """Stop calling `hook` (every subscription of it)."""
        self._hooks = [(h, kinds) for h, kinds in self._hooks if h != hook]

    async def emit(
        self,
        kind: EventKind,
        *,
        user_id: UserId | None = None,
        via: Via | None = None,
        handle: str | None = None,
        device: Device | None = None,
    ) -> AuthEvent:
        """Tell every hook of `kind`; return the event. Never raises for a hook's failure.

        `device` defaults to the origin of the request being served, if any.
        """
        if device is None:
            device = _current_device()
        event = AuthEvent(
            kind,
            self._clock.now(),
            user_id,
            via,
            handle,
            device.ip if device else "",
            device.user_agent if device else "",
        )
        _log(event)
        for hook, kinds in self._hooks:
            if kind in kinds:
                await _call(hook, event)
        return event


def _log(event: AuthEvent) -> None:
    level, message = _LOG_LINES[event.kind]
    fields = {"user_id": event.user_id, "ip": event.ip, "handle": event.handle}
    security_log.log(level, message, extra={"event": event.kind, "strategy": event.via, **fields})


def _checked(kinds: Iterable[EventKind]) -> frozenset[EventKind]:
    chosen = frozenset(kinds)
    if unknown := chosen - set(EVENT_KINDS):
        raise ValueError(f"unknown event kind(s): {', '.join(sorted(unknown))}")
    return chosen


def _current_device() -> Device | None:
    origin = _origin.get()
    if origin is None:
        return None
    try:
        return origin()
    except Exception:  # an event without an address beats a failed login
        log.exception("could not tell where the request came from")
        return None


async def _call(hook: Hook, event: AuthEvent) -> None:
    try:
        if inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(
            getattr(hook, "__call__", None)  # noqa: B004 - an object with an async __call__
        ):
            await hook(event)  # type: ignore[misc]
            return
        result = await anyio.to_thread.run_sync(hook, event)
        if inspect.isawaitable(result):  # a sync callable that returned a coroutine
            await result
    except Exception:
        log.exception("event hook %r failed on %s", hook, event.kind)
