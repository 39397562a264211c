"""``authward sweep``: remove expired state now."""

from __future__ import annotations

from authward.cli.context import console, run_with_runtime
from authward.runtime import Runtime


def sweep() -> None:
    """Remove expired sessions, token families and old login failures."""

    async def action(runtime: Runtime) -> dict[str, int]:
        return await runtime.sweep()

    removed = run_with_runtime(action)
    for kind, count in removed.items():
        console.print(f"{kind}: {count} removed")
