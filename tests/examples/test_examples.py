"""Each example, started the way its docstring and the README say, exercised over HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import CHEAP_ARGON2_ENV, free_port, running_server

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.timeout(90)


@contextmanager
def running_example(
    name: str, workdir: Path, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Run ``python examples/<name>`` (in `workdir`, for its files) until the block ends."""
    port = free_port()
    full_env = {
        **os.environ,
        "AUTHWARD_DATABASE_URL": f"sqlite:///{workdir}/authward.db",
        "AUTHWARD_KEY_FILE": str(workdir / "authward.key"),
        "AUTHWARD_INSECURE_COOKIES": "1",
        **CHEAP_ARGON2_ENV,
        "PORT": str(port),
        **(env or {}),
    }
    log_path = workdir / f"{name}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own example
            [sys.executable, str(EXAMPLES / name)],
            cwd=workdir,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, process, log_path)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"example exited: {log.read_text(errors='replace')}")
        try:
            httpx.get(f"{base}/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"example did not start: {log.read_text(errors='replace')}")


def _register(client: httpx.Client, email: str) -> str:
    response = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


def _token(client: httpx.Client, email: str) -> str:
    response = client.post("/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def test_fastapi_app_pages_on_sessions_api_on_tokens(tmp_path: Path) -> None:
    with running_example("fastapi_app.py", tmp_path) as base, httpx.Client(base_url=base) as web:
        assert "Sign in" in web.get("/").text
        user_id = _register(web, "ada@example.com")
        login = web.post(
            "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200
        page = web.get("/").text
        assert f"Notes of {user_id}" in page
        csrf = re.search(r'name=csrf_token value="([^"]+)"', page)
        assert csrf is not None and csrf.group(1) == login.json()["csrf_token"]
        # A form without the session's CSRF token (a cross-site post) is refused.
        assert web.post("/notes", data={"text": "forged"}).status_code == 403
        added = web.post("/notes", data={"text": "milk", "csrf_token": csrf.group(1)})
        assert added.status_code == 303
        # No redirect is built from the Host header: a path off by a slash is not found.
        for path in ("/notes/", "/auth/me/", "/auth/session/login/"):
            twin = web.post(path, data={"text": "x"}, headers={"Host": "evil.example"})
            assert twin.status_code in (404, 405) and "location" not in twin.headers, path
        assert "<li>milk</li>" in web.get("/").text
        # The API takes tokens only: the cookie alone is a 401 that asks for a bearer token.
        refused = web.get("/api/notes")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        bearer = {"Authorization": f"Bearer {_token(web, 'ada@example.com')}"}
        with httpx.Client(base_url=base, headers=bearer) as api:
            assert api.post("/api/notes", json={"text": "eggs"}).status_code == 201
            assert api.get("/api/notes").json() == ["milk", "eggs"]
            assert (
                api.get("/api/notes", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
            )


def test_resource_service_trusts_tokens_through_jwks_only(tmp_path: Path) -> None:
    authward_dir, service_dir = tmp_path / "authward", tmp_path / "service"
    authward_dir.mkdir()
    service_dir.mkdir()
    with running_server(authward_dir) as authward_base:
        jwks = {"AUTHWARD_JWKS_URL": f"{authward_base}/.well-known/jwks.json"}
        # The service gets no secret and no database of authward's: only the JWKS URL.
        service_env = {"AUTHWARD_DATABASE_URL": "", "AUTHWARD_KEY_FILE": "", **jwks}
        with (
            running_example("resource_service.py", service_dir, service_env) as base,
            httpx.Client(base_url=authward_base) as auth,
            httpx.Client(base_url=base) as service,
        ):
            user_id = _register(auth, "ada@example.com")
            token = _token(auth, "ada@example.com")
            answer = service.get("/reports", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["owner"] == user_id
            missing = service.get("/reports")
            assert missing.status_code == 401
            assert missing.headers["www-authenticate"] == "Bearer"
            forged = service.get("/reports", headers={"Authorization": f"Bearer {token}x"})
            assert forged.status_code == 401
        assert not (service_dir / "authward.key").exists()


def test_starlette_app_with_the_middleware(tmp_path: Path) -> None:
    with running_example("starlette_app.py", tmp_path) as base, httpx.Client(base_url=base) as web:
        assert web.get("/").text == "Hello, stranger"
        assert web.get("/private").status_code == 401
        for path in ("/private/", "/auth/me/"):
            twin = web.get(path, headers={"Host": "evil.example"})
            assert twin.status_code == 404 and "location" not in twin.headers, path
        _register(web, "ada@example.com")
        login = web.post(
            "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        csrf = login.json()["csrf_token"]
        assert web.get("/").text == "Hello, ada@example.com"
        private = web.get("/private").json()
        assert private["scopes"] == ["authenticated", "session"]
        # By cookie, an unsafe request without its CSRF token is not authenticated.
        assert web.post("/private", data={"text": "x"}).status_code == 401
        saved = web.post("/private", data={"text": "x", "csrf_token": csrf})
        assert saved.status_code == 200 and saved.json()["saved"] == "x"
        token = _token(web, "ada@example.com")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
            assert api.get("/private").json()["scopes"] == ["authenticated", "jwt"]
            assert api.post("/private", data={"text": "y"}).status_code == 200
        bad = httpx.get(f"{base}/", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401


def test_own_users_table_through_a_user_store_adapter(tmp_path: Path) -> None:
    env = {"APP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/members.db"}
    with running_example("own_users.py", tmp_path, env) as base, httpx.Client(base_url=base) as web:
        user_id = _register(web, "Ada@Example.com")
        assert (
            web.post(
                "/auth/register", json={"email": "ada@example.COM", "password": PASSWORD}
            ).status_code
            == 409
        )
        wrong = web.post("/auth/token", json={"email": "ada@example.com", "password": "nope-nope"})
        assert wrong.status_code == 401
        bearer = {"Authorization": f"Bearer {_token(web, 'ADA@example.com')}"}
        assert web.get("/me", headers=bearer).json() == {"id": user_id, "email": "ada@example.com"}
        members = web.get("/members", headers=bearer).json()
        assert members == [{"id": user_id, "email": "ada@example.com", "nickname": ""}]
    assert (tmp_path / "members.db").exists()
