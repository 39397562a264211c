"""``authward sweep``: remove expired state now."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Final

import typer

from authward.cli.context import console, run_with_runtime

if TYPE_CHECKING:
    from authward.runtime import Runtime

# Run from cron beside a busy server, a sweep should take the CPU only when requests do
# not need it. Measured on two cores with a million expired sessions (benchmarks/scale.py):
# at 10 the sweep of SQLite and Redis raised request p99 by under 20%, at 0 by 40-50%.
SWEEP_NICENESS: Final = 10


def sweep(
    nice: Annotated[
        int,
        typer.Option(
            min=0, max=19, help="Lower this process's CPU priority by this much (0: leave it)."
        ),
    ] = SWEEP_NICENESS,
) -> None:
    """Remove expired sessions, token families and old login failures, at low priority."""
    if nice and hasattr(os, "nice"):
        os.nice(nice)

    async def action(runtime: Runtime) -> dict[str, int]:
        return await runtime.sweep()

    removed = run_with_runtime(action)
    for kind, count in removed.items():
        console.print(f"{kind}: {count} removed")
