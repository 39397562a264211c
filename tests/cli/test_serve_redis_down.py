"""`authward serve` with Redis down at start: it starts, answers 503 naming Redis, and
says so once in its log while it retries quietly (not a line a second)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.servers import CHEAP_ARGON2_ENV, free_port
from tests.web.helpers import PASSWORD

WAIT = 60.0  # seconds a real process may take to get somewhere on a busy machine


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT} s")
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def test_redis_down_at_start_is_one_warning_and_503s_that_name_it(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUTHWARD_")},
        **CHEAP_ARGON2_ENV,
        "AUTHWARD_DATABASE_URL": f"sqlite:///{tmp_path}/authward.db",
        "AUTHWARD_KEY_FILE": str(tmp_path / "authward.key"),
        "AUTHWARD_INSECURE_COOKIES": "1",
        "AUTHWARD_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own entry point
            [sys.executable, "-m", "authward", "serve", "--port", str(port)]
            + ["--log-level", "debug"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: answers(f"{base}/healthz"), "the server answers")
            assert httpx.get(f"{base}/healthz").json()["stores"]["redis"] == "down"
            account = {"email": "ada@example.com", "password": PASSWORD}
            refused = httpx.post(f"{base}/auth/register", json=account)
            assert refused.status_code == 503
            assert "(redis)" in refused.json()["detail"]
            # Several reconnection attempts (each a debug line) have come and gone...
            wait_for(
                lambda: log_path.read_text(errors="replace").count("still down") >= 3,
                "three attempts",
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
    text = log_path.read_text(errors="replace")
    # (Without AUTHWARD_SMTP_URL the mail sender warns once at start too: not about Redis.)
    warnings = [
        line
        for line in text.splitlines()
        if line.startswith("WARNING") and "AUTHWARD_SMTP_URL" not in line
    ]
    # ...and were told once; the one other line of note is the refused request's own.
    assert len(warnings) == 1, warnings
    assert "Redis does not answer" in warnings[0]
    errors = [line for line in text.splitlines() if line.startswith("ERROR")]
    assert errors == ["ERROR:    store unavailable: redis"]
    assert "Traceback" not in text
