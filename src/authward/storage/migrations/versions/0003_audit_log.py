"""audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from authward.storage.naming import table_name

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    audit_log = table_name("audit_log")
    op.create_table(
        audit_log,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("via", sa.String(8), nullable=True),
        sa.Column("handle", sa.String(64), nullable=True),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{audit_log}")),
    )
    op.create_index(f"ix_{audit_log}_at", audit_log, ["at"])
    op.create_index(f"ix_{audit_log}_user_id", audit_log, ["user_id"])


def downgrade() -> None:
    op.drop_table(table_name("audit_log"))
