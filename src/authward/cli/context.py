"""What every command shares: settings that fail in one line, and an open runtime.

Failures are not caught here: they reach `authward.cli.failures`, the one place that
turns them into a line naming the setting and its target.

Every command module imports this one, and `authward --help` imports every command
module: so the settings, SQLAlchemy and the runtime are imported where a command uses
them, not here (tests/cli/test_light_imports.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import anyio
import typer
from rich.console import Console

if TYPE_CHECKING:
    from authward.runtime import Runtime
    from authward.settings import Settings

T = TypeVar("T")
console = Console(soft_wrap=True)  # a message never breaks an id it names
errors = Console(stderr=True, soft_wrap=True)  # one line, however narrow the terminal


class NoDatabase(Exception):
    """The SQLite path of AUTHWARD_DATABASE_URL cannot be used as it is."""


def settings_or_exit() -> Settings:
    """Load settings; on a bad one print a single line naming the variable, exit 2."""
    from authward.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        errors.print(f"[bold red]authward: invalid setting[/] {exc}", highlight=False)
        raise typer.Exit(2) from None


@asynccontextmanager
async def opened_runtime(settings: Settings, *, read_only: bool = False) -> AsyncIterator[Runtime]:
    """A runtime for one command. Read-only: nothing is opened (no migration, no key made,
    no revocation read), so a listing writes nothing anywhere."""
    from authward.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        if not read_only:
            await runtime.open(background=False)
        yield runtime
    finally:
        await runtime.close()


def run_with_runtime(action: Callable[[Runtime], Awaitable[T]], *, read_only: bool = False) -> T:
    """Run `action` against a freshly opened runtime.

    `read_only`: a SQLite file that is not there is refused (NoDatabase) before anything
    could create it; a mistyped path must not leave an empty database behind.
    A SQLite file in a missing folder is refused either way.
    """
    settings = settings_or_exit()
    check_database_path(settings.database_url, must_exist=read_only)

    async def main() -> T:
        async with opened_runtime(settings, read_only=read_only) as runtime:
            return await action(runtime)

    return anyio.run(main)


def check_database_path(url: str, *, must_exist: bool = False) -> None:
    """Raise NoDatabase when `url` is unreadable, or names a SQLite file in a folder that
    does not exist or, with `must_exist`, a file that does not exist.

    Checked before any engine is made: SQLite would say only "unable to open database
    file" (and aiosqlite's thread may outlive the loop to print a traceback of its own).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # Not SQLAlchemy's words: they would repeat the URL, password and all.
        raise NoDatabase("not a URL SQLAlchemy can read") from None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return
    path = Path(str(database))
    if not path.parent.is_dir():
        raise NoDatabase(f"the folder {path.parent} does not exist")
    if must_exist and not path.is_file():
        raise NoDatabase(
            f"no database at {path}; a read-only command creates none "
            "(run `authward db upgrade` to create it)"
        )
