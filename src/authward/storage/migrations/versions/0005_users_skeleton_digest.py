"""users: the confusable skeleton of each email, unique

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

An address a reader cannot tell from an older account's (``adа@example.com`` with a
Cyrillic ``а`` beside ``ada@example.com``) may no longer register: each user keeps the
SHA-256 of its email's Unicode TS #39 skeleton, under a unique index. Existing accounts
are backfilled oldest first; one that already looks like an older account keeps working
with no skeleton (NULL, which a unique index allows many times), and is logged by id
for the operator to review.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

from authward.accounts.emails import skeleton_digest
from authward.storage.naming import table_name

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1000
log = logging.getLogger("authward.security")


def _users() -> sa.TableClause:
    return sa.table(
        table_name("users"),
        sa.column("id", sa.String(36)),
        sa.column("email", sa.String(320)),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("skeleton_digest", sa.LargeBinary(32)),
    )


def upgrade() -> None:
    users = _users()
    op.add_column(users.name, sa.Column("skeleton_digest", sa.LargeBinary(32), nullable=True))
    lookalikes = _backfill(op.get_bind(), users)
    op.create_index(
        f"ix_{users.name}_skeleton_digest", users.name, ["skeleton_digest"], unique=True
    )
    if lookalikes:
        log.warning(
            "%d existing accounts look like older ones (Unicode TS #39); they keep working,"
            " and no new look-alike can register. Review them: %s",
            len(lookalikes),
            ", ".join(lookalikes),
            extra={"event": "lookalike_accounts"},
        )


def _backfill(connection: sa.Connection, users: sa.TableClause) -> list[str]:
    """Give each user its skeleton digest, oldest first; return the ids left without one."""
    seen: set[bytes] = set()
    lookalikes: list[str] = []
    updates: list[dict[str, object]] = []
    for user_id, email in _all_users(connection, users):
        digest = skeleton_digest(email)
        if digest in seen:
            lookalikes.append(user_id)
            continue
        seen.add(digest)
        updates.append({"user_id": user_id, "digest": digest})
        if len(updates) == BATCH:
            _write(connection, users, updates)
            updates = []
    if updates:
        _write(connection, users, updates)
    return lookalikes


def _all_users(connection: sa.Connection, users: sa.TableClause) -> Iterator[tuple[str, str]]:
    query = sa.select(users.c.id, users.c.email).order_by(users.c.created_at, users.c.id)
    # Read whole before the first update: no cursor stays open under the writes.
    for row in connection.execute(query).all():
        yield row.id, row.email


def _write(
    connection: sa.Connection, users: sa.TableClause, updates: list[dict[str, object]]
) -> None:
    connection.execute(
        users.update()
        .where(users.c.id == sa.bindparam("user_id"))
        .values(skeleton_digest=sa.bindparam("digest")),
        updates,
    )


def downgrade() -> None:
    users = table_name("users")
    op.drop_index(f"ix_{users}_skeleton_digest", table_name=users)
    with op.batch_alter_table(users) as batch:
        batch.drop_column("skeleton_digest")
