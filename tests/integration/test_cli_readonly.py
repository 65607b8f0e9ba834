"""`status` and `plan` only look at the state: they leave every file as it was, create no database
and no SQLite side file (which, made by root in the service's state, would lock the daemon out),
and never migrate. Tests run as root, who ignores file modes, so they compare files instead."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect

from coachd.cli.commands import main
from coachd.runtime.simulator import CLOCK_KEY
from coachd.store.db import Store, create_store_engine, sqlite_url
from coachd.store.models import Meta

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"
PG_ENV = "COACHD_TEST_DATABASE_URL"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `folder` with its modification time and bytes."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def look(state: Path) -> None:
    """Everything an admin runs that only looks."""
    for args in (("status",), ("status", "--json"), ("plan", "--at", "2027-01-12")):
        result = invoke(args[0], str(EXAMPLE), "--state", str(state), *args[1:])
        assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    result = invoke("simulate", str(EXAMPLE), "--until", "2027-01-12", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_status_and_plan_leave_every_file_as_it_was_and_add_none(simulated, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    for path in simulated.iterdir():
        if path.is_file():
            (state / path.name).write_bytes(path.read_bytes())
    assert not (state / "coachd.sqlite-wal").exists()  # the simulation closed its database cleanly
    before = snapshot(state)
    look(state)
    assert snapshot(state) == before  # in particular no coachd.sqlite-wal or -shm


def test_status_reads_what_a_running_daemon_has_not_checkpointed_yet(simulated, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "coachd.sqlite").write_bytes((simulated / "coachd.sqlite").read_bytes())
    daemon = Store.open(sqlite_url(state))  # holds its connection open, as `coachd run` does
    try:
        with daemon.session() as db:
            db.get(Meta, ("northwind-2027", CLOCK_KEY)).value = "2027-01-20T06:00:00+00:00"
        assert (state / "coachd.sqlite-wal").stat().st_size > 0
        result = invoke("status", str(EXAMPLE), "--state", str(state), "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["as_of"] == "2027-01-20T06:00:00+00:00"
    finally:
        daemon.dispose()


def test_an_empty_database_file_is_no_state_yet(tmp_path):
    (tmp_path / "coachd.sqlite").touch()
    before = snapshot(tmp_path)
    result = invoke("status", str(EXAMPLE), "--state", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "nothing booked yet" in result.output
    assert json.loads(invoke("status", str(EXAMPLE), "--state", str(tmp_path), "--json").output)["series"] == 0
    plan = invoke("plan", str(EXAMPLE), "--state", str(tmp_path), "--at", "2027-01-01")
    assert plan.exit_code == 0 and "to book" in plan.output
    assert snapshot(tmp_path) == before, "no table was created"


def test_no_database_at_all_is_no_state_yet_and_stays_so(tmp_path):
    look(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_database_at_another_schema_revision_is_reported_not_migrated(simulated, tmp_path):
    database = tmp_path / "coachd.sqlite"
    database.write_bytes((simulated / "coachd.sqlite").read_bytes())
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0000_older'")
    connection.close()
    before = snapshot(tmp_path)
    for command in ("status", "plan"):
        result = invoke(command, str(EXAMPLE), "--state", str(tmp_path))
        assert result.exit_code == 2
        assert "'0000_older'" in result.stderr and "coachd run" in result.stderr
        assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"set {PG_ENV} to run against PostgreSQL")
    from tests.support.databases import postgres_schema_url

    schema = postgres_schema_url(os.environ[PG_ENV])
    yield next(schema)
    next(schema, None)  # drops the schema


def test_status_on_postgresql_creates_no_table_and_reads_what_is_there(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("COACHD_DATABASE_URL", postgres_url)
    empty = invoke("status", str(EXAMPLE), "--state", str(tmp_path / "state"))
    assert empty.exit_code == 0, empty.output
    assert "nothing booked yet" in empty.output
    engine = create_store_engine(postgres_url)
    try:
        assert inspect(engine).get_table_names() == [], "looking created no table"
    finally:
        engine.dispose()
    with Store.open(postgres_url) as daemon, daemon.session() as db:
        db.add(Meta(program_id="northwind-2027", name=CLOCK_KEY, value="2027-01-20T06:00:00+00:00"))
    result = invoke("status", str(EXAMPLE), "--state", str(tmp_path / "state"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["as_of"] == "2027-01-20T06:00:00+00:00"
    assert not (tmp_path / "state").exists()
