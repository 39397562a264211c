"""``authward keys``: signing keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from authward.cli.context import console, run_with_runtime
from authward.cli.listing import AsJson, show

if TYPE_CHECKING:
    from authward.runtime import Runtime
    from authward.tokens.keys import KeyInfo

app = typer.Typer(help="Signing keys.", no_args_is_help=True)

COLUMNS = {
    "kid": "kid",
    "alg": "alg",
    "state": "state",
    "created_at": "created (UTC)",
    "retired_at": "retired (UTC)",
    "verifies_until": "verifies until (UTC)",
}


@app.command("rotate")
def rotate() -> None:
    """Make a new key sign from now on; the old one keeps verifying for an access TTL."""

    async def action(runtime: Runtime) -> KeyInfo:
        return await runtime.tokens.rotate_keys()

    key = run_with_runtime(action)
    console.print(
        f"new signing key {key.kid} ({key.alg}); running nodes pick it up within 10 s",
        highlight=False,
        markup=False,
    )


@app.command("list")
def list_keys(as_json: AsJson = False) -> None:
    """Print each key's kid, algorithm, state and dates (no key material)."""

    async def action(runtime: Runtime) -> list[KeyInfo]:
        return await runtime.tokens.list_keys()

    records = [
        {
            "kid": key.kid,
            "alg": key.alg,
            "state": key.state,
            "created_at": key.created_at,
            "retired_at": key.retired_at,
            "verifies_until": key.verifies_until,
        }
        for key in run_with_runtime(action, read_only=True)
    ]
    show(records, COLUMNS, as_json=as_json)
