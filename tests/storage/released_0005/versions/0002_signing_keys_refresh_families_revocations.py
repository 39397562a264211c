"""signing keys, refresh token families and revocations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("generation", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("retired_at", UTC_TIME, nullable=True),
        sa.Column("public_jwk", sa.Text(), nullable=True),
        sa.Column("sealed_private", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("generation", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "refresh_families",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("current_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("previous_digest", sa.LargeBinary(32), nullable=True),
        sa.Column("rotated_at", UTC_TIME, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("revoked_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_families")),
        sa.UniqueConstraint("current_digest", name=op.f("uq_refresh_families_current_digest")),
    )
    op.create_index(
        "ix_refresh_families_user_created", "refresh_families", ["user_id", "created_at"]
    )
    op.create_index("ix_refresh_families_expires_at", "refresh_families", ["expires_at"])
    op.create_table(
        "refresh_spent",
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("family_id", sa.String(32), nullable=False),
        sa.Column("spent_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["refresh_families.id"],
            name=op.f("fk_refresh_spent_family_id_refresh_families"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_refresh_spent")),
    )
    op.create_index("ix_refresh_spent_family_id", "refresh_spent", ["family_id"])
    op.create_table(
        "revocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("until", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocations")),
    )
    op.create_index("ix_revocations_until", "revocations", ["until"])


def downgrade() -> None:
    op.drop_table("revocations")
    op.drop_table("refresh_spent")
    op.drop_table("refresh_families")
    op.drop_table("signing_keys")
