"""accounts, sessions and login failures

Revision ID: 0001
Revises:
Create Date: 2026-11-27

A database this revision runs on has no authward tables yet, so they are created with
the ``authward_`` prefix; those made before the prefix existed are renamed by 0006.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from authward.storage.naming import table_name

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "authward_users",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authward_users")),
        sa.UniqueConstraint("email", name=op.f("uq_authward_users_email")),
    )
    op.create_table(
        "authward_sessions",
        sa.Column("id_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("handle", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("idle_expires_at", UTC_TIME, nullable=False),
        sa.Column("absolute_expires_at", UTC_TIME, nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id_digest", name=op.f("pk_authward_sessions")),
        sa.UniqueConstraint("handle", name=op.f("uq_authward_sessions_handle")),
    )
    op.create_index(
        "ix_authward_sessions_user_created", "authward_sessions", ["user_id", "created_at"]
    )
    op.create_index(
        "ix_authward_sessions_idle_expires_at", "authward_sessions", ["idle_expires_at"]
    )
    op.create_index(
        "ix_authward_sessions_absolute_expires_at", "authward_sessions", ["absolute_expires_at"]
    )
    op.create_table(
        "authward_login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.LargeBinary(32), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authward_login_failures")),
    )
    op.create_index("ix_authward_login_failures_key_at", "authward_login_failures", ["key", "at"])


def downgrade() -> None:
    for table in ("login_failures", "sessions", "users"):
        op.drop_table(table_name(table))
