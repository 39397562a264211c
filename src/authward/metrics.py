"""Prometheus metrics: what an operator watches on an auth service.

Counters move where the event happens (a line each, in the services and the web layer);
store latency is measured by the proxies of `authward.instrument`. Labels are small fixed
sets: never a user id, an address or anything a client chose.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from authward.errors import (
    AuthwardError,
    SessionExpired,
    StoreUnavailable,
    TokenExpired,
    TokenRevoked,
)

LOGINS = Counter(
    "authward_logins_total", "Login attempts by strategy and outcome.", ["strategy", "outcome"]
)
VERIFICATIONS = Counter(
    "authward_verifications_total",
    "Request authentications by strategy (session, jwt) and outcome "
    "(ok, invalid, expired, revoked, unavailable).",
    ["strategy", "outcome"],
)
REVOCATIONS = Counter(
    "authward_revocations_total",
    "Revocations by kind: session (one ended before its time), family (a refresh token "
    "family and its access tokens), user (every token of a user at once).",
    ["kind"],
)
REFRESH_REUSE = Counter(
    "authward_refresh_reuse_total", "Spent refresh tokens presented again (families revoked)."
)
MFA = Counter(
    "authward_mfa_total",
    "Second steps of logins by method (otp, rc) and outcome (ok, failed, throttled).",
    ["method", "outcome"],
)
THROTTLED = Counter(
    "authward_throttled_total",
    "Requests refused with 429, by action (login, password, refresh, register, mfa,"
    " passkey_options).",
    ["action"],
)
# Every worker sweeps the same store: with several, the most recent count is the answer.
LIVE_SESSIONS = Gauge(
    "authward_live_sessions",
    "Sessions in the store, counted when the node starts and after each sweep.",
    multiprocess_mode="mostrecent",
)
SWEPT = Counter("authward_swept_total", "Expired records removed by the sweep.", ["kind"])
REQUEST_SECONDS = Histogram(
    "authward_request_seconds",
    "Time to answer a request, by route template.",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
STORE_SECONDS = Histogram(
    "authward_store_seconds",
    "Time a store call took, by store and operation (failed calls included).",
    ["store", "operation"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5),
)

# Set (by `authward serve --workers N`, or by the operator) before any worker starts: each
# worker then writes its values to files there, and /metrics adds them all up.
MULTIPROC_DIR: Final = "PROMETHEUS_MULTIPROC_DIR"

# Bound once: `labels()` is a dict lookup under a lock, too dear for every request.
SESSION_OK: Final = VERIFICATIONS.labels("session", "ok")
SESSION_REVOKED: Final = REVOCATIONS.labels("session")
JWT_OK: Final = VERIFICATIONS.labels("jwt", "ok")


def verification_outcome(exc: AuthwardError) -> str:
    """The outcome label for a credential that did not hold."""
    if isinstance(exc, StoreUnavailable):
        return "unavailable"
    if isinstance(exc, TokenExpired | SessionExpired):
        return "expired"
    if isinstance(exc, TokenRevoked):
        return "revoked"
    return "invalid"


def count_refused(strategy: str, exc: AuthwardError) -> None:
    VERIFICATIONS.labels(strategy, verification_outcome(exc)).inc()


def observe_sweep(removed: dict[str, int], live_sessions: int) -> None:
    """Record what a sweep removed and how many sessions are left."""
    for kind, count in removed.items():
        SWEPT.labels(kind).inc(count)
    observe_live_sessions(live_sessions)


def observe_live_sessions(count: int) -> None:
    """Set the live-sessions gauge: when the background work starts, then after each sweep."""
    LIVE_SESSIONS.set(count)


def exposition() -> bytes:
    """The metrics in Prometheus text format: this process's, or every worker's."""
    if not os.environ.get(MULTIPROC_DIR):
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


# --- mail (authward.mail): the outbox and its sender ---------------------------------------

MAIL_QUEUED = Counter("authward_mail_queued_total", "Mails written to the outbox.")
MAIL_SENT = Counter("authward_mail_sent_total", "Mails an SMTP server accepted.")
MAIL_FAILED = Counter(
    "authward_mail_failed_total",
    "Mails given up: refused for good (5xx to the recipient or data), or still failing "
    "after the retry horizon (24 h).",
)
# Every sender counts the same outbox: the most recent count is the answer.
MAIL_WAITING = Gauge(
    "authward_mail_waiting", "Mails queued and not yet sent.", multiprocess_mode="mostrecent"
)
MAIL_OLDEST_WAITING = Gauge(
    "authward_mail_oldest_waiting_seconds",
    "Age of the oldest mail not yet sent (0 when none waits).",
    multiprocess_mode="mostrecent",
)


def observe_mail_waiting(count: int, oldest: datetime | None, now: datetime) -> None:
    """Set the outbox gauges: how many mails wait, and for how long the oldest has."""
    MAIL_WAITING.set(count)
    MAIL_OLDEST_WAITING.set(0 if oldest is None else max((now - oldest).total_seconds(), 0))
