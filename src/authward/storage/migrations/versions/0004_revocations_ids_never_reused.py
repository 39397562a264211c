"""revocation ids are never reused

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Every node reads the revocations table from the highest id it has seen. On SQLite an
``INTEGER PRIMARY KEY`` without ``AUTOINCREMENT`` takes the highest id present plus one,
so once the sweep had emptied the table new rows got ids the nodes had already passed,
and they never saw them (issue 14). ``AUTOINCREMENT`` keeps the highest id ever handed
out in ``sqlite_sequence``: ids only rise. SQLite cannot add it to a table in place, so
the table is rebuilt (Alembic's batch mode), its rows and index kept.

PostgreSQL needs nothing: the id's default is ``nextval`` of a sequence (``SERIAL``),
which never hands out an id twice, whatever is deleted.
"""

from __future__ import annotations

from alembic import op

from authward.storage.naming import table_name

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild_revocations(autoincrement=True)


def downgrade() -> None:
    _rebuild_revocations(autoincrement=False)


def _rebuild_revocations(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        table_name("revocations"),
        recreate="always",
        table_kwargs={"sqlite_autoincrement": autoincrement},
    ):
        pass  # the rebuild itself is the change: the copy is made with the new table options
