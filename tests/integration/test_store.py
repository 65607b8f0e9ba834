"""Store tests on SQLite and (with COACHD_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from coachd.store import (
    ActionLog,
    Base,
    Busy,
    Meta,
    Outbox,
    Reply,
    Series,
    SessionRow,
    Store,
    create_store_engine,
    database_url,
    migrate,
)
from coachd.store.db import head_revision

UTC = timezone.utc
T0 = datetime(2027, 1, 11, 15, 0, tzinfo=UTC)


def series(uid: str = "uid-1", key: str = "group:americas", program: str = "p1") -> Series:
    return Series(
        uid=uid,
        program_id=program,
        key=key,
        kind="group",
        title="Group coaching",
        timezone="America/Chicago",
        spec={"every": 14, "start": T0.isoformat()},
        booked_at=T0,
        updated_at=T0,
    )


def outbox(key: str = "mail:p1/s1/agenda/ana") -> Outbox:
    return Outbox(
        key=key,
        program_id="p1",
        kind="agenda",
        recipient="ana",
        to_addr="ana@example.org",
        subject="Agenda",
        message_id="<1@example.org>",
        due_at=T0,
        next_attempt_at=T0,
        created_at=T0,
    )


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    finally:
        store.dispose()


def test_defaults_and_aware_round_trip(store: Store) -> None:
    chicago = datetime(2027, 3, 14, 10, 0, tzinfo=ZoneInfo("America/Chicago"))  # DST starts that day
    with store.session() as s:
        s.add(series())
        s.add(SessionRow(id="uid-1/20270314T150000Z", program_id="p1", series_uid="uid-1", kind="group",
                         recurrence_id=chicago, start=chicago, end=chicago + timedelta(hours=1)))
    with store.session() as s:
        row = s.get(SessionRow, "uid-1/20270314T150000Z")
        assert row is not None
        assert row.start == chicago and row.start.tzinfo == UTC
        assert row.start == datetime(2027, 3, 14, 15, 0, tzinfo=UTC)
        assert row.cancelled is False
        got = s.get(Series, "uid-1")
        assert got is not None
        assert (got.sequence, got.overrides, got.cancelled) == (0, [], False)
        assert got.booked_at.tzinfo == UTC
        # Comparisons in SQL see the same instant whatever zone the parameter is in.
        tokyo = chicago.astimezone(ZoneInfo("Asia/Tokyo"))
        assert s.scalars(select(SessionRow.id).where(SessionRow.start == tokyo)).all() == [row.id]
        assert s.scalars(select(SessionRow.id).where(SessionRow.start > tokyo)).all() == []


def test_naive_datetimes_rejected(store: Store) -> None:
    naive = datetime(2027, 1, 11, 15, 0)
    with pytest.raises(ValueError):
        Busy(program_id="p1", person_id="ana", start=naive, end=T0, source="ics")
    row = Busy(program_id="p1", person_id="ana", start=T0, end=T0, source="ics")
    with pytest.raises(ValueError):
        row.end = naive
    # Core statements bypass the ORM; the column type still refuses (wrapped by SQLAlchemy).
    with pytest.raises(StatementError) as caught, store.session() as s:
        s.execute(insert(Busy), [{"program_id": "p1", "person_id": "ana", "start": naive, "end": T0, "source": "x"}])
    assert isinstance(caught.value.orig, ValueError)
    with store.session() as s:
        assert s.scalars(select(Busy)).all() == []


def test_json_round_trip(store: Store) -> None:
    value = {"cursor": "abc", "n": 3, "nested": [1, {"x": None}], "ok": True, "text": "Zoë ✓"}
    with store.session() as s:
        s.add(Meta(program_id="p1", name="sync", value=value))
        s.add(Meta(program_id="p1", name="clock", value="2027-01-11T15:00:00Z"))
        s.add(ActionLog(key="book:uid-1:0", program_id="p1", kind="book", done_at=T0, detail={"sequence": 0}))
        s.add(Reply(program_id="p1", message_id="<r@x>", received_at=T0, from_addr="a@x", status="handled",
                    rating=4, payload={"answers": ["a", "b"]}, raw=b"\xff\x00raw"))
    with store.session() as s:
        assert s.get(Meta, ("p1", "sync")).value == value  # type: ignore[union-attr]
        assert s.get(Meta, ("p1", "clock")).value == "2027-01-11T15:00:00Z"  # type: ignore[union-attr]
        assert s.get(ActionLog, "book:uid-1:0").detail == {"sequence": 0}  # type: ignore[union-attr]
        reply = s.scalars(select(Reply)).one()
        assert (reply.payload, reply.raw, reply.rating) == ({"answers": ["a", "b"]}, b"\xff\x00raw", 4)


@pytest.mark.parametrize(
    "first, second",
    [
        (lambda: outbox(), lambda: outbox()),
        (lambda: ActionLog(key="k", program_id="p1", kind="book", done_at=T0, detail={}),
         lambda: ActionLog(key="k", program_id="p1", kind="book", done_at=T0, detail={})),
        (lambda: series("uid-1"), lambda: series("uid-2")),
        (lambda: Reply(program_id="p1", message_id="<m>", received_at=T0, from_addr="a", status="handled",
                       payload={}, raw=b""),
         lambda: Reply(program_id="p1", message_id="<m>", received_at=T0, from_addr="a", status="handled",
                       payload={}, raw=b"")),
    ],
    ids=["outbox.key", "action_log.key", "series.program_id+key", "replies.program_id+message_id"],
)
def test_unique_keys_reject_duplicates(store: Store, first, second) -> None:  # type: ignore[no-untyped-def]
    with store.session() as s:
        s.add(first())
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(second())
    with store.session() as s:
        assert len(s.scalars(select(type(first()))).all()) == 1


def test_same_series_key_in_another_program_is_fine(store: Store) -> None:
    with store.session() as s:
        s.add(series("uid-1", program="p1"))
        s.add(series("uid-2", program="p2"))


def test_foreign_key_enforced(store: Store) -> None:
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(SessionRow(id="nope/20270111T150000Z", program_id="p1", series_uid="nope", kind="group",
                         recurrence_id=T0, start=T0, end=T0))


def test_outbox_defaults(store: Store) -> None:
    with store.session() as s:
        s.add(outbox())
    with store.session() as s:
        row = s.scalars(select(Outbox)).one()
        assert (row.status, row.attempts, row.sent_at, row.id) == ("queued", 0, None, 1)


def test_migrate_twice_is_a_no_op(store: Store) -> None:
    with store.session() as s:
        s.add(outbox())
    migrate(store.engine)
    migrate(store.engine)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    with store.session() as s:
        assert len(s.scalars(select(Outbox)).all()) == 1


def test_no_migration_drift(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(connection).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}


def _open_and_write(url: str, n: int) -> None:
    store = Store.open(url)
    try:
        with store.session() as s:
            s.add(outbox(f"mail:p1/s1/agenda/{n}"))
    finally:
        store.dispose()


def test_concurrent_open_is_safe(database_url: str) -> None:
    # Fresh database: every process races to create the schema; the lock makes all but one no-ops.
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open_and_write, args=(database_url, n)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM outbox")).scalar() == 4
    finally:
        engine.dispose()


def test_database_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state" / "deep"
    monkeypatch.delenv("COACHD_DATABASE_URL", raising=False)
    assert database_url(state, None) == f"sqlite:///{state.resolve() / 'coachd.sqlite'}"
    assert state.is_dir()
    assert database_url(state, "postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"
    monkeypatch.setenv("COACHD_DATABASE_URL", "sqlite:///elsewhere.sqlite")
    assert database_url(state, "postgresql+psycopg://h/db") == "sqlite:///elsewhere.sqlite"


def _empty(database_url: str) -> None:
    """Make the database exist with nothing of coachd's in it (PostgreSQL's fixture schema already does)."""
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).touch()


def test_read_only_store_reports_no_schema_then_the_head(database_url: str) -> None:


    _empty(database_url)
    with Store.open_readonly(database_url) as looking:
        assert looking.schema_revision() is None
    with Store.open(database_url) as opened:
        assert opened.schema_revision() == head_revision() is not None


def test_read_only_store_refuses_writes_on_every_backend(database_url: str) -> None:
    from sqlalchemy.exc import DBAPIError

    Store.open(database_url).dispose()
    with Store.open_readonly(database_url) as looking:
        with pytest.raises(DBAPIError, match="(?i)read-?only"), looking.session() as db:
            db.add(Meta(program_id="p1", name="n", value=1))
        # The pool hands the same connections out again: still read-only after that rollback.
        with pytest.raises(DBAPIError, match="(?i)read-?only"), looking.session() as db:
            db.execute(insert(Meta).values(program_id="p1", name="m", value=2))
    with Store.open(database_url) as opened, opened.session() as db:
        assert db.scalars(select(Meta)).all() == []


def test_database_url_for_a_look_creates_no_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COACHD_DATABASE_URL", raising=False)
    state = tmp_path / "never"
    assert database_url(state, None, create=False).endswith("/never/coachd.sqlite")
    assert not state.exists()


def test_an_outbox_from_before_0002_keeps_every_message_through_the_upgrade(database_url: str) -> None:
    from alembic import command


    from coachd.store.db import alembic_config, create_store_engine
    from coachd.store.models import OutboxMessage

    _empty(database_url)
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "0001")
            connection.execute(text(
                "INSERT INTO outbox (key, program_id, kind, recipient, to_addr, subject, message, message_id, status, "
                "attempts, due_at, next_attempt_at, created_at) VALUES ('mail:p1/old', 'p1', 'agenda', 'ana', "
                "'ana@example.org', 'Agenda', :raw, '<old@example.org>', 'queued', 0, :t, :t, :t)"),
                {"raw": b"Subject: Agenda\r\n\r\nkept\r\n", "t": T0.replace(tzinfo=None)})
            connection.commit()
        migrate(engine)
    finally:
        engine.dispose()
    store = Store.open(database_url)
    try:
        with store.session() as s:
            assert s.get(OutboxMessage, "mail:p1/old").message == b"Subject: Agenda\r\n\r\nkept\r\n"
            assert s.scalars(select(Outbox.key)).all() == ["mail:p1/old"]
    finally:
        store.dispose()


def test_an_email_queued_before_0004_is_unclaimed_and_never_resent_after_the_upgrade(database_url: str) -> None:
    from alembic import command

    from coachd.store.db import alembic_config

    _empty(database_url)
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "0003")
            connection.execute(text(
                "INSERT INTO outbox (key, program_id, kind, recipient, to_addr, subject, message_id, status, "
                "attempts, due_at, next_attempt_at, created_at) VALUES ('mail:p1/old', 'p1', 'agenda', 'ana', "
                "'ana@example.org', 'Agenda', '<old@example.org>', 'queued', 0, :t, :t, :t)"),
                {"t": T0.replace(tzinfo=None)})
            connection.commit()
        migrate(engine)
    finally:
        engine.dispose()
    store = Store.open(database_url)
    try:
        with store.session() as s:
            row = s.scalars(select(Outbox)).one()
            assert (row.claimed_by, row.sending_at, row.resent_after_crash) == (None, None, 0)
    finally:
        store.dispose()


def test_switching_a_new_file_to_wal_waits_out_another_process_doing_the_same() -> None:
    """SQLite refuses the WAL switch at once ("database is locked") while another process holds the
    new file, without using busy_timeout: the switch is retried instead of failing the open."""
    import sqlite3

    from coachd.store.db import _enable_wal

    class Racing:
        def __init__(self, refusals: int, error: str = "database is locked") -> None:
            self.refusals, self.error, self.calls = refusals, error, 0

        def execute(self, sql: str) -> None:
            self.calls += 1
            if self.calls <= self.refusals:
                raise sqlite3.OperationalError(self.error)

    racing = Racing(refusals=2)
    _enable_wal(racing)
    assert racing.calls == 3
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        _enable_wal(Racing(refusals=1, error="disk I/O error"))  # anything else is not waited out
