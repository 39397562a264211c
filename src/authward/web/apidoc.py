"""The HTTP API reference (docs/http-api.md), generated from the OpenAPI document.

``authward openapi`` prints the document; ``authward openapi --markdown`` this page. A
test keeps the committed page equal to what the code generates.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from authward.runtime import build_runtime
from authward.settings import Settings

HEADER = """# HTTP API

The JSON API of authward, as `authward serve` offers it and as `Authward.router` adds it
to an app (that one without `/healthz` and `/metrics`, and only the routes of the chosen
strategies). This page is generated from the OpenAPI document (`GET /openapi.json`) by
`authward openapi --markdown`; the contract behind it is [contract.md](contract.md).

Errors are JSON `{"detail": "...", "code": "..."}`: `detail` for a person (a 422 may
hold FastAPI's list of field errors instead), `code` a stable snake_case string for a
program, from the error's class (`invalid_credentials`, `invalid_token`,
`csrf_rejected`, `email_taken`, `too_many_attempts`, `store_unavailable`,
`payload_too_large`, `invalid_input`...; an HTTP error of no authward class, such as a
404 for an unknown path or a 405, is named after its status: `not_found`,
`method_not_allowed`). A 401 carries `WWW-Authenticate: Bearer` where a bearer token was
used or expected; a 429 and a 503 carry `Retry-After`.
"""


def service_openapi() -> dict[str, Any]:
    """The OpenAPI document of `authward serve` (built without touching any store)."""
    from authward.web.app import create_app  # the app imports this package's siblings

    # The document depends on no setting that matters here; nothing is opened or stored.
    settings = Settings(
        database_url="sqlite:///:memory:",
        secret_key=SecretStr(secrets.token_urlsafe(32)),
        redis_url=None,
    )
    document: dict[str, Any] = create_app(build_runtime(settings), open_runtime=False).openapi()
    return document


def http_api_markdown(document: Mapping[str, Any]) -> str:
    """Render the paths and schemas of an OpenAPI document as Markdown."""
    sections: dict[str, list[str]] = {}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            sections.setdefault(tag, []).append(_operation(method, path, operation))
    lines = [HEADER]
    for tag, operations in sections.items():
        lines.append(f"## {tag[:1].upper()}{tag[1:]}\n")
        lines.extend(operations)
    schemes = document.get("components", {}).get("securitySchemes", {})
    if schemes:
        lines.append("## Credentials\n")
        lines.append("| scheme | kind | description |\n|---|---|---|")
        lines.extend(
            f"| `{name}` | {_scheme_kind(scheme)} | {scheme.get('description', '')} |"
            for name, scheme in schemes.items()
        )
        lines.append("")
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        lines.append("## Schemas\n")
        lines.extend(_schema(name, schema) for name, schema in schemas.items())
    return "\n".join(lines).rstrip("\n") + "\n"


def _operation(method: str, path: str, operation: Mapping[str, Any]) -> str:
    out = [f"### `{method.upper()} {path}`\n"]
    if summary := operation.get("description") or operation.get("summary"):
        out.append(f"{summary.strip()}\n")
    if security := operation.get("security"):
        ways = [" and ".join(f"`{name}`" for name in way) or "none" for way in security]
        out.append(f"Credentials: {' or '.join(ways)}.\n")
    parameters = operation.get("parameters", [])
    if parameters:
        names = ", ".join(f"`{p['name']}` ({p.get('in', '')})" for p in parameters)
        out.append(f"Parameters: {names}.\n")
    body: Mapping[str, Any] = operation.get("requestBody", {}).get("content", {})
    if body:
        kinds = ", ".join(f"`{kind}` {_type(spec.get('schema'))}" for kind, spec in body.items())
        out.append(f"Request body: {kinds}.\n")
    # Statuses with the same body share a row: every route lists authward's error answers.
    rows: dict[str, list[str]] = {}
    for status, response in sorted(operation.get("responses", {}).items()):
        content: Mapping[str, Any] = response.get("content", {})
        schema = next(iter(content.values())).get("schema") if content else None
        meaning = response.get("description", "") if status < "400" else "error"
        rows.setdefault(f"{meaning} | {_type(schema)}", []).append(status)
    out.append("| status | meaning | body |\n|---|---|---|")
    out.extend(f"| {', '.join(statuses)} | {row} |" for row, statuses in rows.items())
    return "\n".join(out) + "\n"


def _scheme_kind(scheme: Mapping[str, Any]) -> str:
    if scheme.get("type") == "http":
        return f"HTTP {scheme.get('scheme', '')}"
    return f"{scheme.get('type', '')} in {scheme.get('in', '')} `{scheme.get('name', '')}`"


def _schema(name: str, schema: Mapping[str, Any]) -> str:
    out = [f"### `{name}`\n"]
    if description := schema.get("description"):
        out.append(f"{description.strip()}\n")
    properties = schema.get("properties", {})
    if properties:
        required = set(schema.get("required", []))
        out.append("| field | type | required | description |\n|---|---|---|---|")
        for field, spec in properties.items():
            yes = "yes" if field in required else "no"
            out.append(f"| `{field}` | {_type(spec)} | {yes} | {spec.get('description', '')} |")
    return "\n".join(out) + "\n"


def _type(schema: Mapping[str, Any] | None) -> str:
    """A short name for a schema: a model's name, ``array of X``, ``a | b``, an enum."""
    if not schema:
        return ""
    if ref := schema.get("$ref"):
        return f"`{str(ref).rsplit('/', 1)[-1]}`"
    if "enum" in schema:
        return " \\| ".join(f'`"{value}"`' for value in schema["enum"])
    if "const" in schema:
        return f'`"{schema["const"]}"`'
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " \\| ".join(_type(option) for option in schema[combinator])
    kind = schema.get("type", "object")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and "properties" in schema:
        return "object {" + ", ".join(f"`{name}`" for name in schema["properties"]) + "}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        return f"map of {_type(schema['additionalProperties'])}"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind)
