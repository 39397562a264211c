"""``authward audit``: the newest security events, from the audit log."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from authward.audit import AuditRecord, SqlAuditLog
from authward.cli.context import console, run_with_runtime
from authward.errors import NotFound
from authward.events import EVENT_KINDS
from authward.runtime import Runtime


def audit(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many events.")] = 50,
    user: Annotated[str | None, typer.Option(help="Only this user's events (email or id).")] = None,
    event: Annotated[
        str | None, typer.Option(help=f"Only this kind: {', '.join(EVENT_KINDS)}.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Print the newest security events (never a secret: ids, handles, addresses)."""
    if event is not None and event not in EVENT_KINDS:
        raise typer.BadParameter(f"one of {', '.join(EVENT_KINDS)}", param_hint="--event")

    async def action(runtime: Runtime) -> list[AuditRecord]:
        user_id = None
        if user is not None:
            found = await runtime.accounts.find(user)
            if found is None:
                raise NotFound
            user_id = found.id
        return await SqlAuditLog(runtime.engine).list(limit=limit, user_id=user_id, event=event)

    records = run_with_runtime(action)
    if as_json:
        for r in records:
            typer.echo(json.dumps({**_fields(r), "at": r.at.isoformat()}))
        return
    table = Table("time (UTC)", "event", "user", "via", "handle", "ip", "user agent")
    for r in records:
        table.add_row(
            f"{r.at:%Y-%m-%d %H:%M:%S}",
            r.event,
            r.user_id or "",
            r.via or "",
            r.handle or "",
            r.ip,
            r.user_agent[:60],
        )
    console.print(table)


def _fields(record: AuditRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "event": record.event,
        "user_id": record.user_id,
        "via": record.via,
        "handle": record.handle,
        "ip": record.ip,
        "user_agent": record.user_agent,
    }
