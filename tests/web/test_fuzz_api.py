"""Schemathesis against the app's own /openapi.json, in process (ASGI, no network).

Every operation gets generated requests, anonymous and with a fresh bearer token; every
answer must be no 5xx and conform to the document: a documented status, the documented
content type, a body that matches its schema. Each runs on SQLite and on PostgreSQL:
PostgreSQL refuses strings SQLite keeps (a NUL in text), and such a string once reached
it from a path and gave a 500 (issue 14). Bounded to `EXAMPLES` cases per operation and
variant so the whole module runs in about a minute on two cores.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.python.asgi import get_client, shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authward.runtime import build_runtime
from authward.web.app import create_app
from tests.conftest import make_settings
from tests.web.helpers import PASSWORD

EXAMPLES = 40
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EMAIL = "fuzz@example.com"


def _fuzz_app(database_url: str | None = None) -> FastAPI:
    """An app for the module (SQLite unless `database_url` says otherwise).

    Schemathesis runs its lifespan on its own event loop, once, until the module ends.
    """
    workdir = tempfile.mkdtemp(prefix="authward-fuzz-")
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    # Ceilings out of the way: throttling is under test elsewhere, and a 429 here would
    # only hide the answers being checked.
    settings_ = make_settings(
        Path(workdir),
        login_max_failures=10_000,
        login_address_max_failures=1_000_000,
        register_max_attempts=100_000,
        refresh_max_failures=100_000,
        **({} if database_url is None else {"database_url": database_url}),
    )
    return create_app(build_runtime(settings_))


def _with_account(app: FastAPI) -> FastAPI:
    with get_client(app) as client:
        client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
    return app


APP = _fuzz_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.hook
def before_generate_path_parameters(
    context: schemathesis.HookContext, strategy: st.SearchStrategy[dict[str, object] | None]
) -> st.SearchStrategy[dict[str, object] | None]:
    """Half the cases end their path parameters in a NUL.

    Hypothesis seldom draws one in `EXAMPLES` cases, and a NUL is what PostgreSQL refuses
    in text: ``DELETE /auth/sessions/%00`` once gave a 500 there (issue 14).
    """
    return st.one_of(strategy, strategy.map(_ending_in_nul))


def _ending_in_nul(parameters: dict[str, object] | None) -> dict[str, object] | None:
    if not parameters:  # an operation without path parameters
        return parameters
    return {k: v + "\x00" if isinstance(v, str) else v for k, v in parameters.items()}


@pytest.fixture(scope="module", autouse=True)
def _account() -> Iterator[None]:
    _with_account(APP)
    yield
    # The apps' runtimes close with the module, before its PostgreSQL database is dropped.
    shutdown_lifespans()


@pytest.fixture(scope="module")
def postgres_app(postgres_url: str) -> FastAPI:
    """The same app on PostgreSQL, for the same generated cases."""
    return _with_account(_fuzz_app(postgres_url))


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure reproduces
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ_SETTINGS
def test_anonymous_requests_conform(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS, excluded_checks=[])


@schema.parametrize()
@FUZZ_SETTINGS
def test_requests_with_a_valid_bearer_token_conform(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=bearer_of(APP), checks=CHECKS)


@pytest.mark.postgres
@schema.parametrize()
@FUZZ_SETTINGS
def test_anonymous_requests_conform_on_postgres(
    case: schemathesis.Case, postgres_app: FastAPI
) -> None:
    case.call_and_validate(app=postgres_app, checks=CHECKS, excluded_checks=[])


@pytest.mark.postgres
@schema.parametrize()
@FUZZ_SETTINGS
def test_requests_with_a_valid_bearer_token_conform_on_postgres(
    case: schemathesis.Case, postgres_app: FastAPI
) -> None:
    case.call_and_validate(app=postgres_app, headers=bearer_of(postgres_app), checks=CHECKS)


def bearer_of(app: FastAPI) -> dict[str, str]:
    """A fresh access token of the fuzz account, as an Authorization header."""
    with get_client(app) as client:
        response = client.post("/auth/token", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
