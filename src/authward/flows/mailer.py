"""Links and the mails that carry them: every link is built from AUTHWARD_PUBLIC_URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

from authward.mail.message import Mail
from authward.mail.outbox import Outbox

# Without AUTHWARD_PUBLIC_URL (the library with no mail configured: mails only go to the
# log) links point at authward serve's own default address. Never at the request's Host:
# a forged Host header would be mailed to the victim as the link's target.
DEVELOPMENT_URL: Final = "http://127.0.0.1:8000"


class LinkMailer:
    """Build links under the public URL, and queue mails in the outbox."""

    def __init__(self, outbox: Outbox, public_url: str | None) -> None:
        self.outbox = outbox
        self.base = (public_url or DEVELOPMENT_URL).rstrip("/")

    def link(self, path: str, token: str | None = None) -> str:
        """The absolute URL of `path` (with `token` as its query)."""
        query = "" if token is None else "?" + urlencode({"token": token})
        return f"{self.base}{path}{query}"

    async def send(
        self, to: str, template: str, values: Mapping[str, str], *, within: Any = None
    ) -> None:
        """Queue one mail; with `within` (an open transaction's connection), inside it."""
        await self.outbox.enqueue(Mail(to, template, dict(values)), within=within)
