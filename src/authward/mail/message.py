"""What a mail is: what a caller queues, what the templates make of it, and its row's record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

State = Literal["queued", "sent", "failed"]
STATES: tuple[State, ...] = ("queued", "sent", "failed")


@dataclass(frozen=True, slots=True)
class Mail:
    """A mail to queue: a recipient, a template and what the template shows.

    ``to`` is an already normalised address. ``values`` are the template's words (links,
    the account's email); never a password. Rendering checks them: a value the template
    needs and is not given, or a template that does not exist, raises `MailTemplateError`
    at `Outbox.enqueue`, before anything is written.
    """

    to: str
    template: str
    values: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Rendered:
    """A mail's body as it will be sent: rendered once, at enqueue time."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One outbox row as `authward mail list` shows it: never its body."""

    id: str
    to: str
    template: str
    state: State
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A queued mail taken by one sender until ``claimed_until``; its body unsealed."""

    id: str
    to: str
    template: str
    attempts: int  # this attempt included
    created_at: datetime
    body: Rendered
