"""second factors: TOTP secrets, recovery codes, login challenges; how each login signed in

Revision ID: 0006_second_factors
Revises: 0005
Create Date: 2026-12-06

Three tables for `authward.factors` (TOTP secrets sealed with the master key, recovery
codes as argon2id hashes, the digests of pending ``mfa_token`` challenges), and two
columns on sessions and refresh families: ``auth_time`` and ``amr``, how the login that
made them authenticated. Rows from before keep NULL and ``pwd``: a password login at
their creation, which is what every login was until now.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_second_factors"
down_revision = "0007_mail_outbox"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "authward_totp_factors",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(128), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_authward_totp_factors")),
    )
    op.create_table(
        "authward_recovery_codes",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("code_id", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(255), nullable=False),
        sa.Column("used_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("user_id", "code_id", name=op.f("pk_authward_recovery_codes")),
    )
    op.create_table(
        "authward_mfa_challenges",
        sa.Column("token_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_authward_mfa_challenges")),
    )
    op.create_index(
        "ix_authward_mfa_challenges_expires_at", "authward_mfa_challenges", ["expires_at"]
    )
    for table in ("authward_sessions", "authward_refresh_families"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("auth_time", UTC_TIME, nullable=True))
            batch.add_column(sa.Column("amr", sa.String(32), nullable=False, server_default="pwd"))


def downgrade() -> None:
    for table in ("authward_sessions", "authward_refresh_families"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("amr")
            batch.drop_column("auth_time")
    op.drop_index("ix_authward_mfa_challenges_expires_at", table_name="authward_mfa_challenges")
    op.drop_table("authward_mfa_challenges")
    op.drop_table("authward_recovery_codes")
    op.drop_table("authward_totp_factors")
