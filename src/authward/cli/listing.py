"""How every listing prints: whole values, as a table or as JSON.

An operator copies ids, kids, handles and dates out of a listing, so no value is ever
cut or folded. A table is laid out at its natural width even when the terminal is
narrower: the terminal wraps the long lines, and each value stays one unbroken run of
characters (rich would otherwise shorten it with "…" or break it over lines). `--json`
prints the same records, every field whole, as one JSON array of objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from authward.cli.context import console

Record = Mapping[str, object]

JSON_OPTION: Final = typer.Option("--json", help="Print a JSON array of objects, values whole.")
AsJson = Annotated[bool, JSON_OPTION]


def show(
    records: Sequence[Record],
    columns: Mapping[str, str],
    *,
    as_json: bool,
    prose: str | None = None,
) -> None:
    """Print `records`: as JSON (every field), or as a table of `columns` (field → title).

    Only the `prose` column (a description, nothing one copies) may wrap between words.
    """
    if as_json:
        typer.echo(json.dumps([_plain(record) for record in records], indent=2))
        return
    table = Table(*columns.values())
    for field, column in zip(columns, table.columns, strict=True):
        if field != prose:
            column.no_wrap = True
            column.overflow = "ignore"
    for record in records:
        table.add_row(*(Text(_cell(record.get(field))) for field in columns))
    measured = Console(width=100_000).measure(table)
    needed = measured.minimum if prose is not None else measured.maximum
    wide = Console(
        width=max(needed, console.width),
        force_terminal=console.is_terminal,
        no_color=console.no_color,
        highlight=False,
    )
    wide.print(table, crop=False)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _plain(record: Record) -> dict[str, object]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in record.items()
    }
