"""The migrations authward released up to 0005, before its tables had a prefix.

Kept verbatim (only this environment is new: no target metadata, since the tables of
today are not the tables of then), to make a database exactly as a deployment of that
time has it, and test that today's migrations carry it over.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
