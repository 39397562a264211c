"""``authward db``: the schema."""

from __future__ import annotations

import anyio
import typer

from authward.cli.context import check_database_path, console, settings_or_exit

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration."""
    # Here, not at the top: `authward --help` imports this module (alembic, SQLAlchemy).
    from authward.storage.migrate import upgrade as apply_migrations
    from authward.storage.sql import create_engine

    settings = settings_or_exit()
    check_database_path(settings.database_url)

    async def main() -> None:
        engine = create_engine(settings.database_url)
        try:
            await apply_migrations(engine)
        finally:
            await engine.dispose()

    anyio.run(main)
    console.print("database schema is up to date")
