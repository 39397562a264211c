"""``authward keys``: signing keys."""

from __future__ import annotations

import typer
from rich.table import Table

from authward.cli.context import console, run_with_runtime
from authward.runtime import Runtime
from authward.tokens.keys import KeyInfo

app = typer.Typer(help="Signing keys.", no_args_is_help=True)


@app.command("rotate")
def rotate() -> None:
    """Make a new key sign from now on; the old one keeps verifying for an access TTL."""

    async def action(runtime: Runtime) -> KeyInfo:
        return await runtime.tokens.rotate_keys()

    key = run_with_runtime(action)
    console.print(f"new signing key {key.kid} ({key.alg}); running nodes pick it up within 10 s")


@app.command("list")
def list_keys() -> None:
    """Print each key's kid, algorithm, state and dates."""

    async def action(runtime: Runtime) -> list[KeyInfo]:
        return await runtime.tokens.list_keys()

    table = Table("kid", "alg", "state", "created", "retired")
    for key in run_with_runtime(action):
        retired = f"{key.retired_at:%Y-%m-%d %H:%M:%S}" if key.retired_at else ""
        table.add_row(key.kid, key.alg, key.state, f"{key.created_at:%Y-%m-%d %H:%M:%S}", retired)
    console.print(table)
