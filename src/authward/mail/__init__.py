"""Mail: a durable outbox written with the change it announces, and its sender.

The concepts queue mail through `Outbox.enqueue` (a `Mail`: a recipient, a template and
its values); the runtime's sender delivers it over SMTP, with retries, once per mail
across nodes. See `authward.mail.outbox` for the roles, `authward.mail.sql` for the table.
"""

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
