"""`authward serve` as an operator runs it: a real uvicorn process on loopback."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.servers import running_server

INSECURE = {"AUTHWARD_INSECURE_COOKIES": "1"}
CREDENTIALS = {"email": "ada@example.com", "password": "correct horse battery"}


def test_first_run_needs_no_settings_and_keeps_its_secret(tmp_path: Path) -> None:
    with running_server(tmp_path, INSECURE) as base:
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
    key_file = tmp_path / "authward.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "authward.db").exists()


def test_register_login_me_logout_and_sessions_survive_a_restart(tmp_path: Path) -> None:
    with running_server(tmp_path, INSECURE) as base, httpx.Client(base_url=base) as client:
        assert client.post("/auth/register", json=CREDENTIALS).status_code == 201
        login = client.post("/auth/session/login", json=CREDENTIALS)
        assert login.status_code == 200
        csrf = login.json()["csrf_token"]
        cookie = client.cookies["authward_session"]
    with running_server(tmp_path, INSECURE) as base, httpx.Client(base_url=base) as client:
        client.cookies.set("authward_session", cookie)
        assert client.get("/auth/me").json()["auth"] == "session"
        logout = client.post("/auth/session/logout", headers={"X-CSRF-Token": csrf})
        assert logout.status_code == 204
        client.cookies.set("authward_session", cookie)
        assert client.get("/auth/me").status_code == 401


def test_secure_cookies_by_default(tmp_path: Path) -> None:
    with running_server(tmp_path) as base, httpx.Client(base_url=base) as client:
        client.post("/auth/register", json=CREDENTIALS)
        login = client.post("/auth/session/login", json=CREDENTIALS)
        cookie = login.headers["set-cookie"]
        assert cookie.startswith("__Host-authward_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie


def test_two_workers_share_sessions(tmp_path: Path) -> None:
    with running_server(tmp_path, INSECURE, args=("--workers", "2")) as base:
        with httpx.Client(base_url=base) as client:
            client.post("/auth/register", json=CREDENTIALS)
            assert client.post("/auth/session/login", json=CREDENTIALS).status_code == 200
            # New connections land on either worker; every one must know the session.
            for _ in range(10):
                with httpx.Client(base_url=base, cookies=client.cookies) as fresh:
                    assert fresh.get("/auth/me").status_code == 200
