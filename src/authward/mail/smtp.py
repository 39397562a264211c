"""Handing a mail to an SMTP server (aiosmtplib), and what its answer means for a retry.

``AUTHWARD_SMTP_URL`` names the server: ``smtp://user:password@host:587`` (STARTTLS when
the server offers it), ``…?starttls=require`` (refuse to send in the clear) or
``smtps://host:465`` (TLS from the first byte). The password never appears in a log
line, an error or a ``repr``.

A refusal is permanent only when it is about this mail: a 5xx answer (RFC 5321 §4.2.1:
"permanent negative completion") to its recipient or to its data. A 5xx to the
greeting, the login or MAIL FROM is about the configuration, the same for every mail:
the mail waits, and goes out once the operator has fixed it. Anything else (no
connection, a timeout, a 4xx) is transient.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Final, Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

TIMEOUT: Final = 20.0  # seconds, for each step of one SMTP conversation

Tls = Literal["starttls-if-offered", "starttls-required", "implicit"]


class DeliveryError(Exception):
    """A mail was not accepted; ``permanent``: sending it again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False, server_down: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.server_down = server_down  # no conversation at all: the next mail would fail too


class Transport(Protocol):
    """Hands one message to a mail server, or raises `DeliveryError`."""

    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where to send, parsed from ``AUTHWARD_SMTP_URL``."""

    hostname: str
    port: int
    tls: Tls
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """Parse `url`; raise ValueError (naming no part of the password) when it is bad."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("AUTHWARD_SMTP_URL must be smtp://host[:port] or smtps://host[:port]")
        starttls = parse_qs(parts.query).get("starttls", [""])[0].lower()
        if starttls not in {"", "require"}:
            raise ValueError("AUTHWARD_SMTP_URL: starttls may only be 'require'")
        tls: Tls = "implicit" if scheme == "smtps" else "starttls-if-offered"
        if starttls and scheme == "smtp":
            tls = "starttls-required"
        try:
            port = parts.port or (465 if scheme == "smtps" else 587)
        except ValueError:
            raise ValueError("AUTHWARD_SMTP_URL: the port is not a number") from None
        return cls(
            hostname=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    def describe(self) -> str:
        """The server for a log line: no password."""
        user = f"{self.username}@" if self.username else ""
        return f"{user}{self.hostname}:{self.port} ({self.tls})"


class SmtpTransport:
    """One SMTP conversation per mail, through aiosmtplib."""

    def __init__(
        self,
        server: SmtpServer,
        *,
        timeout: float = TIMEOUT,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.server = server
        self._timeout = timeout
        self._tls_context = tls_context  # a test's own CA; None: the system's

    async def send(self, message: EmailMessage) -> None:
        server = self.server
        try:
            await aiosmtplib.send(
                message,
                hostname=server.hostname,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.tls == "implicit",
                start_tls={"implicit": False, "starttls-required": True}.get(server.tls),
                tls_context=self._tls_context,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise DeliveryError(reason, permanent=all(code >= 500 for code in codes)) from None
        except aiosmtplib.SMTPDataError as exc:
            raise DeliveryError(f"{exc.code} {exc.message}", permanent=exc.code >= 500) from None
        except aiosmtplib.SMTPResponseException as exc:
            # The greeting, EHLO, AUTH or MAIL FROM: the server or our settings, not this mail.
            raise DeliveryError(f"{exc.code} {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # No conversation (refused, reset, TLS, timeout). The message is the library's
            # or the OS's, never our credentials.
            raise DeliveryError(f"{type(exc).__name__}: {exc}", server_down=True) from None
