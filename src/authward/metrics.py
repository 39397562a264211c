"""Prometheus metrics: what an operator watches on an auth service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LOGINS = Counter(
    "authward_logins_total", "Login attempts by strategy and outcome.", ["strategy", "outcome"]
)
VERIFICATIONS = Counter(
    "authward_verifications_total",
    "Request authentications by strategy and outcome.",
    ["strategy", "outcome"],
)
REVOCATIONS = Counter("authward_revocations_total", "Revocations by kind.", ["kind"])
REFRESH_REUSE = Counter(
    "authward_refresh_reuse_total", "Spent refresh tokens presented again (families revoked)."
)
LIVE_SESSIONS = Gauge("authward_live_sessions", "Sessions in the store at the last sweep.")
SWEPT = Counter("authward_swept_total", "Expired records removed by the sweep.", ["kind"])
REQUEST_SECONDS = Histogram(
    "authward_request_seconds",
    "Time to answer a request, by route template.",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
