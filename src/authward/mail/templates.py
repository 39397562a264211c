"""Mails from Jinja2 templates: a subject, a plain-text and an HTML file per mail.

The templates ship in ``authward/mail/templates/`` as ``<name>.subject.txt``,
``<name>.txt`` and ``<name>.html``. An operator replaces any of them by putting a file of
the same name in ``AUTHWARD_MAIL_TEMPLATES``: that folder is looked in first. HTML is
autoescaped; every template is rendered with `StrictUndefined`, so a value it needs and
is not given fails the render (a programming error, caught by the tests), never a half
mail. A subject is one line: a value that would break it (a newline) is refused, as is a
recipient with one, since either would let a value write its own mail headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Final

import jinja2

from authward.mail.message import Mail, Rendered

# What each shipped template shows. Callers give exactly these values (more are refused
# too: a value no template shows is a sign the caller meant another template).
TEMPLATE_VALUES: Final[Mapping[str, frozenset[str]]] = {
    "password_reset": frozenset({"email", "link"}),
    "password_changed": frozenset({"email"}),
    "verify_email": frozenset({"email", "link"}),
    "email_taken": frozenset({"email", "link"}),
    "email_change_confirm": frozenset({"email", "link"}),
    "email_change_notice": frozenset({"email", "new_email", "stage"}),
    "security_notice": frozenset({"email", "event"}),
}
"""``link``: the URL the mail is about (built from AUTHWARD_PUBLIC_URL); ``email``: the
address the mail goes to (``email_change_confirm``: the new one); ``stage``:
``requested`` or ``changed``; ``event``: one sentence, e.g. "A passkey was added"."""

_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
_SHIPPED: Final = Path(__file__).with_name("templates")


class MailTemplateError(LookupError):
    """A template that does not exist, or values that do not fit it: a programming error."""


class Renderer:
    """Render a `Mail` into its subject, text and HTML; the operator's templates first."""

    def __init__(self, folder: str | Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(_SHIPPED)]
        if folder is not None:
            if not Path(folder).is_dir():
                raise ValueError(f"AUTHWARD_MAIL_TEMPLATES: {folder} is not a folder")
            loaders.insert(0, jinja2.FileSystemLoader(Path(folder)))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    def check(self) -> None:
        """Render every known template once with sample values: an operator's template that
        does not parse, or shows a value nobody gives, fails at start, not at a user's
        password reset. Raise `MailTemplateError` naming it."""
        for template, names in TEMPLATE_VALUES.items():
            values = {name: "requested" if name == "stage" else "sample" for name in names}
            try:
                self.render(Mail("check@example.com", template, values))
            except jinja2.TemplateSyntaxError as exc:
                raise MailTemplateError(f"{exc.name}, line {exc.lineno}: {exc.message}") from None

    def render(self, mail: Mail) -> Rendered:
        """Return the mail's body, or raise `MailTemplateError` (nothing half-rendered)."""
        if not _NAME.fullmatch(mail.template):
            raise MailTemplateError(f"not a template name: {mail.template!r}")
        if _breaks_header(mail.to) or "@" not in mail.to:
            raise MailTemplateError("the recipient is not one address on one line")
        expected = TEMPLATE_VALUES.get(mail.template)
        if expected is not None and set(mail.values) != expected:
            raise MailTemplateError(
                f"{mail.template} shows {sorted(expected)}, was given {sorted(mail.values)}"
            )
        values = dict(mail.values)
        try:
            subject = self._env.get_template(f"{mail.template}.subject.txt").render(values)
            text = self._env.get_template(f"{mail.template}.txt").render(values)
            html = self._env.get_template(f"{mail.template}.html").render(values)
        except jinja2.TemplateNotFound as exc:
            raise MailTemplateError(f"no template {exc.name}") from None
        except jinja2.UndefinedError as exc:
            raise MailTemplateError(f"{mail.template}: {exc.message}") from None
        subject = subject.strip()
        if not subject or _breaks_header(subject):
            raise MailTemplateError(f"{mail.template}: the subject must be one line")
        return Rendered(subject=subject, text=text, html=html)


def _breaks_header(value: str) -> bool:
    return any(ch in value for ch in "\r\n\x00")


@lru_cache(maxsize=8)
def checked_renderer(folder: str | None = None) -> Renderer:
    """A `Renderer` over `folder`, checked (`Renderer.check`), one per process and folder.

    Compiling and checking every template takes about 0.1 s: a process that builds many
    runtimes (a test suite, a benchmark) pays it once. A changed template is read again
    at the next start.
    """
    renderer = Renderer(folder)
    renderer.check()
    return renderer
