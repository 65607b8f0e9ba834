"""CalendarProvider: the contract every calendar must keep, run against the local folder calendar.

A Google or Graph fake subclasses `CalendarProviderContract` and supplies the `provider` fixture.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from coachd.model.types import UTC, Attendee, BookedSeries, Override, Role, SeriesSpec, SessionKind, to_utc
from coachd.mail.ical import canonical_rrule, series_calendar
from coachd.providers.base import (
    CalendarProvider,
    CalendarStoreError,
    SeriesNotFound,
    SyncCursorExpired,
)
from coachd.providers.local.calendar import LocalCalendar, file_name

CHICAGO = ZoneInfo("America/Chicago")
STAMP = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ORG_NAME, ORG_EMAIL = "Northwind Coaching Office", "coaching@northwind.example"
MARIA = Attendee("maria", "Maria Lopez", "maria@northwind.example", "America/Chicago", Role.COACH)
ANA = Attendee("ana", "Ana Souza", "ana@northwind.example", "America/Sao_Paulo", Role.COACHEE)
BEN = Attendee("ben", "Ben Carter", "ben@northwind.example", "Europe/London", Role.COACHEE)


def make_series(uid: str = "northwind-2027-group-americas@coachd.example", **changes: object) -> BookedSeries:
    spec = SeriesSpec(
        key=f"series:{uid}",
        uid=uid,
        kind=SessionKind.GROUP,
        title="Americas Enterprise — group",
        timezone="America/Chicago",
        start=datetime(2027, 1, 4, 10, 0, tzinfo=CHICAGO),
        length=timedelta(minutes=60),
        host=MARIA,
        attendees=(ANA, BEN),
        every=timedelta(weeks=1),
        until=datetime(2027, 12, 17, 23, 59, tzinfo=CHICAGO),
        team_id="americas",
    )
    series_changes = {k: changes.pop(k) for k in ("sequence", "overrides", "cancelled") if k in changes}
    return BookedSeries(replace(spec, **changes), **series_changes)


def moved(rid_local: datetime, hours: int) -> Override:
    return Override(rid_local, rid_local + timedelta(hours=hours), rid_local + timedelta(hours=hours + 1))


class CalendarProviderContract:
    """Behaviour every CalendarProvider must have. Subclasses provide a fresh, empty `provider`."""

    @pytest.fixture
    def provider(self) -> CalendarProvider:
        raise NotImplementedError

    def upsert(self, provider: CalendarProvider, series: BookedSeries) -> None:
        provider.upsert_series(series, ORG_NAME, ORG_EMAIL, dtstamp=STAMP)

    def only(self, provider: CalendarProvider, uid: str):
        found = [e for e in provider.list_series() if e.uid == uid]
        assert len(found) == 1, f"expected exactly one entry for {uid}, got {found}"
        return found[0]

    def test_satisfies_the_protocol(self, provider: CalendarProvider) -> None:
        assert isinstance(provider, CalendarProvider)

    def test_empty_calendar_lists_nothing(self, provider: CalendarProvider) -> None:
        assert provider.list_series() == []
        result = provider.sync(None)
        assert (result.entries, result.deleted_uids) == ([], [])
        assert result.cursor

    def test_upserted_series_is_listed_as_booked(self, provider: CalendarProvider) -> None:
        series = make_series(sequence=2)
        self.upsert(provider, series)
        entry = self.only(provider, series.spec.uid)
        assert entry.sequence == 2 and not entry.cancelled
        assert entry.start == series.spec.start and entry.timezone == "America/Chicago"
        assert entry.end - entry.start == timedelta(hours=1)
        assert entry.rrule == canonical_rrule(series.spec.rrule())
        assert entry.key == series.spec.key and entry.kind == "group"
        assert set(entry.attendees) == {"maria@northwind.example", "ana@northwind.example", "ben@northwind.example"}
        assert entry.attendees["ana@northwind.example"] == "NEEDS-ACTION"

    def test_upsert_twice_gives_the_same_state(self, provider: CalendarProvider) -> None:
        series = make_series()
        self.upsert(provider, series)
        once = provider.list_series()
        self.upsert(provider, series)
        assert provider.list_series() == once
        assert len(once) == 1

    def test_upsert_replaces_the_series_with_the_same_uid(self, provider: CalendarProvider) -> None:
        first = make_series()
        self.upsert(provider, first)
        rid = datetime(2027, 3, 15, 10, tzinfo=CHICAGO)
        cancelled = Override(datetime(2027, 4, 5, 10, tzinfo=CHICAGO), datetime(2027, 4, 5, 10, tzinfo=CHICAGO),
                             datetime(2027, 4, 5, 11, tzinfo=CHICAGO), cancelled=True)
        second = first.bumped(
            overrides=(moved(rid, 3), cancelled),
            spec=replace(first.spec, exdates=(datetime(2027, 5, 31, 10, tzinfo=CHICAGO),)),
        )
        self.upsert(provider, second)
        entry = self.only(provider, first.spec.uid)
        assert entry.sequence == 1
        assert entry.exdates == (datetime(2027, 5, 31, 15, tzinfo=UTC),)
        assert entry.overrides == tuple(
            Override(to_utc(o.recurrence_id), to_utc(o.start), to_utc(o.end), o.cancelled) for o in second.overrides
        )
        # What the calendar holds means the same occurrences as what was planned.
        rebuilt = replace(second.spec, start=entry.start, exdates=entry.exdates).occurrences(entry.overrides)
        assert rebuilt == second.occurrences()

    def test_series_are_listed_by_uid(self, provider: CalendarProvider) -> None:
        for uid in ("b-series@coachd", "a-series@coachd", "c-series@coachd"):
            self.upsert(provider, make_series(uid))
        assert [e.uid for e in provider.list_series()] == ["a-series@coachd", "b-series@coachd", "c-series@coachd"]

    def test_cancel_keeps_the_series_visible_as_cancelled(self, provider: CalendarProvider) -> None:
        series = make_series(sequence=4)
        self.upsert(provider, series)
        provider.cancel_series(series.spec.uid)
        entry = self.only(provider, series.spec.uid)
        assert entry.cancelled and entry.sequence == 4
        provider.cancel_series(series.spec.uid)  # again: nothing more happens
        assert provider.list_series() == [entry]

    def test_cancel_of_unknown_uid_raises(self, provider: CalendarProvider) -> None:
        with pytest.raises(SeriesNotFound):
            provider.cancel_series("never-booked@coachd")

    def test_upserting_a_cancelled_series_records_the_cancellation(self, provider: CalendarProvider) -> None:
        series = make_series()
        self.upsert(provider, series)
        self.upsert(provider, series.bumped(cancelled=True))
        entry = self.only(provider, series.spec.uid)
        assert entry.cancelled and entry.sequence == 1

    def test_sync_reports_changes_since_the_cursor(self, provider: CalendarProvider) -> None:
        a, b = make_series("a@coachd"), make_series("b@coachd")
        self.upsert(provider, a)
        self.upsert(provider, b)
        full = provider.sync(None)
        assert sorted(e.uid for e in full.entries) == ["a@coachd", "b@coachd"]
        quiet = provider.sync(full.cursor)
        assert quiet.entries == [] and quiet.deleted_uids == []
        self.upsert(provider, b.bumped(spec=replace(b.spec, title="Renamed")))
        changed = provider.sync(quiet.cursor)
        assert [(e.uid, e.sequence) for e in changed.entries] == [("b@coachd", 1)]
        provider.cancel_series("a@coachd")
        cancelled = provider.sync(changed.cursor)
        assert [(e.uid, e.cancelled) for e in cancelled.entries] == [("a@coachd", True)]

    def test_unusable_cursor_asks_for_a_full_sync(self, provider: CalendarProvider) -> None:
        self.upsert(provider, make_series())
        with pytest.raises(SyncCursorExpired):
            provider.sync("certainly-not-a-cursor")
        assert len(provider.sync(None).entries) == 1


class TestLocalCalendarContract(CalendarProviderContract):
    @pytest.fixture
    def provider(self, tmp_path: Path) -> LocalCalendar:
        return LocalCalendar(tmp_path / "calendar")


# --- the local folder calendar itself ----------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalCalendar:
    return LocalCalendar(tmp_path / "calendar")


def upsert(cal: LocalCalendar, series: BookedSeries) -> None:
    cal.upsert_series(series, ORG_NAME, ORG_EMAIL, dtstamp=STAMP)


def hand_edit(path: Path, edit) -> None:
    """Rewrite a file as an editor would, a second later (so its mtime visibly moves)."""
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    edit(cal)
    before = path.stat().st_mtime_ns
    path.write_bytes(cal.to_ical())
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def test_one_file_per_series_holding_the_calendar_without_method(local: LocalCalendar) -> None:
    series = make_series()
    upsert(local, series)
    files = sorted(p.name for p in local.folder.iterdir())
    assert files == ["northwind-2027-group-americas@coachd.example.ics"]
    data = (local.folder / files[0]).read_bytes()
    assert data == series_calendar(series, organizer_name=ORG_NAME, organizer_email=ORG_EMAIL, dtstamp=STAMP)
    assert b"METHOD:" not in data


def test_repeated_upsert_does_not_touch_the_file(local: LocalCalendar) -> None:
    series = make_series()
    upsert(local, series)
    path = local.path_for(series.spec.uid)
    before = path.stat()
    cursor = local.sync(None).cursor
    upsert(local, series)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert local.sync(cursor).entries == []


@pytest.mark.parametrize("uid", ["../../etc/passwd", ".hidden@coachd", "a/b", "a%2Fb", "x" * 600, "sp ace:colon"])
def test_awkward_uids_stay_inside_the_folder_and_distinct(local: LocalCalendar, uid: str) -> None:
    upsert(local, make_series(uid))
    upsert(local, make_series("plain@coachd"))
    (path,) = [p for p in local.folder.iterdir() if p.name != "plain@coachd.ics"]
    assert path.parent == local.folder and not path.name.startswith(".")
    assert len(path.name.encode()) <= 255
    assert {e.uid for e in local.list_series()} == {uid, "plain@coachd"}


def test_uids_differing_only_in_unsafe_characters_get_different_files() -> None:
    assert len({file_name(u) for u in ["a/b", "a_b", "a%2Fb", "a:b", "a b"]}) == 5


def test_a_hand_moved_occurrence_shows_up_in_sync(local: LocalCalendar) -> None:
    series = make_series()
    upsert(local, series)
    cursor = local.sync(None).cursor
    rid = datetime(2027, 2, 1, 10, tzinfo=CHICAGO)

    def move(cal: icalendar.Calendar) -> None:
        master = cal.walk("VEVENT")[0]
        override = icalendar.Event()
        for name in ("UID", "DTSTAMP", "SEQUENCE", "SUMMARY", "ORGANIZER"):
            override[name] = master[name]
        override.add("recurrence-id", rid)
        override.add("dtstart", rid + timedelta(hours=5))
        override.add("dtend", rid + timedelta(hours=6))
        cal.add_component(override)

    hand_edit(local.path_for(series.spec.uid), move)
    result = local.sync(cursor)
    (entry,) = result.entries
    later = to_utc(rid) + timedelta(hours=5)
    assert entry.overrides == (Override(to_utc(rid), later, later + timedelta(hours=1)),)
    assert local.sync(result.cursor).entries == []


def test_a_hand_cancelled_series_shows_up_in_sync(local: LocalCalendar) -> None:
    series = make_series()
    upsert(local, series)
    cursor = local.sync(None).cursor

    def cancel(cal: icalendar.Calendar) -> None:
        cal.walk("VEVENT")[0]["STATUS"] = "CANCELLED"

    hand_edit(local.path_for(series.spec.uid), cancel)
    (entry,) = local.sync(cursor).entries
    assert entry.cancelled


def test_broken_files_are_reported_not_fatal_and_not_taken_for_deletions(local: LocalCalendar) -> None:
    upsert(local, make_series("good@coachd"))
    upsert(local, make_series("soon-broken@coachd"))
    cursor = local.sync(None).cursor
    broken = local.path_for("soon-broken@coachd")
    broken.write_bytes(b"BEGIN:VCALENDAR\r\nthis is not\r\n")
    (local.folder / "stray.ics").write_bytes(b"\xff\xfe garbage")
    result = local.sync(cursor)
    assert sorted(Path(p).name for p, _ in result.errors) == [broken.name, "stray.ics"]
    assert result.deleted_uids == []
    assert [e.uid for e in local.list_series()] == ["good@coachd"]
    # Still broken: still reported, so nobody can miss it.
    again = local.sync(result.cursor)
    assert len(again.errors) == 2 and again.deleted_uids == []
    with pytest.raises(CalendarStoreError):
        local.cancel_series("soon-broken@coachd")
    upsert(local, make_series("soon-broken@coachd"))
    fixed = local.sync(again.cursor)
    assert [e.uid for e in fixed.entries] == ["soon-broken@coachd"]
    assert [Path(p).name for p, _ in fixed.errors] == ["stray.ics"]


def test_a_deleted_file_is_reported_as_a_deleted_uid(local: LocalCalendar) -> None:
    upsert(local, make_series("keep@coachd"))
    upsert(local, make_series("gone@coachd"))
    cursor = local.sync(None).cursor
    local.path_for("gone@coachd").unlink()
    result = local.sync(cursor)
    assert result.deleted_uids == ["gone@coachd"] and result.entries == []


def test_temp_and_hidden_files_are_ignored_and_none_are_left_behind(local: LocalCalendar) -> None:
    for n in range(3):
        upsert(local, make_series(sequence=n))
    assert [p.name for p in local.folder.iterdir()] == ["northwind-2027-group-americas@coachd.example.ics"]
    (local.folder / ".tmp-abc.part").write_bytes(b"half a calendar")
    (local.folder / "notes.txt").write_text("not a calendar")
    result = local.sync(None)
    assert len(result.entries) == 1 and result.errors == []


def test_cancel_rewrites_the_file_keeping_people_and_overrides(local: LocalCalendar) -> None:
    rid = datetime(2027, 3, 15, 10, tzinfo=CHICAGO)
    series = make_series(overrides=(moved(rid, 2),))
    upsert(local, series)
    local.cancel_series(series.spec.uid)
    cal = icalendar.Calendar.from_ical(local.path_for(series.spec.uid).read_bytes())
    assert [str(ev["STATUS"]) for ev in cal.walk("VEVENT")] == ["CANCELLED", "CANCELLED"]
    assert len(cal.walk("VEVENT")[0]["ATTENDEE"]) == 3
    assert cal.walk("VTIMEZONE")


def test_cancelling_again_leaves_the_file_untouched(local: LocalCalendar) -> None:
    series = make_series()
    upsert(local, series)
    local.cancel_series(series.spec.uid)
    cursor = local.sync(None).cursor
    before = local.path_for(series.spec.uid).stat()
    local.cancel_series(series.spec.uid)
    after = local.path_for(series.spec.uid).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert local.sync(cursor).entries == []
