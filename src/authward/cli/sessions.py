"""``authward sessions``: see and end a user's sessions and token families."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from authward.accounts.models import User
from authward.cli.context import console, run_with_runtime
from authward.errors import NotFound
from authward.runtime import Runtime

app = typer.Typer(help="Sessions and token families.", no_args_is_help=True)


async def _user(runtime: Runtime, email_or_id: str) -> User:
    user = await runtime.accounts.find(email_or_id)
    if user is None:
        raise NotFound
    return user


@app.command("list")
def list_sessions(email_or_id: str) -> None:
    """List a user's live sessions and token families."""

    async def action(runtime: Runtime) -> list[tuple[str, str, str, str, str]]:
        user = await _user(runtime, email_or_id)
        rows = [
            (
                "session",
                s.handle,
                f"{s.created_at:%Y-%m-%d %H:%M}",
                s.device.ip,
                s.device.user_agent,
            )
            for s in await runtime.sessions.list_live(user.id)
        ]
        rows += [
            ("jwt", f.id, f"{f.created_at:%Y-%m-%d %H:%M}", f.device.ip, f.device.user_agent)
            for f in await runtime.tokens.list_families(user.id)
        ]
        return rows

    table = Table("kind", "id", "created", "ip", "user agent")
    for row in run_with_runtime(action):
        table.add_row(*row)
    console.print(table)


# A handle may start with "-" (URL-safe base64): kept as the argument it is, not refused
# as an unknown option, so an id copied from `sessions list` always works.
@app.command("revoke", context_settings={"ignore_unknown_options": True})
def revoke(
    email_or_id: str,
    handle: Annotated[str | None, typer.Argument(help="One session or family id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every session and family.")] = False,
) -> None:
    """End one of a user's sessions or token families, or all of them with --all."""
    if (handle is None) == (not all_):
        raise typer.BadParameter("give a session id or --all, not both")

    async def action(runtime: Runtime) -> None:
        user = await _user(runtime, email_or_id)
        if handle is None:
            await runtime.lifecycle.sign_out_everywhere(user.id)
            return
        await runtime.lifecycle.end_by_handle(user.id, handle)

    run_with_runtime(action)
    console.print("revoked")
