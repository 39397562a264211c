"""``authward audit``: the newest security events, from the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from authward.cli.context import run_with_runtime
from authward.cli.listing import AsJson, Record, show
from authward.crypto import is_user_id_shaped
from authward.errors import NotFound
from authward.events import EVENT_KINDS

if TYPE_CHECKING:
    from authward.audit import AuditRecord
    from authward.runtime import Runtime


def audit(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many events.")] = 50,
    user: Annotated[
        str | None,
        typer.Option(help="Only this user's events (email or id; a deleted account's id too)."),
    ] = None,
    event: Annotated[
        str | None, typer.Option(help=f"Only this kind: {', '.join(EVENT_KINDS)}.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Print the newest security events (never a secret: ids, handles, addresses)."""
    if event is not None and event not in EVENT_KINDS:
        raise typer.BadParameter(f"one of {', '.join(EVENT_KINDS)}", param_hint="--event")
    # Here, not at the top: `authward --help` imports this module and needs none of them.
    from authward.audit import SqlAuditLog
    from authward.devices import describe_all

    async def action(runtime: Runtime) -> list[Record]:
        user_id = None
        if user is not None:
            found = await runtime.accounts.find(user)
            # A deleted account's history stays in the log, found by its id.
            if found is None and not is_user_id_shaped(user):
                raise NotFound
            user_id = found.id if found is not None else user
        records = await SqlAuditLog(runtime.engine).list(limit=limit, user_id=user_id, event=event)
        devices = await describe_all(r.user_agent for r in records if r.user_agent)
        return [_fields(r, devices.get(r.user_agent, "")) for r in records]

    show(run_with_runtime(action, read_only=True), COLUMNS, as_json=as_json)


COLUMNS = {
    "at": "time (UTC)",
    "event": "event",
    "user_id": "user",
    "via": "via",
    "handle": "handle",
    "ip": "ip",
    "device": "device",
}


def _fields(record: AuditRecord, device: str) -> dict[str, object]:
    return {
        "id": record.id,
        "at": record.at,
        "event": record.event,
        "user_id": record.user_id,
        "via": record.via,
        "handle": record.handle,
        "ip": record.ip,
        "user_agent": record.user_agent,
        "device": device,  # as the pages name it (ua-parser); the raw agent stays above
    }
