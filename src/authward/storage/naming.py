"""authward's names in a database it may share with an application.

Every table authward owns is named ``authward_*``, and its Alembic history lives in a
version table of its own, so an application's ``users`` table and its own Alembic
history sit beside authward's untouched. Deployments made before the prefix (revisions
0001-0005) keep their plain names until migration 0006 renames them; the migrations
that come before it ask `table_name` which of the two spellings they work on.
"""

from __future__ import annotations

from typing import Final

from alembic import op
from sqlalchemy import inspect

PREFIX: Final = "authward_"
VERSION_TABLE: Final = "authward_alembic_version"
# Where authward kept its revision before it had a version table of its own.
LEGACY_VERSION_TABLE: Final = "alembic_version"


def table_name(plain: str) -> str:
    """Name authward's table `plain` as the database being migrated spells it (before 0006).

    Migration 0001 creates ``authward_users``: a database without it is one made before
    the prefix, whose tables keep their plain names until 0006 renames them.
    """
    prefixed = PREFIX + plain
    return prefixed if inspect(op.get_bind()).has_table(PREFIX + "users") else plain
