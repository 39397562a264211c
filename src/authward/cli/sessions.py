"""``authward sessions``: see and end a user's sessions and token families."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from authward.cli.context import console, run_with_runtime
from authward.cli.listing import AsJson, Record, show
from authward.cli.users import EmailOrId, find_user

if TYPE_CHECKING:
    from authward.runtime import Runtime
    from authward.sessions.models import Session
    from authward.tokens.models import Family

app = typer.Typer(help="Sessions and token families.", no_args_is_help=True)

COLUMNS = {
    "kind": "kind",
    "id": "id",
    "device": "device",
    "ip": "ip",
    "created_at": "created (UTC)",
    "last_seen_at": "last seen (UTC)",
}


@app.command("list")
def list_sessions(email_or_id: EmailOrId, as_json: AsJson = False) -> None:
    """List a user's live sessions and token families (the device named as on the pages)."""
    # Here, not at the top: `authward --help` imports this module and needs none of them.
    from authward.devices import describe_all

    async def action(runtime: Runtime) -> list[Record]:
        user = await find_user(runtime, email_or_id)
        sessions = await runtime.sessions.list_live(user.id)
        families = await runtime.tokens.list_families(user.id)
        held: list[tuple[str, str, Session | Family]] = [("session", s.handle, s) for s in sessions]
        held += [("jwt", f.id, f) for f in families]
        names = await describe_all(item.device.user_agent for _, _, item in held)
        return [
            {
                "kind": kind,
                "id": handle,
                "device": names[item.device.user_agent],
                "ip": item.device.ip,
                "user_agent": item.device.user_agent,
                "created_at": item.created_at,
                "last_seen_at": item.last_seen_at,
            }
            for kind, handle, item in held
        ]

    show(run_with_runtime(action, read_only=True), COLUMNS, as_json=as_json)


# A handle may start with "-" (URL-safe base64): kept as the argument it is, not refused
# as an unknown option, so an id copied from `sessions list` always works.
@app.command("revoke", context_settings={"ignore_unknown_options": True})
def revoke(
    email_or_id: EmailOrId,
    handle: Annotated[str | None, typer.Argument(help="One session or family id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every session and family.")] = False,
) -> None:
    """End one of a user's sessions or token families, or all of them with --all."""
    if handle is None and not all_:
        raise typer.BadParameter("give a session or family id (from `sessions list`), or --all")
    if handle is not None and all_:
        raise typer.BadParameter("give a session or family id, or --all, not both")

    async def action(runtime: Runtime) -> None:
        user = await find_user(runtime, email_or_id)
        if handle is None:
            await runtime.lifecycle.sign_out_everywhere(user.id)
            return
        await runtime.lifecycle.end_by_handle(user.id, handle)

    run_with_runtime(action)
    console.print("revoked")
