"""Read-only access to a state directory for the commands that only look."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from daemon.config import ProgramConfig
from daemon.core.observed import Observed
from daemon.observe import observe
from daemon.program import StateUnavailable
from daemon.store.db import Store, database_url


def store_exists(url: str) -> bool:
    """A SQLite file that is not there means nothing was ever booked; other databases are asked."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    return bool(parsed.database) and Path(parsed.database).exists()


@contextmanager
def existing_store(cfg: ProgramConfig, state: Path, *, readonly: bool = True) -> Iterator[Store | None]:
    """The program's store if it exists, without creating a state directory for a dry run;
    read-only (no migration, no new files) unless the command must write."""
    if "COACHD_DATABASE_URL" not in os.environ and not cfg.store.url and not state.exists():
        yield None
        return
    url = database_url(state, cfg.store.url)
    if not store_exists(url):
        yield None
        return
    try:
        store = Store.open_readonly(url) if readonly else Store.open(url)
    except (OSError, SQLAlchemyError) as error:
        reason = getattr(error, "orig", None) or error
        raise StateUnavailable(f"cannot open the database for {state}: {reason}") from error
    try:
        yield store
    finally:
        store.dispose()


def read_observed(cfg: ProgramConfig, state: Path) -> tuple[Observed, list[str]]:
    with existing_store(cfg, state) as store:
        if store is None:
            return Observed(), []
        return observe(store, cfg.program.id), []
