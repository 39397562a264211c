"""``authward config``: the configuration reference, generated from the Settings class."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from authward.cli.listing import AsJson, show

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

HEADER = """# Configuration

Every setting is an environment variable, read once at start and validated: a bad value
or a bad combination stops `authward serve` with one line naming the variable. This page
is generated from the `Settings` class by `authward config --markdown`.

| variable | meaning | default |
|---|---|---|
"""


def _default(field: FieldInfo) -> str:
    value = field.get_default()
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) or "unset"
    return str(value)


def reference_rows() -> list[tuple[str, str, str]]:
    # Here, not at the top: `authward --help` imports this module (pydantic).
    from authward.settings import ENV_PREFIX, Settings

    return [
        (ENV_PREFIX + name.upper(), field.description or "", _default(field))
        for name, field in Settings.model_fields.items()
    ]


def reference_markdown() -> str:
    rows = "".join(
        f"| `{var}` | {text} | `{default}` |\n" for var, text, default in reference_rows()
    )
    return HEADER + rows


def config(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown.")] = False,
    as_json: AsJson = False,
) -> None:
    """Print every AUTHWARD_* setting with its meaning and default."""
    if markdown:
        typer.echo(reference_markdown(), nl=False)
        return
    records = [
        {"variable": variable, "meaning": meaning, "default": default}
        for variable, meaning, default in reference_rows()
    ]
    columns = {"variable": "variable", "default": "default", "meaning": "meaning"}
    show(records, columns, as_json=as_json, prose="meaning")
