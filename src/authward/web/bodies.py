"""Read small request bodies that may come as JSON or as an HTML/OAuth2 form."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from authward.errors import InvalidInput

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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
    else:
        try:
            decoded = json.loads(await request.body())
        except (ValueError, RecursionError):
            raise InvalidInput("Body must be a JSON object or a form.") from None
        if not isinstance(decoded, dict):
            raise InvalidInput("Body must be a JSON object or a form.")
        raw = decoded
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
