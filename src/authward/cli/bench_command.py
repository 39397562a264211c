"""``authward bench``: the command and its options; the measuring is `authward.cli.bench`.

Apart, because `authward --help` imports every command: this module is Typer alone, and
the measuring (FastAPI, the web app, the runtime, PyJWT) is imported when it runs.
"""

from __future__ import annotations

from typing import Annotated

import typer


def bench(
    quick: Annotated[
        bool, typer.Option("--quick", help="A few seconds in all: a smoke test.")
    ] = False,
    http: Annotated[bool, typer.Option(help="Also measure requests per second over HTTP.")] = True,
    database_url: Annotated[
        str | None, typer.Option(help="Measure against this database (default: a scratch SQLite).")
    ] = None,
) -> None:
    """Measure what authentication costs here: tokens, sessions, logins, requests."""
    from authward.cli import bench as measure

    measure.bench(quick=quick, http=http, database_url=database_url)
