"""Read-only access to a state directory for the commands that only look."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from coachd.config import ProgramConfig
from coachd.model.observed import Observed
from coachd.observe.observer import CLOCK_KEY, observe
from coachd.model.types import UTC
from coachd.runtime.wiring import StateUnavailable
from coachd.store import meta_repo
from coachd.store.db import Store, StoreError, create_store_engine, database_url, head_revision, store_exists


def simulated_clock(store: Store, program_id: str) -> datetime | None:
    """The simulation's clock in a simulated state; None in a real one."""
    with store.session() as db:
        clock = meta_repo.get(db, program_id, CLOCK_KEY)
    return datetime.fromisoformat(clock) if clock is not None else None


def state_now(store: Store, program_id: str) -> datetime:
    """Now as the state knows it: the simulation's clock in a simulated state, else the real one."""
    return simulated_clock(store, program_id) or datetime.now(UTC)


def clock_of(cfg: ProgramConfig, state: Path) -> datetime:
    """Now as the state in `state` knows it, for the commands that look (plan, preview, status, report):
    the simulation's clock when the state is a simulation, the real one otherwise or when nothing is stored."""
    with existing_store(cfg, state) as store:
        return state_now(store, cfg.program.id) if store is not None else datetime.now(UTC)


def simulation_clock_of(cfg: ProgramConfig, state: Path) -> datetime | None:
    """The simulation's clock when `state` holds a simulation; None for a real state or an empty one."""
    with existing_store(cfg, state) as store:
        return simulated_clock(store, cfg.program.id) if store is not None else None


@contextmanager
def existing_store(cfg: ProgramConfig, state: Path, *, readonly: bool = True) -> Iterator[Store | None]:
    """The program's store, or None when nothing was ever stored (no state directory, no database
    file, no coachd tables), without creating anything; read-only (no migration, no writes, no new
    files) unless the command must write. Even then a database at another schema revision is refused,
    never upgraded: only `coachd run`, which holds the state's lock, upgrades one."""
    if "COACHD_DATABASE_URL" not in os.environ and not cfg.store.url and not state.exists():
        yield None
        return
    url = database_url(state, cfg.store.url, create=False)
    if not store_exists(url):
        yield None
        return
    if not readonly:
        probe = _open(url, state, True)
        try:
            current = _has_schema(probe, state)
        finally:
            probe.dispose()
        if not current:
            yield None
            return
    store = _open(url, state, readonly)
    try:
        yield store if not readonly or _has_schema(store, state) else None
    finally:
        store.dispose()


def _open(url: str, state: Path, readonly: bool) -> Store:
    # Writable only once the probe found the schema at head: nothing to migrate, so no migration (and
    # its write lock against the running daemon) is attempted.
    try:
        return Store.open_readonly(url) if readonly else Store(create_store_engine(url))
    except (OSError, StoreError) as error:
        raise _unavailable(state, error) from error


def _has_schema(store: Store, state: Path) -> bool:
    """Whether the database holds this version's tables; a read-only look cannot migrate, so a
    database at another revision is the admin's to sort out rather than a traceback."""
    try:
        revision = store.schema_revision()
    except StoreError as error:
        raise _unavailable(state, error) from error
    if revision is None:
        return False
    head = head_revision()
    if revision != head:
        raise StateUnavailable(
            f"the database for {state} is at schema revision {revision!r}, this version of coachd reads {head!r}: "
            "`coachd run` upgrades an older database (looking never does); a newer one needs a newer coachd")
    return True


def _unavailable(state: Path, error: Exception) -> StateUnavailable:
    reason = getattr(error, "orig", None) or error
    return StateUnavailable(f"cannot open the database for {state}: {reason}")


def read_observed(cfg: ProgramConfig, state: Path) -> tuple[Observed, list[str]]:
    with existing_store(cfg, state) as store:
        if store is None:
            return Observed(), []
        return observe(store, cfg.program.id), []
