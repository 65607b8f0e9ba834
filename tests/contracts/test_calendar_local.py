"""The `local` calendar (a folder of .ics files) runs the calendar contract; its file handling beside it."""

from __future__ import annotations

import base64
import json
import os
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import icalendar
import pytest

from coachd.mail.ical import series_calendar
from coachd.model.types import BookedSeries
from coachd.providers.base import CalendarStoreError
from coachd.providers.local.calendar import LocalCalendar, file_name
from tests.contracts.calendar_suite import (
    CHICAGO,
    ORG_EMAIL,
    ORG_NAME,
    STAMP,
    CalendarContract,
    ExpireCursor,
    Respond,
    make_series,
    moved,
)


def hand_edit(path: Path, edit: Callable[[icalendar.Calendar], None]) -> None:
    """Rewrite a file as an editor would, a second later (so its mtime visibly moves)."""
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    edit(cal)
    before = path.stat().st_mtime_ns
    path.write_bytes(cal.to_ical())
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def events_of(cal: icalendar.Calendar, uid: str) -> tuple[icalendar.Event, list[icalendar.Event]]:
    """The master VEVENT of `uid` and its overrides."""
    events = [ev for ev in cal.walk("VEVENT") if str(ev["UID"]) == uid]
    return next(ev for ev in events if "RECURRENCE-ID" not in ev), [ev for ev in events if "RECURRENCE-ID" in ev]


def override_of(master: icalendar.Event, rid: datetime, start: datetime, end: datetime) -> icalendar.Event:
    """A new override VEVENT for one occurrence, as a calendar app writes it."""
    override = icalendar.Event()
    for name in ("UID", "DTSTAMP", "SEQUENCE", "SUMMARY", "ORGANIZER"):
        override[name] = master[name]
    override.add("recurrence-id", rid)
    override.add("dtstart", start)
    override.add("dtend", end)
    return override


class LocalHandEdits:
    """A person with a text editor or a calendar app that writes the folder."""

    def __init__(self, calendar: LocalCalendar) -> None:
        self.calendar = calendar

    def move_occurrence(self, uid: str, recurrence_id: datetime, start: datetime, end: datetime) -> None:
        def move(cal: icalendar.Calendar) -> None:
            master, _ = events_of(cal, uid)
            cal.add_component(override_of(master, recurrence_id, start, end))

        hand_edit(self.calendar.path_for(uid), move)

    def cancel_series(self, uid: str) -> None:
        def cancel(cal: icalendar.Calendar) -> None:
            events_of(cal, uid)[0]["STATUS"] = "CANCELLED"

        hand_edit(self.calendar.path_for(uid), cancel)

    def delete_series(self, uid: str) -> None:
        self.calendar.path_for(uid).unlink()


def answer(event: icalendar.Event, email: str, partstat: str) -> None:
    """Set one attendee's PARTSTAT on an event, as the attendee's calendar app does."""
    attendees = event.get("ATTENDEE")
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        if str(attendee).lower().removeprefix("mailto:") == email:
            attendee.params["PARTSTAT"] = partstat


class TestLocalCalendar(CalendarContract):
    hand_edits = True
    attendee_responses = True  # people answer by editing the files (or an app writing them)
    invites_attendees = False
    sync_cursor_expires = True  # a cursor written by another version of coachd is refused

    @pytest.fixture
    def provider(self, tmp_path: Path) -> LocalCalendar:
        return LocalCalendar(tmp_path / "calendar")

    @pytest.fixture
    def hand(self, provider: LocalCalendar) -> LocalHandEdits:
        return LocalHandEdits(provider)

    @pytest.fixture
    def respond(self, provider: LocalCalendar) -> Respond:
        def respond(uid: str, email: str, partstat: str, occurrence: datetime | None) -> None:
            def edit(cal: icalendar.Calendar) -> None:
                master, overrides = events_of(cal, uid)
                if occurrence is None:
                    answer(master, email, partstat)
                    return
                found = [ev for ev in overrides if ev["RECURRENCE-ID"].dt == occurrence]
                if found:
                    (event,) = found
                else:  # the app makes an override for the one occurrence, in its place, with everyone
                    length = master["DTEND"].dt - master["DTSTART"].dt
                    event = override_of(master, occurrence, occurrence, occurrence + length)
                    for attendee in master.get("ATTENDEE"):
                        copy = icalendar.vCalAddress(str(attendee))
                        copy.params.update(attendee.params)
                        event.add("attendee", copy, encode=0)
                    cal.add_component(event)
                answer(event, email, partstat)

            hand_edit(provider.path_for(uid), edit)

        return respond

    @pytest.fixture
    def expire_cursor(self) -> ExpireCursor:
        def expire(cursor: str) -> str:
            payload = json.loads(zlib.decompress(base64.urlsafe_b64decode(cursor.encode())))
            payload["v"] = 0  # as if an older coachd had written it
            return base64.urlsafe_b64encode(zlib.compress(json.dumps(payload).encode())).decode()

        return expire


# --- the local folder calendar itself ----------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalCalendar:
    return LocalCalendar(tmp_path / "calendar")


def upsert(cal: LocalCalendar, series: BookedSeries) -> None:
    cal.upsert_series(series, ORG_NAME, ORG_EMAIL, dtstamp=STAMP)


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
