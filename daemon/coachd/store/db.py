"""Engines, migrations and the `Store` handle: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import tenacity
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .program_lock import ProgramLock, hold_program

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
ENV_URL = "COACHD_DATABASE_URL"
BUSY_TIMEOUT_MS = 5000
# Arbitrary constant shared by every coachd process: the advisory lock that serialises migrations.
PG_MIGRATION_LOCK = 0x636F61636864  # "coachd"

# What the store raises when the database cannot be opened, reached or read: callers outside the
# store catch it under this name, without knowing the store is SQLAlchemy.
StoreError = SQLAlchemyError


def database_url(state_dir: Path, configured: str | None, *, create: bool = True) -> str:
    """The URL to use: $COACHD_DATABASE_URL, else the configured one, else SQLite in state_dir."""
    url = os.environ.get(ENV_URL) or configured
    if url:
        return url
    return sqlite_url(state_dir, create=create)


def sqlite_url(state_dir: Path, *, create: bool = True) -> str:
    """The embedded default: SQLite in the state directory, which is created unless `create` is
    false (commands that only look must not leave a directory behind)."""
    state_dir = Path(state_dir).expanduser()
    if create:
        state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state_dir.resolve() / 'coachd.sqlite'}"


def store_exists(url: str) -> bool:
    """A SQLite file that is not there means nothing was ever booked; other databases are asked."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    return bool(parsed.database) and Path(parsed.database).exists()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL needs a brief exclusive lock that another process
        # opening the same new file may hold.
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # WAL lets readers (the CLI) run while the daemon writes; the setting persists in the file.
        _enable_wal(cursor)
        # In WAL mode NORMAL is safe against a crash of the process (what the crash tests do); it can
        # lose the last commits on power loss, which the level-triggered planner re-plans.
        cursor.execute("PRAGMA synchronous = NORMAL")
        # SQLite leaves foreign keys off unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _locked(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


# Not the provider retry policy (providers/retry.py): a lock held for milliseconds by another
# process opening the same file, polled as SQLite's own busy handler would, with the same library.
def _wal_switch() -> tenacity.Retrying:
    return tenacity.Retrying(retry=tenacity.retry_if_exception(_locked), wait=tenacity.wait_fixed(0.02),
                             stop=tenacity.stop_after_delay(BUSY_TIMEOUT_MS / 1000), reraise=True)


def _enable_wal(cursor: Any) -> None:
    """Switch to WAL. On a new file that other processes are opening too, SQLite can refuse with
    "database is locked" at once, without waiting on busy_timeout (its busy handler is skipped there
    to avoid a deadlock), so retry for as long as busy_timeout would have waited."""
    _wal_switch()(cursor.execute, "PRAGMA journal_mode = WAL")


def create_store_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the per-backend settings coachd relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)  # survive server restarts and idle-connection reaping
    return create_engine(parsed, **kwargs)


def lock_for_migration(connection: Connection) -> None:
    """Begin the migration transaction holding a lock, so concurrent migrators run one at a time.

    The second process waits, then finds the version table at head and does nothing.
    """
    backend = connection.dialect.name
    if backend == "sqlite":
        # pysqlite only begins implicitly before DML, so DDL would run unlocked and unatomic;
        # BEGIN IMMEDIATE takes the write lock (waiting up to busy_timeout) before alembic reads
        # its version table.
        if connection.in_transaction():
            connection.commit()
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif backend == "postgresql":
        # Transaction-scoped: released by the commit or rollback that ends the migration.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
    elif not connection.in_transaction():
        connection.begin()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code: no alembic.ini, works from an installed package."""
    config = Config()
    # configparser interpolates '%', so a path containing one must be escaped.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest schema; a no-op when it is already there."""
    with engine.connect() as connection:
        lock_for_migration(connection)
        command.upgrade(alembic_config(connection), "head")
        connection.commit()


def head_revision() -> str | None:
    """The newest migration this version of coachd knows: what `Store.open` upgrades to."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _sqlite_readonly_url(path: Path) -> str:
    """A read-only URI for the SQLite file at `path` that creates no file beside it.

    A read-only connection to a WAL database still creates `-wal` and `-shm` files when they are
    missing, and leaves them behind; run as root (an admin looking at the service's state), those
    would belong to root and lock the daemon's own user out. They are missing only when no
    connection is open, i.e. every change is already in the main file: then `immutable=1` reads
    that file alone, with no lock and no side file. Should the daemon start during that read, its
    writes go to a new `-wal` first, so the file read stays as it was unless a checkpoint lands in
    those milliseconds. With a `-wal` present the daemon may be writing, so the normal read-only
    mode shares its locks through the existing `-shm`.
    """
    path = path.resolve()
    wal = path.with_name(path.name + "-wal")
    quiet = "" if wal.exists() else "&immutable=1"
    return f"sqlite:///file:{quote(str(path))}?mode=ro{quiet}&uri=true"


def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
    """PostgreSQL: every transaction on this connection is read-only, so a look cannot write."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    finally:
        cursor.close()
    # Committed, or the pool's reset-on-return rollback would undo the setting.
    dbapi_connection.commit()


class Store:
    """An engine with its schema up to date and a session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Objects stay readable after commit: callers hand rows to the planner outside the session.
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._program_lock: ProgramLock | None = None

    @classmethod
    def open(cls, url: str, **engine_kwargs: Any) -> Store:
        engine = create_store_engine(url, **engine_kwargs)
        try:
            migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @classmethod
    def open_readonly(cls, url: str) -> Store:
        """For commands that only look (`status`, `plan`): no migration, no writes, no new files, so
        looking never creates, upgrades or takes over files that belong to the daemon's user."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            return cls(create_engine(_sqlite_readonly_url(Path(parsed.database)), connect_args={"timeout": 5}))
        engine = create_store_engine(url)
        event.listen(engine, "connect", _read_only_session)
        return cls(engine)

    def schema_revision(self) -> str | None:
        """The migration the database is at; None when coachd never created its tables there."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def hold_program(self, program_id: str) -> None:
        """Refuse a second daemon on this program in this PostgreSQL database, held until `dispose`
        (store/program_lock.py; a no-op on SQLite, where the state directory's lock does it).
        Raises program_lock.ProgramInUse naming the holder."""
        if self._program_lock is None:
            self._program_lock = hold_program(self.engine.url.render_as_string(hide_password=False), program_id)

    def dispose(self) -> None:
        if self._program_lock is not None:
            self._program_lock.release()
            self._program_lock = None
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()
