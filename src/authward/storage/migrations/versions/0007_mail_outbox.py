"""the mail outbox

Revision ID: 0006_mail_outbox
Revises: 0005
Create Date: 2026-12-06

One row per mail, written in the transaction of the change it announces; its body sealed
until it is sent, then erased (see authward.mail.sql).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_mail_outbox"
down_revision = "0006_authward_table_prefix"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "authward_mail_outbox",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("next_attempt_at", UTC_TIME, nullable=False),
        sa.Column("claimed_until", UTC_TIME, nullable=True),
        sa.Column("shown", sa.Boolean(), nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authward_mail_outbox")),
    )
    op.create_index(
        "ix_authward_mail_outbox_due", "authward_mail_outbox", ["state", "next_attempt_at"]
    )
    op.create_index("ix_authward_mail_outbox_created_at", "authward_mail_outbox", ["created_at"])


def downgrade() -> None:
    op.drop_table("authward_mail_outbox")
