"""The one place where a failed command becomes one line and an exit status.

Every command runs inside `AuthwardGroup.invoke`: a store that cannot be reached or is
misconfigured, a file that is missing, a domain refusal, each ends as a single line that
names the setting (or the option) and its target, passwords masked, and exit status 1.
Anything else is a bug and keeps its traceback.

What a failure is told by (pydantic, the settings, the stores' errors) is imported when a
command fails, not when the group is built: `authward --help` needs none of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

import typer
from typer import _click  # the Context class TyperGroup.invoke is typed with
from typer.core import TyperGroup

from authward.cli.context import NoDatabase, errors
from authward.errors import AuthwardError, StoreUnavailable

if TYPE_CHECKING:
    from authward.settings import Settings
    from authward.storage.failures import StoreFailure

FAILED: Final = 1
INVALID_SETTING: Final = 2  # as `settings_or_exit` has always answered


class CommandFailure(Exception):
    """A command's own refusal, already one line naming what to fix (`--ssl-certfile: ...`)."""


class AuthwardGroup(TyperGroup):
    """The ``authward`` command group; it turns every expected failure into one line."""

    def invoke(self, ctx: _click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # usage errors, --help, a refused prompt: Typer says those itself
        except Exception as exc:
            from pydantic import ValidationError

            from authward.settings import SettingsError, describe

            if isinstance(exc, SettingsError | ValidationError):
                # Settings built outside `settings_or_exit` (a command's own, the docs'):
                # the same one line, the same status.
                text = str(exc) if isinstance(exc, SettingsError) else describe(exc)
                errors.print(f"[bold red]authward: invalid setting[/] {_escape(text)}")
                raise typer.Exit(INVALID_SETTING) from None
            line = explain(exc)
            if line is None:
                raise
            errors.print(f"[bold red]authward:[/] {line}", highlight=False, markup=True)
            raise typer.Exit(FAILED) from None


def explain(exc: BaseException) -> str | None:
    """The one line that says what failed and what to fix; None when it is a bug."""
    from authward.storage.failures import diagnose, masked_database_url
    from authward.tokens.jwk import KeyUnavailable

    if isinstance(exc, CommandFailure | KeyUnavailable):
        return _escape(str(exc))
    if isinstance(exc, NoDatabase):
        settings = _settings()
        target = masked_database_url(settings.database_url) if settings is not None else "?"
        return _escape(f"AUTHWARD_DATABASE_URL ({target}): {exc}")
    if isinstance(exc, AuthwardError) and not isinstance(exc, StoreUnavailable):
        return _escape(str(exc))  # a refusal (not found, taken...): its own words
    failure = diagnose(exc)
    if failure is not None:
        return _escape(_store_line(failure, _settings()))
    if isinstance(exc, StoreUnavailable):
        return _escape(str(exc))  # a store of no setting of its own ("signing key")
    if isinstance(exc, OSError) and exc.filename is not None:
        return _escape(_file_line(exc, _settings()))
    return None


def _store_line(failure: StoreFailure, settings: Settings | None) -> str:
    from authward.storage.failures import masked_database_url, masked_redis_url

    if failure.store == "redis":
        url = settings.redis_url if settings is not None else None
        target = masked_redis_url(url) if url else "?"
        return f"AUTHWARD_REDIS_URL ({target}): {_scrubbed(failure.reason, url)}"
    url = settings.database_url if settings is not None else None
    target = masked_database_url(url) if url else "?"
    return f"AUTHWARD_DATABASE_URL ({target}): {_scrubbed(failure.reason, url)}"


def _file_line(exc: OSError, settings: Settings | None) -> str:
    what = exc.strerror or str(exc)
    path = Path(str(exc.filename))
    if settings is None:
        return f"{path}: {what}"
    key_file = Path(settings.key_file)
    # The key file is written aside first (masterkey.py): that name means this setting too.
    if path == key_file or path.parent == key_file.parent:
        if not key_file.parent.is_dir():
            what = f"the folder {key_file.parent} does not exist"
        return f"AUTHWARD_KEY_FILE ({key_file}): {what}"
    return f"{path}: {what}"


def _scrubbed(reason: str, url: str | None) -> str:
    """`reason` with the URL's password, should a driver ever repeat it, masked."""
    password = _password(url)
    return reason.replace(password, "***") if password else reason


def _password(url: str | None) -> str | None:
    try:
        return unquote(urlsplit(url).password or "") or None if url else None
    except ValueError:
        return None


def _settings() -> Settings | None:
    from authward.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError:
        return None


def _escape(line: str) -> str:
    return line.replace("[", r"\[")  # a reason is text, never rich markup
