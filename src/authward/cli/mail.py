"""``authward mail``: the outbox as an operator sees it, and sending one mail again."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from authward.cli.context import console, run_with_runtime
from authward.cli.listing import AsJson, show
from authward.errors import NotFound
from authward.mail.message import STATES, Entry, State

if TYPE_CHECKING:
    from authward.runtime import Runtime

app = typer.Typer(help="The mail outbox.", no_args_is_help=True)

MAIL_COLUMNS = {
    "id": "id",
    "to": "to",
    "template": "template",
    "state": "state",
    "attempts": "attempts",
    "created_at": "queued (UTC)",
    "next": "next / sent (UTC)",
    "last_error": "last error",
}


@app.command("list")
def list_mail(
    state: Annotated[
        str | None, typer.Option(help=f"Only mails in this state: {', '.join(STATES)}.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """List the outbox, oldest first: recipient, template, state, attempts, times.

    Never a mail's body: until it is sent it holds a live link. Read-only: it writes
    nothing and creates no database.
    """
    if state is not None and state not in STATES:
        raise typer.BadParameter(f"one of {', '.join(STATES)}", param_hint="--state")

    async def action(runtime: Runtime) -> list[Entry]:
        return await runtime.mail_queue.entries(_state(state))

    entries = run_with_runtime(action, read_only=True)
    if as_json:
        show([_fields(entry) for entry in entries], MAIL_COLUMNS, as_json=True)
        return
    rows = [{**_fields(entry), "next": _next(entry)} for entry in entries]
    # Every column whole, the SMTP server's last words too (at most 300 characters).
    show(rows, MAIL_COLUMNS, as_json=False)


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


def _next(entry: Entry) -> datetime | None:
    """When the mail is next tried, or when it was sent; nothing for a failed one."""
    if entry.state == "sent":
        return entry.sent_at
    return None if entry.state == "failed" else entry.next_attempt_at


def _fields(entry: Entry) -> dict[str, object]:
    return {
        "id": entry.id,
        "to": entry.to,
        "template": entry.template,
        "state": entry.state,
        "attempts": entry.attempts,
        "created_at": entry.created_at,
        "next_attempt_at": entry.next_attempt_at,
        "sent_at": entry.sent_at,
        "last_error": entry.last_error,
    }
