"""The ``authward`` command."""

from __future__ import annotations

import typer

from authward.cli import (
    audit,
    bench,
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

app = typer.Typer(
    name="authward",
    help="Sessions and JWTs done right: the authward service and its tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("sweep")(sweep.sweep)
app.command("bench")(bench.bench)
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
