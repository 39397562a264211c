"""What every command shares: settings that fail in one line, and an open runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
import typer
from rich.console import Console

from authward.errors import AuthwardError
from authward.runtime import Runtime, build_runtime
from authward.settings import Settings, SettingsError, load_settings

T = TypeVar("T")
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one line, however narrow the terminal


def settings_or_exit() -> Settings:
    """Load settings; on a bad one print a single line naming the variable, exit 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        errors.print(f"[bold red]authward: invalid setting[/] {exc}", highlight=False)
        raise typer.Exit(2) from None


@asynccontextmanager
async def opened_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings)
    await runtime.open(background=False)
    try:
        yield runtime
    finally:
        await runtime.close()


def run_with_runtime(action: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run `action` against a freshly opened runtime; domain errors exit 1 in one line."""
    settings = settings_or_exit()

    async def main() -> T:
        async with opened_runtime(settings) as runtime:
            return await action(runtime)

    try:
        return anyio.run(main)
    except AuthwardError as exc:
        errors.print(f"[bold red]authward:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
