"""every authward table, index, constraint and sequence is named authward_*

Revision ID: 0006_authward_table_prefix
Revises: 0005
Create Date: 2026-12-06

authward shares its database with the application it protects, whose own ``users`` or
``sessions`` table made the plain names collide (issue 18). A database created since
0001 took the prefix already has the names and nothing happens here; one made before it
is renamed in place, its rows kept:

* PostgreSQL renames tables, constraints, indexes and the sequences behind ``SERIAL``
  ids (index and sequence names are per schema, so an app's ``audit_log_id_seq`` would
  otherwise collide too);
* SQLite renames each table, then rebuilds it (Alembic's batch mode) so the constraint
  names written inside its CREATE TABLE change as well. The rebuild drops the old copy,
  which with foreign keys on would cascade into ``refresh_spent``: authward's upgrade
  turns them off for the migration (`authward.storage.migrate`), and this revision
  refuses to run with them on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

from authward.storage.naming import PREFIX

revision = "0006_authward_table_prefix"
down_revision = "0005"
branch_labels = None
depends_on = None


class _Table(NamedTuple):
    """One table as revision 0005 left it; every name is derived from the table's."""

    # A NamedTuple, not a dataclass: Alembic loads this file outside sys.modules.

    name: str
    primary_key: tuple[str, ...]
    unique: tuple[str, ...] = ()  # single columns, uq_<table>_<column>
    indexes: tuple[tuple[str, tuple[str, ...], bool], ...] = ()  # ix_<table>_<suffix>
    serial: bool = False  # an INTEGER id with a sequence on PostgreSQL
    sqlite_autoincrement: bool = False


# Parents before children: refresh_spent's foreign key names refresh_families.
_TABLES = (
    _Table(
        "users",
        ("id",),
        unique=("email",),
        indexes=(("skeleton_digest", ("skeleton_digest",), True),),
    ),
    _Table(
        "sessions",
        ("id_digest",),
        unique=("handle",),
        indexes=(
            ("user_created", ("user_id", "created_at"), False),
            ("idle_expires_at", ("idle_expires_at",), False),
            ("absolute_expires_at", ("absolute_expires_at",), False),
        ),
    ),
    _Table("login_failures", ("id",), indexes=(("key_at", ("key", "at"), False),), serial=True),
    _Table("signing_keys", ("generation",)),
    _Table(
        "refresh_families",
        ("id",),
        unique=("current_digest",),
        indexes=(
            ("user_created", ("user_id", "created_at"), False),
            ("expires_at", ("expires_at",), False),
        ),
    ),
    _Table("refresh_spent", ("digest",), indexes=(("family_id", ("family_id",), False),)),
    _Table(
        "revocations",
        ("id",),
        indexes=(("until", ("until",), False),),
        serial=True,
        sqlite_autoincrement=True,
    ),
    _Table(
        "audit_log",
        ("id",),
        indexes=(("at", ("at",), False), ("user_id", ("user_id",), False)),
        serial=True,
    ),
)

Naming = Callable[[str], str]


def _plain(name: str) -> str:
    return name


def _prefixed(name: str) -> str:
    return PREFIX + name


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table(_prefixed("users")):
        return  # created with the prefix (0001 onwards): nothing to rename
    _rename(old=_plain, new=_prefixed)


def downgrade() -> None:
    _rename(old=_prefixed, new=_plain)


def _rename(*, old: Naming, new: Naming) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _refuse_with_foreign_keys_on()
        for table in _TABLES:
            _rebuild_sqlite(table, old, new)
    else:
        for table in _TABLES:
            _rename_postgres(table, old, new)


def _rename_postgres(table: _Table, old: Naming, new: Naming) -> None:
    before, after = old(table.name), new(table.name)
    op.rename_table(before, after)
    renames = [(f"pk_{before}", f"pk_{after}")]
    renames += [(f"uq_{before}_{column}", f"uq_{after}_{column}") for column in table.unique]
    if table.name == "refresh_spent":
        renames.append((_foreign_key(old), _foreign_key(new)))
    for constraint, renamed in renames:
        # A primary key's or a unique constraint's index follows its constraint's name.
        op.execute(f'ALTER TABLE "{after}" RENAME CONSTRAINT "{constraint}" TO "{renamed}"')
    for suffix, _, _ in table.indexes:
        op.execute(f'ALTER INDEX "ix_{before}_{suffix}" RENAME TO "ix_{after}_{suffix}"')
    if table.serial:
        op.execute(f'ALTER SEQUENCE "{before}_id_seq" RENAME TO "{after}_id_seq"')


def _rebuild_sqlite(table: _Table, old: Naming, new: Naming) -> None:
    before, after = old(table.name), new(table.name)
    # Renaming first lets SQLite (3.26+) rewrite the references other tables hold.
    op.rename_table(before, after)
    for suffix, _, _ in table.indexes:
        op.drop_index(f"ix_{before}_{suffix}", table_name=after)
    issued = _sqlite_sequence(after) if table.sqlite_autoincrement else None
    with op.batch_alter_table(
        after,
        recreate="always",
        table_kwargs={"sqlite_autoincrement": table.sqlite_autoincrement},
    ) as batch:
        # An AUTOINCREMENT key is written inline, unnamed (0004 rebuilt revocations so).
        if not table.sqlite_autoincrement:
            batch.drop_constraint(f"pk_{before}", type_="primary")
            batch.create_primary_key(f"pk_{after}", list(table.primary_key))
        for column in table.unique:
            batch.drop_constraint(f"uq_{before}_{column}", type_="unique")
            batch.create_unique_constraint(f"uq_{after}_{column}", [column])
        if table.name == "refresh_spent":
            batch.drop_constraint(_foreign_key(old), type_="foreignkey")
            batch.create_foreign_key(
                _foreign_key(new),
                new("refresh_families"),
                ["family_id"],
                ["id"],
                ondelete="CASCADE",
            )
    for suffix, columns, unique in table.indexes:
        op.create_index(f"ix_{after}_{suffix}", after, list(columns), unique=unique)
    if issued is not None:
        # The copy's counter starts at the highest id copied; nodes may have read ids
        # above it that the sweep has since deleted (issue 14): keep the old counter.
        op.execute(
            sa.text(
                "UPDATE sqlite_sequence SET seq = max(seq, :issued) WHERE name = :name"
            ).bindparams(issued=issued, name=after)
        )


def _sqlite_sequence(table: str) -> int | None:
    query = sa.text("SELECT seq FROM sqlite_sequence WHERE name = :name").bindparams(name=table)
    issued: int | None = op.get_bind().execute(query).scalar()
    return issued


def _foreign_key(naming: Naming) -> str:
    return f"fk_{naming('refresh_spent')}_family_id_{naming('refresh_families')}"


def _refuse_with_foreign_keys_on() -> None:
    """Fail before a rebuild could cascade: dropping refresh_families' old copy with
    foreign keys on would delete every spent refresh token with it."""
    if op.get_bind().exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "SQLite foreign keys are on: run this migration through `authward db upgrade`"
            " (or authward's own upgrade), which turns them off while tables are rebuilt"
        )
