"""passkeys: WebAuthn credentials and the challenges handed out for them

Revision ID: 0010_passkeys
Revises: 0006_second_factors
Create Date: 2026-12-06

Two tables for `authward.factors.passkey_sql`: each user's passkeys (public keys, the
signature counter, the backup flags; a credential id is registered once), and the
digests of the WebAuthn challenges handed out and not yet answered, in the database
every node reads, so a ceremony begun on one node can be finished on another.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_passkeys"
down_revision = "0009_account_links"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "authward_passkeys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(1023), nullable=False),
        sa.Column("public_key", sa.LargeBinary(1024), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("transports", sa.String(128), nullable=False),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("last_used_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authward_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_authward_passkeys_credential_id")),
    )
    op.create_index("ix_authward_passkeys_user_id", "authward_passkeys", ["user_id"])
    op.create_table(
        "authward_passkey_challenges",
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_authward_passkey_challenges")),
    )
    op.create_index(
        "ix_authward_passkey_challenges_expires_at",
        "authward_passkey_challenges",
        ["expires_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_authward_passkey_challenges_expires_at", table_name="authward_passkey_challenges"
    )
    op.drop_table("authward_passkey_challenges")
    op.drop_index("ix_authward_passkeys_user_id", table_name="authward_passkeys")
    op.drop_table("authward_passkeys")
