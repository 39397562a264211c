"""mailed links (reset, verification, email change) and users.email_verified

Revision ID: 0008_account_links
Revises: 0006_mail_outbox
Create Date: 2026-12-06

Accounts that exist before this revision count as unverified (false): nobody proved
their address. With AUTHWARD_EMAIL_VERIFICATION=required their owners verify at their
next sign-in (a fresh link is mailed), or through a password reset.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_account_links"
down_revision = "0008_second_factors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "authward_users",
        sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "authward_account_links",
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("new_email", sa.String(320), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_authward_account_links")),
    )
    op.create_index(
        "ix_authward_account_links_expires_at", "authward_account_links", ["expires_at"]
    )
    op.create_index(
        "ix_authward_account_links_user", "authward_account_links", ["user_id", "purpose"]
    )


def downgrade() -> None:
    op.drop_table("authward_account_links")
    with op.batch_alter_table("authward_users") as batch:
        batch.drop_column("email_verified")
