"""``authward users``: create, list, disable, enable and delete accounts; mail a reset link;
turn an account's second factors off."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from authward.cli.context import console, run_with_runtime
from authward.cli.listing import AsJson, show
from authward.errors import NotFound

if TYPE_CHECKING:
    from authward.accounts.models import User
    from authward.runtime import Runtime

app = typer.Typer(help="Accounts.", no_args_is_help=True)

EmailOrId = Annotated[str, typer.Argument(metavar="EMAIL|ID", help="The account's email or id.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
USER_COLUMNS = {"id": "id", "email": "email", "created_at": "created (UTC)", "state": "state"}


async def find_user(runtime: Runtime, email_or_id: str) -> User:
    """The account by email or id; NotFound when there is none."""
    user = await runtime.accounts.find(email_or_id)
    if user is None:
        raise NotFound
    return user


def act_on(email_or_id: str, act: Callable[[Runtime, User], Awaitable[None]]) -> User:
    """Find the account, `act` on it with a runtime of its own, and return it."""

    async def action(runtime: Runtime) -> User:
        user = await find_user(runtime, email_or_id)
        await act(runtime, user)
        return user

    return run_with_runtime(action)


def say(line: str) -> None:
    """Print `line` as it is: an email is not markup."""
    console.print(line, highlight=False, markup=False)


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
    say(f"created {user.email} ({user.id})")


@app.command("list")
def list_users(
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: AsJson = False,
) -> None:
    """List accounts, oldest first."""

    async def action(runtime: Runtime) -> list[User]:
        return await runtime.accounts.users.list(limit=limit, offset=offset)

    records = [
        {
            "id": user.id,
            "email": user.email,
            "created_at": user.created_at,
            "state": "disabled" if user.disabled else "active",
        }
        for user in run_with_runtime(action, read_only=True)
    ]
    show(records, USER_COLUMNS, as_json=as_json)


@app.command("disable")
def disable(email_or_id: EmailOrId) -> None:
    """Disable an account: its sessions and tokens stop working at once."""
    user = act_on(email_or_id, lambda runtime, user: runtime.lifecycle.disable(user.id))
    say(f"disabled {user.email}; its sessions and tokens are revoked")


@app.command("enable")
def enable(email_or_id: EmailOrId) -> None:
    """Let a disabled account sign in again (what disabling ended stays ended)."""
    user = act_on(email_or_id, lambda runtime, user: runtime.lifecycle.enable(user.id))
    say(f"enabled {user.email}")


@app.command("delete")
def delete(email_or_id: EmailOrId, yes: Yes = False) -> None:
    """Delete an account with its sessions and token families, revoked on every node."""
    if not yes:
        typer.confirm(
            f"Delete the account {email_or_id} and end its sessions and tokens?", abort=True
        )
    user = act_on(email_or_id, lambda runtime, user: runtime.lifecycle.delete(user.id))
    say(f"deleted {user.email} ({user.id}); its sessions and tokens are revoked")


@app.command("reset-password")
def reset_password(email_or_id: EmailOrId) -> None:
    """Mail the user a password reset link (nobody chooses another's password)."""
    user = act_on(email_or_id, lambda runtime, user: runtime.flows.reset.send_for_operator(user))
    say(f"mailed a password reset link to {user.email}; a running authward sends it")


@app.command("mfa-reset")
def mfa_reset(email_or_id: EmailOrId, yes: Yes = False) -> None:
    """Turn off the account's second factors (TOTP, recovery codes) and end its sessions
    and tokens on every node; a notice mail goes to the account."""
    if not yes:
        typer.confirm(
            f"Turn off every second factor of {email_or_id} and end its sessions and tokens?",
            abort=True,
        )
    user = act_on(email_or_id, lambda runtime, user: runtime.lifecycle.reset_factors(user.id))
    say(f"turned off the second factors of {user.email}; its sessions and tokens are revoked")
