"""``authward users``: create, list, disable accounts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from authward.accounts.models import User
from authward.cli.context import console, run_with_runtime
from authward.errors import NotFound
from authward.runtime import Runtime

app = typer.Typer(help="Accounts.", no_args_is_help=True)


@app.command("create")
def create(
    email: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an account (the password is prompted for, never taken as an argument)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def action(runtime: Runtime) -> User:
        return await runtime.accounts.register(email, password)

    user = run_with_runtime(action)
    console.print(f"created {user.email} ({user.id})", highlight=False)


@app.command("list")
def list_users(
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List accounts, oldest first."""

    async def action(runtime: Runtime) -> list[User]:
        return await runtime.accounts.users.list(limit=limit, offset=offset)

    table = Table("id", "email", "created", "state")
    for user in run_with_runtime(action):
        state = "[red]disabled[/]" if user.disabled else "active"
        table.add_row(user.id, user.email, f"{user.created_at:%Y-%m-%d %H:%M}", state)
    console.print(table)


@app.command("disable")
def disable(email_or_id: str) -> None:
    """Disable an account: its sessions and tokens stop working at once."""

    async def action(runtime: Runtime) -> User:
        user = await runtime.accounts.find(email_or_id)
        if user is None:
            raise NotFound
        await runtime.lifecycle.disable(user.id)
        return user

    user = run_with_runtime(action)
    console.print(f"disabled {user.email}; its sessions and tokens are revoked", highlight=False)
