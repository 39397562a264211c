"""A service that only verifies tokens loads no web framework, database or Redis client.

Each check runs in a fresh interpreter: this one has long since imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("fastapi", "starlette", "sqlalchemy", "redis")


def loaded_after(statement: str) -> list[str]:
    """The packages of HEAVY that `statement` leaves in a fresh interpreter's sys.modules."""
    probe = (
        f"import json, sys; {statement}; "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, our own code
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize(
    "module", ["authward.remote.flask", "authward.remote.django", "authward.remote"]
)
def test_remote_helpers_load_no_framework_nor_store_client(module: str) -> None:
    assert loaded_after(f"import {module}") == []


def test_import_authward_alone_loads_none_of_them() -> None:
    assert loaded_after("import authward") == []


def test_the_probe_sees_what_the_service_loads() -> None:
    # The service itself does load them all: a probe that saw nothing would prove nothing.
    # (Its runtime imports the Redis client where AUTHWARD_REDIS_URL has it build on it.)
    service = "import authward.runtime, authward.web.app, authward.storage.redis"
    assert loaded_after(service) == sorted(HEAVY)


def test_a_public_name_still_loads_what_it_needs() -> None:
    assert "fastapi" in loaded_after("from authward import Authward")
