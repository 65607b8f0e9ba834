"""A second daemon on one program in one PostgreSQL database is refused, like a second daemon on one
SQLite state (issue 14 point 9: two daemons raced, an IntegrityError, two reply secrets)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from coachd.config import load_config
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import StateUnavailable, open_program
from tests.support.databases import postgres_schema_url
from tests.support.ticks import EXAMPLE

# The machine's PostgreSQL, as CI uses it (.ci/run), unless the environment names another.
PG_URL = os.environ.get("COACHD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2027, 1, 11, 9, tzinfo=UTC)


def _reachable(url: str) -> bool:
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not _reachable(PG_URL):
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
    yield from postgres_schema_url(PG_URL)


def config(url: str):
    cfg = load_config(EXAMPLE)
    return cfg.model_copy(update={"store": cfg.store.model_copy(update={"url": url})})


def test_a_second_daemon_on_the_same_program_in_the_same_database_is_refused(tmp_path: Path, pg_url: str):
    cfg = config(pg_url)
    first = open_program(cfg, tmp_path / "one", VirtualClock(NOW))
    try:
        with pytest.raises(StateUnavailable) as refused:
            open_program(cfg, tmp_path / "two", VirtualClock(NOW))  # another state directory, another host
        message = str(refused.value)
        assert f"program {cfg.program.id} in database test" in message
        assert f"pid {os.getpid()}" in message and "run by another coachd" in message
        # The daemon's own sender opens the program without the lock: it is not refused.
        open_program(cfg, tmp_path / "one", VirtualClock(NOW), locked=False).close()
    finally:
        first.close()
    # Closing the first frees the program at once.
    open_program(cfg, tmp_path / "two", VirtualClock(NOW)).close()


def test_another_program_in_the_same_database_is_not_refused(tmp_path: Path, pg_url: str):
    cfg = config(pg_url)
    other = cfg.model_copy(update={"program": cfg.program.model_copy(update={"id": "another-program"})})
    first = open_program(cfg, tmp_path / "one", VirtualClock(NOW))
    try:
        open_program(other, tmp_path / "two", VirtualClock(NOW)).close()
    finally:
        first.close()
