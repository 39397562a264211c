"""Schemathesis against the app's own /openapi.json, in process (ASGI, no network).

Every operation gets generated requests, anonymous and with a fresh bearer token; every
answer must be no 5xx and conform to the document: a documented status, the documented
content type, a body that matches its schema. Bounded to `EXAMPLES` cases per operation
and variant so the whole module runs in about a minute on two cores.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import get_client
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


def _fuzz_app() -> FastAPI:
    """One app for the module; schemathesis runs its lifespan on its own event loop, once."""
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
    )
    return create_app(build_runtime(settings_))


APP = _fuzz_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _account() -> None:
    with get_client(APP) as client:
        client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})


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
    with get_client(APP) as client:
        response = client.post("/auth/token", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    bearer = {"Authorization": f"Bearer {response.json()['access_token']}"}
    case.call_and_validate(headers=bearer, checks=CHECKS)
