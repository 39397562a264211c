"""``authward mail``: the outbox as an operator sees it, and sending one mail again."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from authward.cli.context import console, run_with_runtime
from authward.errors import NotFound
from authward.mail.message import STATES, Entry, State
from authward.runtime import Runtime

app = typer.Typer(help="The mail outbox.", no_args_is_help=True)

# Wide enough for every column whole: an id or a date cut at 80 columns cannot be copied
# (the table takes the width it needs, no more).
_WIDTH = 1000


@app.command("list")
def list_mail(
    state: Annotated[
        str | None, typer.Option(help=f"Only mails in this state: {', '.join(STATES)}.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """List the outbox, oldest first: recipient, template, state, attempts, times.

    Never a mail's body: until it is sent it holds a live link.
    """
    if state is not None and state not in STATES:
        raise typer.BadParameter(f"one of {', '.join(STATES)}", param_hint="--state")

    async def action(runtime: Runtime) -> list[Entry]:
        return await runtime.mail_queue.entries(_state(state))

    entries = run_with_runtime(action)
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(_fields(entry)))
        return
    table = Table("id", "to", "template", "state", "attempts", "queued (UTC)", "next / sent (UTC)")
    table.add_column("last error")
    for e in entries:
        when = e.sent_at if e.state == "sent" else e.next_attempt_at
        table.add_row(
            e.id,
            e.to,
            e.template,
            e.state,
            str(e.attempts),
            _time(e.created_at),
            _time(when) if e.state != "failed" else "",
            e.last_error or "",
        )
    # Its own console: the shared one is as wide as the terminal, and rich would cut the
    # values to fit. Lines wider than the terminal wrap there, whole.
    Console(width=_WIDTH).print(table)


# An id may start with "-" (URL-safe base64): kept as the argument it is, not refused as an
# unknown option, so an id copied from `mail list` always works.
@app.command("retry", context_settings={"ignore_unknown_options": True})
def retry(mail_id: str) -> None:
    """Send a queued or failed mail now (a sent mail's body is gone: it cannot be resent)."""

    async def action(runtime: Runtime) -> None:
        if not await runtime.mail_queue.retry(mail_id, runtime.clock.now()):
            raise NotFound

    run_with_runtime(action)
    console.print("queued; a running authward sends it within seconds")


def _state(value: str | None) -> State | None:
    return value if value in STATES else None


def _time(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _fields(entry: Entry) -> dict[str, object]:
    return {
        "id": entry.id,
        "to": entry.to,
        "template": entry.template,
        "state": entry.state,
        "attempts": entry.attempts,
        "created_at": entry.created_at.isoformat(),
        "next_attempt_at": entry.next_attempt_at.isoformat(),
        "sent_at": None if entry.sent_at is None else entry.sent_at.isoformat(),
        "last_error": entry.last_error,
    }
