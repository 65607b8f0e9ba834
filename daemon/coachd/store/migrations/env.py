"""Alembic environment: runs on the connection `coachd.store.db.migrate` hands over, or on a URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from coachd.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        # Batch mode makes future ALTERs work on SQLite (table copy) and is a no-op elsewhere.
        render_as_batch=True,
        **kwargs,
    )


def _url() -> str:
    url = os.environ.get("COACHD_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set COACHD_DATABASE_URL or sqlalchemy.url")
    return url


def run_offline() -> None:
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    _configure(connection=connection)
    # The caller began the transaction holding the migration lock, so this joins it.
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    # The same PRAGMAs and migration lock as the daemon's own migrate().
    from coachd.store.db import create_store_engine, lock_for_migration

    engine = create_store_engine(_url())
    try:
        with engine.connect() as connection:
            lock_for_migration(connection)
            run_on(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
