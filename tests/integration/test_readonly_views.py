"""`status` and `plan` only look: they never migrate, write or create a database."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from coachd.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_status_and_plan_leave_the_database_as_it_was(tmp_path):
    out = tmp_path / "sim"
    assert invoke("simulate", str(EXAMPLE), "--until", "2027-01-12", "--out", str(out)).exit_code == 0
    database = out / "coachd.sqlite"
    before = digest(database)
    status = invoke("status", str(EXAMPLE), "--state", str(out), "--json")
    assert status.exit_code == 0 and json.loads(status.output)["series"] > 0
    assert invoke("plan", str(EXAMPLE), "--state", str(out), "--at", "2027-01-12").exit_code == 0
    assert digest(database) == before
    assert not (out / "coachd.sqlite-wal").exists() or (out / "coachd.sqlite-wal").stat().st_size == 0


def test_status_and_plan_on_a_state_never_used_create_nothing(tmp_path):
    state = tmp_path / "fresh"
    state.mkdir()
    assert invoke("status", str(EXAMPLE), "--state", str(state)).exit_code == 0
    assert invoke("plan", str(EXAMPLE), "--state", str(state), "--at", "2027-01-01").exit_code == 0
    assert list(state.iterdir()) == []


def test_the_read_only_store_cannot_write_even_by_mistake(tmp_path):
    import pytest
    from sqlalchemy.exc import OperationalError

    from coachd.store.db import Store, sqlite_url
    from coachd.store.models import Meta

    url = sqlite_url(tmp_path)
    Store.open(url).dispose()  # created and migrated, as the daemon does
    store = Store.open_readonly(url)
    try:
        with pytest.raises(OperationalError, match="readonly"):
            with store.session() as db:
                db.add(Meta(program_id="p", name="n", value=1))
    finally:
        store.dispose()
