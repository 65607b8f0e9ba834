"""Shared fixtures: a database URL per backend (SQLite always, PostgreSQL when configured) and a Store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coachd.store import Store
from tests.support.databases import postgres_schema_url

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
