"""Provider ids in the store (migration 0003): each series' event id and its occurrences' ids beside
coachd's UID, on SQLite and (with COACHD_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from coachd.config import load_config
from coachd.model.types import UTC, Attendee, BookedSeries, Role, SeriesSpec, SessionKind
from coachd.store import Store, series_repo
from coachd.store.db import alembic_config, create_store_engine, migrate
from tests.support.ticks import EXAMPLE, program_start, tick

T0 = datetime(2027, 1, 11, 15, 0, tzinfo=UTC)
COACH = Attendee("lena", "Lena", "lena@example.org", "Europe/Berlin", Role.COACH)
# Shaped like Google Calendar's: an event id, and an instance's id with its original start appended.
EVENT_ID = "7kq2b1v5n0c9h3m8r4t6"


def weekly(uid: str = "uid-1@example.org", sequence: int = 0) -> BookedSeries:
    spec = SeriesSpec("group:t", uid, SessionKind.GROUP, "Group", "Europe/Berlin", T0, timedelta(hours=1), COACH,
                      (), timedelta(weeks=1), T0 + timedelta(weeks=6))
    return BookedSeries(spec, sequence=sequence)


def instance_ids(series: BookedSeries) -> dict[datetime, str]:
    return {o.recurrence_id: f"{EVENT_ID}_{o.recurrence_id:%Y%m%dT%H%M%SZ}" for o in series.occurrences()}


def test_a_series_written_with_provider_ids_reads_back_with_them(store: Store) -> None:
    series = weekly()
    ids = instance_ids(series)
    with store.session() as db:
        series_repo.record(db, "p1", series, T0, T0)
        series_repo.set_provider_event_id(db, series.spec.uid, EVENT_ID)
        series_repo.set_occurrence_ids(db, series.spec.uid, ids)
    with store.session() as db:
        kept = series_repo.provider_ids(db, series.spec.uid)
        assert kept == series_repo.ProviderIds(EVENT_ID, ids)
        assert all(r.tzinfo is not None for r in kept.occurrences), "recurrence ids come back aware"
        assert series_repo.get(db, series.spec.uid).provider_event_id == EVENT_ID  # type: ignore[union-attr]
        assert series_repo.uid_of_provider_event(db, "p1", EVENT_ID) == series.spec.uid
        assert series_repo.uid_of_provider_event(db, "p2", EVENT_ID) is None


def test_provider_ids_outlive_a_series_recorded_again(store: Store) -> None:
    # The executor rewrites a series' sessions whole each time it records it (a move, an adoption):
    # the provider's ids are the provider's, and stay.
    series = weekly()
    ids = instance_ids(series)
    with store.session() as db:
        series_repo.record(db, "p1", series, T0, T0)
        series_repo.set_provider_event_id(db, series.spec.uid, EVENT_ID)
        series_repo.set_occurrence_ids(db, series.spec.uid, ids)
    with store.session() as db:
        series_repo.record(db, "p1", weekly(sequence=1), T0, T0 + timedelta(days=1))
    with store.session() as db:
        assert series_repo.provider_ids(db, series.spec.uid) == series_repo.ProviderIds(EVENT_ID, ids)
        assert series_repo.get(db, series.spec.uid).sequence == 1  # type: ignore[union-attr]


def test_occurrence_ids_are_updated_one_by_one(store: Store) -> None:
    series = weekly()
    first, second = (o.recurrence_id for o in series.occurrences()[:2])
    with store.session() as db:
        series_repo.record(db, "p1", series, T0, T0)
        series_repo.set_occurrence_ids(db, series.spec.uid, {first: "a", second: "b"})
    with store.session() as db:
        series_repo.set_occurrence_ids(db, series.spec.uid, {second: "b2"})
    with store.session() as db:
        assert series_repo.provider_ids(db, series.spec.uid) == series_repo.ProviderIds(None, {first: "a", second: "b2"})


def test_a_series_without_provider_ids_reads_back_empty(store: Store) -> None:
    series = weekly()
    with store.session() as db:
        series_repo.record(db, "p1", series, T0, T0)
    with store.session() as db:
        assert series_repo.provider_ids(db, series.spec.uid) == series_repo.ProviderIds(None, {})


def test_the_local_calendar_leaves_provider_ids_null(tmp_path: Path) -> None:
    # The local calendar knows events by their UID only: it has no ids of its own to keep.
    cfg = load_config(EXAMPLE)
    tick(tmp_path / "state", cfg, program_start(cfg))
    with Store.open(f"sqlite:///{tmp_path / 'state' / 'coachd.sqlite'}") as store, store.session() as db:
        uids = [uid for uid, _, _ in series_repo.versions(db, cfg.program.id)]
        assert len(uids) > 5
        assert [series_repo.provider_ids(db, uid) for uid in uids] == [series_repo.ProviderIds(None, {})] * len(uids)


def _empty(database_url: str) -> None:
    """Make the database exist with nothing of coachd's in it (PostgreSQL's fixture schema already does)."""
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).touch()


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)


def test_migration_0003_goes_up_and_down_keeping_every_row(database_url: str) -> None:
    _empty(database_url)
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "0002")
            # Written as 0002 knows the tables: a series with a session, a queued email and its message.
            connection.execute(text(
                "INSERT INTO series (uid, program_id, key, kind, title, timezone, spec, sequence, overrides, cancelled, "
                "booked_at, updated_at) VALUES ('uid-1', 'p1', 'group:t', 'group', 'Group', 'Europe/Berlin', '{}', 3, "
                "'[]', false, :t, :t)"), {"t": _naive(T0)})
            connection.execute(text(
                "INSERT INTO sessions (id, program_id, series_uid, kind, recurrence_id, start, \"end\", cancelled) "
                "VALUES ('uid-1/20270111T150000Z', 'p1', 'uid-1', 'group', :t, :t, :e, false)"),
                {"t": _naive(T0), "e": _naive(T0 + timedelta(hours=1))})
            connection.execute(text(
                "INSERT INTO outbox (key, program_id, kind, recipient, to_addr, subject, message_id, status, attempts, "
                "due_at, next_attempt_at, created_at) VALUES ('mail:p1/k', 'p1', 'agenda', 'ana', 'ana@example.org', "
                "'Agenda', '<1@example.org>', 'queued', 0, :t, :t, :t)"), {"t": _naive(T0)})
            connection.execute(text("INSERT INTO outbox_messages (key, message) VALUES ('mail:p1/k', :m)"),
                               {"m": b"Subject: Agenda\r\n\r\nkept\r\n"})
            connection.commit()

        with engine.connect() as connection:  # 0002 -> 0003 (later revisions have tests of their own)
            command.upgrade(alembic_config(connection), "0003")
            connection.commit()
        assert _revision(engine) == "0003"
        assert "provider_event_id" in _columns(engine, "series")
        assert "occurrence_ids" in inspect(engine).get_table_names()
        store = Store(engine)
        with store.session() as db:
            row = series_repo.get(db, "uid-1")
            assert row is not None and (row.sequence, row.booked_at, row.provider_event_id) == (3, T0, None)
            series_repo.set_provider_event_id(db, "uid-1", EVENT_ID)
            series_repo.set_occurrence_ids(db, "uid-1", {T0: f"{EVENT_ID}_20270111T150000Z"})
        with store.session() as db:
            assert series_repo.provider_ids(db, "uid-1").event_id == EVENT_ID
        _assert_0002_rows_kept(engine)

        with engine.connect() as connection:
            command.downgrade(alembic_config(connection), "0002")
            connection.commit()
        assert _revision(engine) == "0002"
        assert "provider_event_id" not in _columns(engine, "series")
        assert "occurrence_ids" not in inspect(engine).get_table_names()
        _assert_0002_rows_kept(engine)

        migrate(engine)  # and up again: the ids were dropped with the columns that held them
        with Store(engine).session() as db:
            assert series_repo.provider_ids(db, "uid-1") == series_repo.ProviderIds(None, {})
        _assert_0002_rows_kept(engine)
    finally:
        engine.dispose()


def _revision(engine) -> str:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


def _columns(engine, table: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {c["name"] for c in inspect(engine).get_columns(table)}


def _assert_0002_rows_kept(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT uid, key, sequence FROM series")).all() == [("uid-1", "group:t", 3)]
        assert connection.execute(text("SELECT id, series_uid FROM sessions")).all() == [
            ("uid-1/20270111T150000Z", "uid-1")]
        assert connection.execute(text("SELECT key, status FROM outbox")).all() == [("mail:p1/k", "queued")]
        assert connection.execute(text("SELECT message FROM outbox_messages")).scalar_one() == (
            b"Subject: Agenda\r\n\r\nkept\r\n")
