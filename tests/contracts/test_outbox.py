"""The MailQueue contract, on memory, SQLite and PostgreSQL.

Above all: a mail is queued exactly when its caller's transaction commits, and of any
number of senders claiming at once, each due mail goes to one of them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.mail import Mail, MailQueue, MailTemplateError, MemoryOutbox, Renderer
from authward.mail.sql import SqlOutbox, outbox

KEY = bytes(range(32))
LEASE = timedelta(minutes=5)
SQL = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def reset(n: int = 0) -> Mail:
    link = f"https://auth.example.com/reset?token=secret-token-{n}"
    return Mail(
        f"user{n}@example.com", "password_reset", {"email": f"user{n}@example.com", "link": link}
    )


@pytest.fixture(params=["memory", *SQL])
def mail_queue(request: pytest.FixtureRequest, clock: FrozenClock) -> MailQueue:
    if request.param == "memory":
        return MemoryOutbox(clock=clock)
    return SqlOutbox(request.getfixturevalue(f"{request.param}_engine"), Renderer(), KEY, clock)


@pytest.fixture(params=SQL)
def sql_queue(request: pytest.FixtureRequest, clock: FrozenClock) -> tuple[SqlOutbox, AsyncEngine]:
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return SqlOutbox(engine, Renderer(), KEY, clock), engine


async def test_a_queued_mail_is_claimed_with_its_rendered_body(
    mail_queue: MailQueue, clock: FrozenClock
) -> None:
    await mail_queue.enqueue(reset())
    [claimed] = await mail_queue.claim(clock.now(), LEASE, 10)
    assert claimed.to == "user0@example.com"
    assert claimed.template == "password_reset"
    assert claimed.attempts == 1
    assert claimed.body == Renderer().render(reset())
    [entry] = await mail_queue.entries()
    assert (entry.id, entry.state, entry.attempts) == (claimed.id, "queued", 1)


async def test_a_bad_mail_raises_at_enqueue_and_queues_nothing(mail_queue: MailQueue) -> None:
    with pytest.raises(MailTemplateError):
        await mail_queue.enqueue(Mail("ada@example.com", "password_reset", {"email": "x"}))
    assert await mail_queue.entries() == []


async def test_a_claimed_mail_is_not_claimed_again_until_its_lease_ends(
    mail_queue: MailQueue, clock: FrozenClock
) -> None:
    await mail_queue.enqueue(reset())
    [first] = await mail_queue.claim(clock.now(), LEASE, 10)
    assert await mail_queue.claim(clock.now() + LEASE - timedelta(seconds=1), LEASE, 10) == []
    # The sender died mid-send: once the lease is over, another takes the mail.
    [again] = await mail_queue.claim(clock.now() + LEASE, LEASE, 10)
    assert (again.id, again.attempts) == (first.id, 2)


async def test_concurrent_claims_share_the_mails_out_once(
    mail_queue: MailQueue, clock: FrozenClock
) -> None:
    for n in range(24):
        await mail_queue.enqueue(reset(n))
    ids: list[str] = []
    while rounds := await asyncio.gather(
        *(mail_queue.claim(clock.now(), LEASE, 5) for _ in range(4))
    ):
        if not any(rounds):
            break
        ids += [claimed.id for batch in rounds for claimed in batch]
    assert len(ids) == len(set(ids)) == 24


async def test_a_delivered_mail_is_sent_and_never_claimed_again(
    mail_queue: MailQueue, clock: FrozenClock
) -> None:
    await mail_queue.enqueue(reset())
    [claimed] = await mail_queue.claim(clock.now(), LEASE, 10)
    await mail_queue.delivered(claimed.id, clock.now())
    [entry] = await mail_queue.entries("sent")
    assert entry.sent_at == clock.now()
    assert await mail_queue.claim(clock.now() + timedelta(days=3), LEASE, 10) == []
    assert await mail_queue.retry(claimed.id, clock.now()) is False  # its body is gone
    assert await mail_queue.waiting() == (0, None)


async def test_a_deferred_mail_waits_for_its_time(
    mail_queue: MailQueue, clock: FrozenClock
) -> None:
    await mail_queue.enqueue(reset())
    [claimed] = await mail_queue.claim(clock.now(), LEASE, 10)
    later = clock.now() + timedelta(minutes=1)
    await mail_queue.deferred(claimed.id, later, "421 try later")
    assert await mail_queue.claim(later - timedelta(seconds=1), LEASE, 10) == []
    [entry] = await mail_queue.entries("queued")
    assert (entry.next_attempt_at, entry.last_error) == (later, "421 try later")
    [again] = await mail_queue.claim(later, LEASE, 10)
    assert again.attempts == 2


async def test_a_failed_mail_can_be_queued_again_and_goes_out(
    mail_queue: MailQueue, clock: FrozenClock
) -> None:
    await mail_queue.enqueue(reset())
    [claimed] = await mail_queue.claim(clock.now(), LEASE, 10)
    await mail_queue.failed(claimed.id, "550 no such user")
    assert [e.state for e in await mail_queue.entries()] == ["failed"]
    assert await mail_queue.claim(clock.now() + timedelta(days=3), LEASE, 10) == []
    assert await mail_queue.retry(claimed.id, clock.now()) is True
    [again] = await mail_queue.claim(clock.now(), LEASE, 10)
    assert again.body == claimed.body
    assert await mail_queue.retry("no-such-mail-id0", clock.now()) is False


async def test_waiting_counts_the_queued_and_dates_the_oldest(
    mail_queue: MailQueue, clock: FrozenClock
) -> None:
    start = clock.now()
    await mail_queue.enqueue(reset(1))
    clock.advance(60)
    await mail_queue.enqueue(reset(2))
    assert await mail_queue.waiting() == (2, start)


async def test_each_mail_is_shown_once(mail_queue: MailQueue, clock: FrozenClock) -> None:
    await mail_queue.enqueue(reset(1))
    await mail_queue.enqueue(reset(2))
    shown = await asyncio.gather(*(mail_queue.unshown(clock.now(), 10) for _ in range(4)))
    assert sorted(c.to for batch in shown for c in batch) == [
        "user1@example.com",
        "user2@example.com",
    ]
    assert await mail_queue.unshown(clock.now(), 10) == []
    # Shown is not sent: both still wait for an SMTP server.
    assert [e.attempts for e in await mail_queue.entries("queued")] == [0, 0]


async def test_prune_removes_old_sent_and_failed_mails_only(
    mail_queue: MailQueue, clock: FrozenClock
) -> None:
    for n in range(3):
        await mail_queue.enqueue(reset(n))
    first, second, _ = await mail_queue.claim(clock.now(), LEASE, 10)
    await mail_queue.delivered(first.id, clock.now())
    await mail_queue.failed(second.id, "550")
    assert await mail_queue.prune(clock.now()) == 0  # created at `now`: not before it
    assert await mail_queue.prune(clock.now() + timedelta(days=1)) == 2
    assert [e.state for e in await mail_queue.entries()] == ["queued"]


# --- SQL only: the caller's transaction, the body at rest ------------------------------


async def test_a_mail_enqueued_in_a_rolled_back_transaction_does_not_exist(
    sql_queue: tuple[SqlOutbox, AsyncEngine],
) -> None:
    queue, engine = sql_queue

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with engine.begin() as conn:
            await queue.enqueue(reset(1), within=conn)
            raise Abort
    assert await queue.entries() == []
    async with engine.begin() as conn:
        await queue.enqueue(reset(2), within=conn)
    assert [e.to for e in await queue.entries()] == ["user2@example.com"]


async def test_the_body_is_sealed_at_rest_and_erased_once_sent(
    sql_queue: tuple[SqlOutbox, AsyncEngine], clock: FrozenClock
) -> None:
    queue, engine = sql_queue
    await queue.enqueue(reset())
    async with engine.connect() as conn:
        stored = await conn.scalar(select(outbox.c.body))
    assert stored is not None
    assert b"secret-token-0" not in stored and b"Reset your password" not in stored
    [claimed] = await queue.claim(clock.now(), LEASE, 10)
    assert "secret-token-0" in claimed.body.text
    await queue.delivered(claimed.id, clock.now())
    async with engine.connect() as conn:
        assert await conn.scalar(select(outbox.c.body)) is None


async def test_a_body_moved_to_another_row_does_not_open(
    sql_queue: tuple[SqlOutbox, AsyncEngine], clock: FrozenClock
) -> None:
    queue, engine = sql_queue
    await queue.enqueue(reset(1))
    await queue.enqueue(reset(2))
    first, second = await queue.entries()
    async with engine.begin() as conn:
        body = await conn.scalar(select(outbox.c.body).where(outbox.c.id == first.id))
        await conn.execute(update(outbox).where(outbox.c.id == second.id).values(body=body))
    [claimed] = await queue.claim(clock.now(), LEASE, 10)
    assert claimed.id == first.id  # second holds first's body, bound to first's id
    states = {e.id: (e.state, e.last_error) for e in await queue.entries()}
    assert states == {first.id: ("queued", None), second.id: ("failed", "body unreadable")}


async def test_a_body_sealed_under_another_secret_does_not_open(
    sql_queue: tuple[SqlOutbox, AsyncEngine], clock: FrozenClock
) -> None:
    queue, engine = sql_queue
    await queue.enqueue(reset(1))
    other_deployment = SqlOutbox(engine, Renderer(), bytes(32), clock)
    assert await other_deployment.claim(clock.now(), LEASE, 10) == []
    assert [e.state for e in await queue.entries()] == ["failed"]
