"""Security events are JSON lines that never hold a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from authward.events import AuthEvent
from authward.logs import JsonFormatter, log_config
from authward.runtime import Runtime
from tests.web.helpers import PASSWORD, register, session_cookie, session_login


@pytest.fixture
def security_lines() -> Iterator[io.StringIO]:
    """What `authward serve` would write for ``authward.security`` (and the rest of authward)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("authward")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_only_the_allowed_fields_are_written() -> None:
    record = logging.LogRecord("authward.security", logging.WARNING, __file__, 1, "x", (), None)
    for name, value in {
        "event": "login_failed",
        "user_id": "u1",
        "ip": "203.0.113.7",
        "password": "hunter2hunter2",
        "token": "secret-token",
        "email": "ada@example.com",
    }.items():
        setattr(record, name, value)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["event"] == "login_failed"
    assert entry["user_id"] == "u1"
    assert entry["ip"] == "203.0.113.7"
    assert {"password", "token", "email"}.isdisjoint(entry)
    assert {"time", "level", "logger", "message"} <= set(entry)


def test_an_exception_is_named_not_quoted() -> None:
    try:
        raise ValueError("the token was abc.def.ghi")
    except ValueError:
        record = logging.getLogger("authward.security").makeRecord(
            "authward.security", logging.ERROR, __file__, 1, "failed", (), exc_info=True
        )
        import sys

        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert json.loads(text)["error"] == "ValueError"
    assert "abc.def.ghi" not in text


def test_serve_sends_security_events_through_the_json_formatter() -> None:
    config = log_config("info")
    logger = config["loggers"]["authward.security"]
    handler = config["handlers"][logger["handlers"][0]]
    assert config["formatters"][handler["formatter"]]["()"] == "authward.logs.JsonFormatter"
    assert logger["propagate"] is False
    assert "uvicorn.error" in config["loggers"]


async def test_a_whole_flow_logs_no_secret(
    client: httpx.AsyncClient, security_lines: io.StringIO
) -> None:
    secrets: list[str] = [PASSWORD, "a brand new passphrase", "wrong password"]
    await register(client, "Ada.Lovelace@example.com")
    wrong = {"email": "ada.lovelace@example.com", "password": "wrong password"}
    assert (await client.post("/auth/session/login", json=wrong)).status_code == 401
    csrf = await session_login(client, "ada.lovelace@example.com")
    secrets += [csrf, session_cookie(client)]
    credentials = {"email": "ada.lovelace@example.com", "password": PASSWORD}
    tokens = (await client.post("/auth/token", json=credentials)).json()
    secrets += [tokens["access_token"], tokens["refresh_token"]]
    fresh = await client.post(
        "/auth/token/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    secrets += [fresh.json()["access_token"], fresh.json()["refresh_token"]]
    reused = await client.post(
        "/auth/token/refresh",
        json={"refresh_token": tokens["refresh_token"]},
        headers={"User-Agent": "a thief"},
    )
    assert reused.status_code == 401
    change = {"current_password": "wrong password", "new_password": "a brand new passphrase"}
    headers = {"X-CSRF-Token": csrf}
    assert (await client.post("/auth/password", json=change, headers=headers)).status_code == 403
    change["current_password"] = PASSWORD
    assert (await client.post("/auth/password", json=change, headers=headers)).status_code == 204
    assert (await client.post("/auth/session/logout", headers=headers)).status_code == 204

    text = security_lines.getvalue()
    events = [json.loads(line) for line in text.splitlines()]
    kinds = {e.get("event") for e in events}
    assert {"register", "login", "login_failed", "refresh_reuse", "password_change"} <= kinds
    assert "password_change_failed" in kinds
    for secret in secrets:
        assert secret not in text, secret[:12]
    assert "lovelace" not in text.lower()  # no email, in any case
    assert all("ip" in e for e in events if e.get("event") in {"login", "login_failed"})


def _security_events(stream: io.StringIO) -> list[dict[str, str]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["logger"] == "authward.security"]


async def test_one_login_failure_is_one_security_line(
    client: httpx.AsyncClient, security_lines: io.StringIO
) -> None:
    await register(client, "ada@example.com")
    security_lines.truncate(0)
    security_lines.seek(0)
    wrong = {"email": "ada@example.com", "password": "wrong password"}
    assert (await client.post("/auth/session/login", json=wrong)).status_code == 401
    [line] = _security_events(security_lines)
    assert (line["event"], line["level"], line["ip"]) == ("login_failed", "warning", "203.0.113.7")
    assert line["user_id"]


async def test_each_event_is_one_security_line(
    runtime: Runtime, client: httpx.AsyncClient, security_lines: io.StringIO
) -> None:
    """The security log and the hooks hear the same events, once each, from one place."""
    heard: list[AuthEvent] = []
    runtime.events.subscribe(heard.append)
    await register(client, "ada@example.com")
    wrong = {"email": "ada@example.com", "password": "wrong password"}
    assert (await client.post("/auth/session/login", json=wrong)).status_code == 401
    csrf = await session_login(client, "ada@example.com")
    credentials = {"email": "ada@example.com", "password": PASSWORD}
    spent = (await client.post("/auth/token", json=credentials)).json()["refresh_token"]
    refresh = {"refresh_token": spent}
    assert (await client.post("/auth/token/refresh", json=refresh)).status_code == 200
    reused = await client.post("/auth/token/refresh", json=refresh, headers={"User-Agent": "x"})
    assert reused.status_code == 401
    assert (await client.post("/auth/session/logout", headers={"X-CSRF-Token": csrf})).is_success
    logged = [
        (line["event"], line.get("strategy"), line.get("handle"))
        for line in _security_events(security_lines)
    ]
    assert logged == [(e.kind, e.via, e.handle) for e in heard]
    assert [kind for kind, _, _ in logged] == [
        "register",
        "login_failed",
        "login",
        "login",
        "refresh_reuse",
        "logout",
    ]
