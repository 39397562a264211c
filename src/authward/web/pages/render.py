"""Turn templates into answers: headers every page needs, redirects, and display filters."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

WEB_DIR: Final = Path(__file__).resolve().parent.parent
TEMPLATES_DIR: Final = WEB_DIR / "templates"
STATIC_DIR: Final = WEB_DIR / "static"
DEFAULT_NEXT: Final = "/account"
MAX_NEXT_LENGTH: Final = 2048

# No script may run at all: the pages need none, so an injected one finds no way in.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# The pages with a passkey form load one first-party script, /static/passkeys.js, and it
# fetches WebAuthn options from this origin: nothing inline, nothing from elsewhere, and
# Trusted Types required, so no string can become script or markup through a DOM sink.
SCRIPT_POLICY: Final = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)
PAGE_HEADERS: Final = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    # Not no-referrer: under it Chromium sends "Origin: null" with same-origin form posts.
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    # Every page shows or depends on who is signed in (and forms carry CSRF tokens):
    # nothing may be kept by a shared cache or restored from history.
    "cache-control": "no-store",
    "vary": "Cookie",
}


def safe_next(value: str | None) -> str:
    """Return `value` if it is a path on this site, else the account page.

    Only a plain absolute path is allowed: no scheme or host, no ``//`` or ``\\`` a
    browser could read as another host (also once percent-decoded), no control
    characters, whitespace or non-ASCII a browser might normalise into one of those.
    """
    if not value or len(value) > MAX_NEXT_LENGTH or not value.startswith("/"):
        return DEFAULT_NEXT
    if any(c.isspace() for c in value):
        return DEFAULT_NEXT
    for text in (value, unquote(value)):
        if not text.isascii() or text.startswith("//") or "\\" in text:
            return DEFAULT_NEXT
        if any(unicodedata.category(c) == "Cc" for c in text):
            return DEFAULT_NEXT
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return DEFAULT_NEXT
    return value


def login_url(next_path: str | None = None) -> str:
    """The sign-in page, coming back to `next_path` afterwards."""
    return "/login" if next_path is None else "/login?" + urlencode({"next": next_path}, safe="/")


def redirect(url: str) -> Response:
    """A 303 See Other: after a POST the browser follows it with a GET."""
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


def duration(seconds: float, *, precision: int = 2) -> str:
    """Say a wait or a lifetime the way a person would: ``14 minutes 30 seconds``."""
    total = max(0, round(seconds))
    units = (("day", 86_400), ("hour", 3600), ("minute", 60), ("second", 1))
    parts: list[str] = []
    for name, size in units:
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
        if len(parts) == precision:
            break
    return " ".join(parts) or "0 seconds"


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _ago(value: datetime, now: datetime) -> str:
    seconds = (now - value).total_seconds()
    return "just now" if seconds < 60 else duration(seconds, precision=1) + " ago"


def _left(value: datetime, now: datetime) -> str:
    seconds = (value - now).total_seconds()
    return f"{duration(seconds)} left" if seconds > 0 else "passed"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.globals["ago"] = _ago
    env.globals["left"] = _left
    env.globals["duration"] = duration
    return env


TEMPLATES: Final = _environment()


def render(
    name: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the headers every page carries."""
    html = TEMPLATES.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})
