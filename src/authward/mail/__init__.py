"""Mail: a durable outbox written with the change it announces, and its sender.

The concepts queue mail through `Outbox.enqueue` (a `Mail`: a recipient, a template and
its values); the runtime's sender delivers it over SMTP, with retries, once per mail
across nodes. See `authward.mail.outbox` for the roles, `authward.mail.sql` for the table.

Each name is imported when first used (PEP 562): `authward.mail.message` (the states
`authward mail --help` names) comes without Jinja2 and the outbox's metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from authward.lazy import lazy_members

if TYPE_CHECKING:
    from authward.mail.message import Mail
    from authward.mail.outbox import MailQueue, MemoryOutbox, Outbox
    from authward.mail.templates import TEMPLATE_VALUES, MailTemplateError, Renderer

__all__ = [
    "TEMPLATE_VALUES",
    "Mail",
    "MailQueue",
    "MailTemplateError",
    "MemoryOutbox",
    "Outbox",
    "Renderer",
]

_HOMES: Final[dict[str, str]] = {
    "TEMPLATE_VALUES": "authward.mail.templates",
    "Mail": "authward.mail.message",
    "MailQueue": "authward.mail.outbox",
    "MailTemplateError": "authward.mail.templates",
    "MemoryOutbox": "authward.mail.outbox",
    "Outbox": "authward.mail.outbox",
    "Renderer": "authward.mail.templates",
}


__getattr__, __dir__ = lazy_members(globals(), _HOMES)
