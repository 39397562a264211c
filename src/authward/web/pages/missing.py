"""A page for a person where there is none: the router's 404 and 405 in HTML.

The service answers an unknown path, or a method a path does not take, in the form the
client asked for: a browser (``Accept: text/html``) gets a page in the site's style, an
API client the JSON error body every other answer has.
"""

from __future__ import annotations

import math

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from authward.web.errors import answer_http_error
from authward.web.pages.route import page

PAGE_PROBLEMS = {404: "not_found", 405: "method_not_allowed"}


def prefers_html(accept: str) -> bool:
    """Whether `accept` asks for HTML at least as much as for JSON (RFC 9110 §12.5.1).

    Wildcards do not count: ``*/*`` (curl, most HTTP libraries) keeps the JSON answer.
    """
    weights: dict[str, float] = {}
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                weight = _weight(value)
        media = media.lower()
        weights[media] = max(weight, weights.get(media, 0.0))
    html = weights.get("text/html", 0.0)
    return html > 0 and html >= weights.get("application/json", 0.0)


def _weight(value: str) -> float:
    try:
        weight = float(value.strip())
    except ValueError:
        return 0.0
    return min(weight, 1.0) if math.isfinite(weight) and weight > 0 else 0.0


async def http_error_page(request: Request, exc: Exception) -> Response:
    """The app's handler of HTTP errors: a page for a browser's 404 or 405, else JSON."""
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    problem = PAGE_PROBLEMS.get(exc.status_code)
    response: Response
    if problem is None or not prefers_html(request.headers.get("accept", "")):
        response = answer_http_error(exc)
        response.headers["vary"] = "Accept"  # the answer's form follows Accept
    else:
        headers = {**(exc.headers or {}), "vary": "Accept, Cookie"}
        response = page(
            request, "error.html", exc.status_code, headers, problem=problem, caller=None
        )
    if request.method == "HEAD":
        response.body = b""
    return response
