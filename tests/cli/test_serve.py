"""`authward serve` as an operator runs it: a real uvicorn process on loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

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


def test_metrics_count_every_worker(tmp_path: Path) -> None:
    """Any worker may answer /metrics; each answer must hold the logins of all of them."""
    with running_server(tmp_path, INSECURE, args=("--workers", "2")) as base:
        with httpx.Client(base_url=base) as client:
            assert client.post("/auth/register", json=CREDENTIALS).status_code == 201
        for _ in range(12):  # a connection each, so that both workers take some
            with httpx.Client(base_url=base) as fresh:
                assert fresh.post("/auth/session/login", json=CREDENTIALS).status_code == 200
        for _ in range(6):
            with httpx.Client(base_url=base) as fresh:
                assert session_logins(fresh.get("/metrics").text) == 12


def session_logins(exposition: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "authward_logins_total" and sample.labels == {
                "strategy": "session",
                "outcome": "ok",
            }:
                return sample.value
    return 0.0
