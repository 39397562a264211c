"""``authward openapi``: the OpenAPI document, or the HTTP API reference made from it."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def openapi(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print docs/http-api.md instead.")
    ] = False,
) -> None:
    """Print the OpenAPI document of the HTTP API (JSON), or its Markdown reference."""
    # Here, not at the top: `authward --help` imports this module (the whole web app).
    from authward.web.apidoc import http_api_markdown, service_openapi

    document = service_openapi()
    if markdown:
        typer.echo(http_api_markdown(document), nl=False)
        return
    typer.echo(json.dumps(document, indent=2))
