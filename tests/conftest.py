"""Shared fixtures: a database URL per backend (SQLite always, PostgreSQL when configured), a Store, and
one Dovecot per session for the IMAP tests of every tier (contracts and integration)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coachd.store import Store
from tests.support.databases import postgres_schema_url
from tests.support.imap_server import NOT_INSTALLED, Dovecot, binaries, running_dovecot

PG_ENV = "COACHD_TEST_DATABASE_URL"




@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"set {PG_ENV} to run against PostgreSQL"),
        ),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coachd.sqlite'}"
    else:
        yield from postgres_schema_url(os.environ[PG_ENV])


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    try:
        yield opened
    finally:
        opened.dispose()


_folder_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A real Dovecot on loopback for the session; the test is skipped where Dovecot is not installed."""
    if binaries() is None:
        pytest.skip(NOT_INSTALLED)
    with running_dovecot() as server:
        yield server


@pytest.fixture
def folder(dovecot: Dovecot) -> str:
    """A new, empty folder for each test: all tests share one Dovecot user."""
    name = f"Replies{next(_folder_numbers)}"
    with dovecot.admin() as client:
        client.create_folder(name)
    return name
