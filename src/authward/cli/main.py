"""The ``authward`` command."""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from authward.cli import (
    audit,
    bench_command,
    config,
    db,
    keys,
    mail,
    openapi,
    serve,
    sessions,
    sweep,
    users,
)
from authward.cli.failures import AuthwardGroup

app = typer.Typer(
    name="authward",
    cls=AuthwardGroup,
    help="Sessions and JWTs done right: the authward service and its tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Inherited by every subcommand's context: -h works wherever --help does.
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"authward {version('authward')}")
        raise typer.Exit


@app.callback()
def main_options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Sessions and JWTs done right: the authward service and its tools."""


app.command("serve")(serve.serve)
app.command("sweep")(sweep.sweep)
app.command("bench")(bench_command.bench)
app.command("config")(config.config)
app.command("audit")(audit.audit)
app.command("openapi")(openapi.openapi)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(sessions.app, name="sessions")
app.add_typer(keys.app, name="keys")
app.add_typer(mail.app, name="mail")


def main() -> None:
    app()
