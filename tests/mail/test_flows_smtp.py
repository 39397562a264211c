"""The mailed-link flows end to end over real SMTP (aiosmtpd on loopback): the link a
person receives, followed, does what it says."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

from authward.clock import FrozenClock
from authward.runtime import build_runtime
from tests.conftest import http_client, make_settings
from tests.mail.smtp_server import SmtpServer
from tests.web.helpers import PASSWORD, register, session_login

PUBLIC_URL = "https://auth.example.com"


def link_in(message: EmailMessage, path: str) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(
        rf"{re.escape(PUBLIC_URL + path)}\?token=([A-Za-z0-9_-]{{43}})", body.get_content()
    )
    assert found is not None, body.get_content()
    return found.group(1)


async def test_registration_verification_and_reset_over_smtp(
    tmp_path: Path, clock: FrozenClock, smtp: SmtpServer
) -> None:
    settings = make_settings(tmp_path, smtp_url=smtp.url, public_url=PUBLIC_URL)
    runtime = build_runtime(settings, clock=clock)
    await runtime.open(background=False)
    try:
        async with http_client(runtime) as client:
            await register(client, "ada@example.com")
            assert await runtime.mail.run_once() == 1
            (verify,) = smtp.messages()
            assert verify["To"] == "ada@example.com"
            token = link_in(verify, "/verify")
            assert (
                await client.post("/auth/email/verify", json={"token": token})
            ).status_code == 204

            forgot = await client.post(
                "/auth/password/forgot",
                json={"email": "ada@example.com"},
                headers={"Host": "attacker.example"},
            )
            assert forgot.status_code == 202
            assert await runtime.mail.run_once() == 1
            reset_mail = smtp.messages()[-1]
            assert "attacker.example" not in reset_mail.as_string()
            token = link_in(reset_mail, "/reset")
            done = await client.post(
                "/auth/password/reset", json={"token": token, "new_password": "brand new password"}
            )
            assert done.status_code == 204
            assert await runtime.mail.run_once() == 1
            assert smtp.messages()[-1]["To"] == "ada@example.com"
            assert "brand new password" not in smtp.messages()[-1].as_string()
            bad = await client.post(
                "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
            )
            assert bad.status_code == 401
            await session_login(client, "ada@example.com", "brand new password")
    finally:
        await runtime.close()
