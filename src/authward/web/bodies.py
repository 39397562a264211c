"""Read small request bodies that may come as JSON or as an HTML/OAuth2 form.

JSON is read only from a body that says it is JSON (``application/json``, or a
``+json`` type, as FastAPI reads its own bodies). A cross-site page can send a form or a
``text/plain`` body without any CORS preflight, but not a JSON content type: a JSON body
under another type is refused (422), never parsed (CVE-2021-32677 was this very hole).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from authward.errors import InvalidInput

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NOT_JSON_OR_FORM = "Body must be JSON (Content-Type: application/json) or a form."


def is_json(content_type: str) -> bool:
    """Whether a media type (lower case, without parameters) is JSON."""
    kind, _, subtype = content_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def read_fields(
    request: Request, *names: str, aliases: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the named string fields of a JSON object or form body.

    `aliases` maps another field name onto one of `names` (OAuth2's ``username`` for
    ``email``). A missing or non-string field, or a body that is neither, is InvalidInput.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw: Mapping[str, object]
    if content_type in FORM_TYPES:
        try:
            form = await request.form()
        except (MultiPartException, HTTPException):
            # A missing boundary or a broken part: Starlette's own errors, made ours.
            raise InvalidInput("Body must be a JSON object or a form.") from None
        raw = {key: value for key, value in form.items() if isinstance(value, str)}
    elif is_json(content_type):
        try:
            decoded = json.loads(await request.body())
        except (ValueError, RecursionError):
            raise InvalidInput("Body must be a JSON object or a form.") from None
        if not isinstance(decoded, dict):
            raise InvalidInput("Body must be a JSON object or a form.")
        raw = decoded
    else:
        raise InvalidInput(NOT_JSON_OR_FORM)
    fields: dict[str, str] = {}
    for alias, name in (aliases or {}).items():
        if name not in raw and alias in raw:
            raw = {**raw, name: raw[alias]}
    for name in names:
        value = raw.get(name)
        if not isinstance(value, str):
            raise InvalidInput(f"Field '{name}' is required and must be a string.")
        if not value.isascii():
            try:
                value.encode("utf-8")  # JSON may carry lone surrogates ("\ud800"): not text
            except UnicodeEncodeError:
                raise InvalidInput(f"Field '{name}' is not valid text.") from None
        fields[name] = value
    return fields
