"""A real SMTP server for the mail tests: aiosmtpd's Controller on a free loopback port.

It runs in a thread of its own, speaks real SMTP (STARTTLS, implicit TLS and AUTH when
asked), and records each message it accepts. Some recipients it refuses, as a server
would: ``refused@…`` for good (550), ``later@…`` for now (451). It can be stopped and
started again on the same port: the server going down and coming back.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER = "mailer"
PASSWORD = "s3cret-smtp-pa55word"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Recorder:
    """The server's handler: accepts, refuses, and keeps what it accepted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.raw: list[bytes] = []

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("later@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        assert isinstance(envelope.original_content, bytes)
        with self.lock:
            self.raw.append(envelope.original_content)
        return "250 2.0.0 accepted"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = list(self.raw)
        parsed = [email.message_from_bytes(r, policy=email.policy.default) for r in raw]
        return [m for m in parsed if isinstance(m, EmailMessage)]


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class Certificate:
    """A self-signed certificate for 127.0.0.1, and the client context that trusts it."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def make_certificate(folder: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class SmtpServer:
    """One SMTP server on a port of its own, started and stopped at will."""

    def __init__(
        self,
        *,
        certificate: Certificate | None = None,
        mode: str = "plain",  # plain | starttls | implicit
    ) -> None:
        self.port = free_port()
        self.recorder = Recorder()
        self._certificate = certificate
        self._mode = mode
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        scheme = "smtps" if self._mode == "implicit" else "smtp"
        auth = f"{USER}:{PASSWORD}@" if self._mode == "starttls" else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self._mode == "starttls":
            assert self._certificate is not None
            kwargs = {
                "tls_context": self._certificate.server_context(),
                "require_starttls": True,
                "authenticator": _authenticate,
                "auth_required": True,
            }
        elif self._mode == "implicit":
            assert self._certificate is not None
            # No AUTH here: aiosmtpd offers it only after its own STARTTLS, not on a
            # connection that is TLS from the start. The login is tested over STARTTLS.
            kwargs = {"ssl_context": self._certificate.server_context()}
        self._controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[EmailMessage]:
        return self.recorder.messages()
