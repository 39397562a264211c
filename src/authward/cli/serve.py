"""``authward serve``: run the service with uvicorn."""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import anyio
import typer

from authward.cli.context import check_database_path, errors, settings_or_exit
from authward.cli.failures import CommandFailure

if TYPE_CHECKING:
    from authward.settings import Settings


class HttpParser(StrEnum):
    h11 = "h11"
    httptools = "httptools"


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    ssl_certfile: Annotated[str | None, typer.Option(help="Serve HTTPS with this cert.")] = None,
    ssl_keyfile: Annotated[str | None, typer.Option(help="Private key for --ssl-certfile.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    http: Annotated[
        HttpParser,
        typer.Option(
            help="HTTP/1.1 parser: h11 caps the header block (64 KiB) before "
            "the app sees it; httptools is faster but buffers headers of any size."
        ),
    ] = HttpParser.h11,
) -> None:
    """Start authward (settings come from AUTHWARD_* variables)."""
    # Here, not at the top: `authward --help` imports this module and needs none of them.
    import uvicorn

    from authward.logs import log_config
    from authward.masterkey import load_master_secret
    from authward.storage.redis import reachable
    from authward.web.limits import MAX_HEADER_BYTES

    if not os.environ.get("AUTHWARD_PUBLIC_URL"):
        # The links' base when none is set: this server's own address. Set in the
        # environment, where the workers build their Settings, so that they all agree;
        # never the request's Host header (a forged one would be mailed to the victim).
        scheme = "https" if ssl_certfile else "http"
        os.environ["AUTHWARD_PUBLIC_URL"] = f"{scheme}://127.0.0.1:{port}"
    settings = settings_or_exit()
    if settings.insecure_cookies:
        errors.print(
            "[bold yellow on red] WARNING [/] AUTHWARD_INSECURE_COOKIES=1: session cookies are "
            "sent without Secure and without the __Host- prefix. For plain-HTTP development "
            "and tests only; never in production.",
            highlight=False,
        )
    if (ssl_certfile is None) != (ssl_keyfile is None):
        errors.print("[bold red]authward:[/] --ssl-certfile and --ssl-keyfile go together")
        raise typer.Exit(2)
    # Checked here, once, so that a mistake is one line (authward.cli.failures) rather
    # than a traceback from inside uvicorn's worker.
    if ssl_certfile is not None and ssl_keyfile is not None:
        check_certificate(ssl_certfile, ssl_keyfile)
    check_database_path(settings.database_url)
    load_master_secret(settings)  # made once here, before workers race to make it
    anyio.run(_migrate, settings.database_url)
    anyio.run(_open_signing_key, settings)
    if settings.redis_url is not None:
        # Down: the server starts and answers 503 until it is back (the runtime says so
        # once). Answering but refusing (a bad database index, a wrong password): stop.
        anyio.run(reachable, settings.redis_url)
    with shared_metrics(workers):
        uvicorn.run(
            "authward.web.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            log_level=log_level,
            log_config=log_config(log_level),
            http=http.value,
            # Bounds the memory one connection's unfinished header block may take (request
            # line and framing included, hence twice); the app then refuses more than
            # MAX_HEADER_BYTES of headers with a 413 (web/limits.py).
            h11_max_incomplete_event_size=2 * MAX_HEADER_BYTES,
            # authward reads X-Forwarded-For itself, from AUTHWARD_TRUSTED_PROXIES only.
            proxy_headers=False,
            server_header=False,
            # A worker on a busy two-core machine may take longer than uvicorn's 5 s default
            # to import and start; killing it then would loop forever.
            timeout_worker_healthcheck=60,
        )


@contextlib.contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, have them count into one directory, so that /metrics (which
    any worker may answer) gives the totals of all (prometheus-client multiprocess mode).

    Set before the workers start, as the mode requires; removed when the server stops. A
    PROMETHEUS_MULTIPROC_DIR set by the operator is used, and left in place.
    """
    from authward.metrics import MULTIPROC_DIR

    if workers == 1 or os.environ.get(MULTIPROC_DIR):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="authward-metrics-") as directory:
        os.environ[MULTIPROC_DIR] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROC_DIR]


async def _migrate(url: str) -> None:
    """Migrate once before workers start, so they never race on the schema."""
    from authward.storage.migrate import upgrade
    from authward.storage.sql import create_engine

    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _open_signing_key(settings: Settings) -> None:
    """Make (on a first start) or open the signing key, as each worker will: a key that
    does not open with this AUTHWARD_SECRET_KEY is one line here (KeyUnavailable), not a
    traceback from every worker's startup."""
    from authward.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        await runtime.tokens.ring.ensure_active()
    finally:
        await runtime.close()


def check_certificate(certfile: str, keyfile: str) -> None:
    """Raise CommandFailure, naming the option, unless the two files make a TLS identity."""
    for option, path in (("--ssl-certfile", certfile), ("--ssl-keyfile", keyfile)):
        if not Path(path).is_file():
            raise CommandFailure(f"{option} ({path}): no such file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
        raise CommandFailure(
            f"--ssl-certfile ({certfile}) / --ssl-keyfile ({keyfile}): {reason}"
        ) from None
