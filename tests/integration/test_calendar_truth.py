"""The organizer's calendar is the truth: hand edits are adopted and kept, declines move an occurrence."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import timedelta
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from coachd.cli.commands import main
from coachd.runtime.clock import VirtualClock
from coachd.config import load_config
from coachd.model.serial import booked_from_row
from coachd.runtime.wiring import open_program
from coachd.store.models import Series
from tests.support.ticks import EXAMPLE, program_start, tick


@pytest.fixture
def cfg():
    return load_config(EXAMPLE)


def booked(state: Path, cfg, key: str):
    program = open_program(cfg, state, VirtualClock(program_start(cfg)))
    try:
        with program.store.session() as db:
            row = db.scalars(select(Series).where(Series.key == key)).one()
            return booked_from_row(row.spec, row.sequence, row.overrides, row.cancelled)
    finally:
        program.close()


def edit_occurrence(state: Path, uid_part: str, rid, *, shift: timedelta = timedelta(0),
                    partstat: dict[str, str] | None = None) -> None:
    """What a person does in their calendar app: move one occurrence, or answer for it."""
    path = next((state / "calendar").glob(f"*{uid_part}*"))
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    master = next(e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" not in e)
    event = icalendar.Event()
    for name in ("UID", "SUMMARY", "ORGANIZER", "SEQUENCE", "X-COACHD-KEY", "X-COACHD-KIND"):
        if name in master:
            event.add(name, master[name])
    start = rid + shift
    event.add("recurrence-id", rid)
    event.add("dtstart", start)
    event.add("dtend", start + (master["DTEND"].dt - master["DTSTART"].dt))
    for attendee in master.get("ATTENDEE", []):
        address = str(attendee)
        status = (partstat or {}).get(address.lower().removeprefix("mailto:"), "NEEDS-ACTION")
        event.add("attendee", icalendar.vCalAddress(address), parameters={"PARTSTAT": status})
    calendar.add_component(event)
    path.write_bytes(calendar.to_ical())


def kinds_to(state: Path, kind: str) -> list[str]:
    found = []
    for path in (state / "mail").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["X-Coachd-Kind"] == kind:
            found.append(str(message["To"]))
    return found


def test_an_occurrence_moved_by_hand_is_adopted_and_never_moved_back(tmp_path, cfg):
    now = program_start(cfg) + timedelta(days=3)
    tick(tmp_path, cfg, now)
    before = booked(tmp_path, cfg, "group:emea")
    target = before.occurrences()[4]
    # Lena moves it to 21:00 her time (out of everyone's hours): her choice, and the calendar is the truth.
    late = target.start.replace(hour=20)
    edit_occurrence(tmp_path, "group-emea", target.recurrence_id, shift=late - target.start)
    records, _ = tick(tmp_path, cfg, now + timedelta(minutes=15))
    assert any(r.kind == "adopt" and r.detail["series"] == "group:emea" for r in records)
    after = booked(tmp_path, cfg, "group:emea")
    moved = next(o for o in after.occurrences() if o.recurrence_id == target.recurrence_id)
    assert moved.start == late and after.sequence == before.sequence + 1
    assert [o.recurrence_id for o in after.overrides if o.pinned] == [target.recurrence_id]
    # Later ticks plan around it: it stays where Lena put it, and nothing else moves.
    records, _ = tick(tmp_path, cfg, now + timedelta(days=1))
    assert not [r for r in records if r.kind in ("book", "adopt") and r.detail["series"] == "group:emea"]
    assert booked(tmp_path, cfg, "group:emea").occurrences() == after.occurrences()
    # Everyone on the series hears of the new time.
    assert len([t for t in kinds_to(tmp_path, "update") if "northwind.example" in t]) >= 4


def test_a_coach_declining_an_occurrence_moves_it_and_tells_everyone(tmp_path, cfg):
    now = program_start(cfg) + timedelta(days=3)
    tick(tmp_path, cfg, now)
    before = booked(tmp_path, cfg, "group:emea")
    target = before.occurrences()[3]
    edit_occurrence(tmp_path, "group-emea", target.recurrence_id,
                    partstat={"lena@northwind.example": "DECLINED"})
    records, _ = tick(tmp_path, cfg, now + timedelta(minutes=15))
    after = booked(tmp_path, cfg, "group:emea")
    moved = next(o for o in after.occurrences() if o.recurrence_id == target.recurrence_id)
    assert moved.start != target.start
    assert moved.start.isocalendar()[:2] == target.start.isocalendar()[:2]  # within its week
    assert [o for o in after.occurrences() if o.recurrence_id != target.recurrence_id] == \
        [o for o in before.occurrences() if o.recurrence_id != target.recurrence_id]
    assert not any(o.pinned for o in after.overrides)
    updates = kinds_to(tmp_path, "update")
    assert sum("lena@" in t or "claire@" in t or "javier@" in t or "thandi@" in t for t in updates) >= 4
    # Settled: the next ticks move nothing more.
    records, _ = tick(tmp_path, cfg, now + timedelta(minutes=30))
    assert not [r for r in records if r.kind in ("book", "adopt")]


def test_one_attendee_of_four_declining_does_not_move_the_group(tmp_path, cfg):
    now = program_start(cfg) + timedelta(days=3)
    tick(tmp_path, cfg, now)
    target = booked(tmp_path, cfg, "group:emea").occurrences()[3]
    edit_occurrence(tmp_path, "group-emea", target.recurrence_id,
                    partstat={"claire@northwind.example": "DECLINED"})
    records, _ = tick(tmp_path, cfg, now + timedelta(minutes=15))
    assert not [r for r in records if r.kind == "book" and r.detail["series"] == "group:emea"]


def test_a_series_deleted_by_hand_is_taken_as_cancelled_and_not_rebooked(tmp_path, cfg):
    now = program_start(cfg) + timedelta(days=3)
    tick(tmp_path, cfg, now)
    tick(tmp_path, cfg, now + timedelta(minutes=5))  # the calendar sync has seen what was booked
    next((tmp_path / "calendar").glob("*individual-ana*")).unlink()
    records, _ = tick(tmp_path, cfg, now + timedelta(minutes=15))
    assert any(r.kind == "adopt" and r.detail["series"] == "individual:ana" and r.detail["cancelled"]
               for r in records)
    assert booked(tmp_path, cfg, "individual:ana").cancelled
    records, _ = tick(tmp_path, cfg, now + timedelta(days=2))
    assert not [r for r in records if r.kind == "book" and r.detail["series"] == "individual:ana"]
    assert not list((tmp_path / "calendar").glob("*individual-ana*"))


def test_one_occurrence_cancelled_by_hand_is_adopted_pinned_and_left_cancelled():
    from datetime import datetime

    from coachd.plan.calendar_truth import CalendarView, adopt
    from coachd.model.types import UTC, Attendee, BookedSeries, Override, Role, SeriesSpec, SessionKind

    coach = Attendee("lena", "Lena", "lena@example.org", "Europe/Berlin", Role.COACH)
    spec = SeriesSpec("group:t", "uid-1@example.org", SessionKind.GROUP, "Group", "Europe/Berlin",
                      datetime(2027, 1, 11, 10, tzinfo=UTC), timedelta(hours=1), coach, (), timedelta(weeks=1),
                      datetime(2027, 3, 1, tzinfo=UTC))
    series = BookedSeries(spec, sequence=2)
    rid = series.occurrences()[3].recurrence_id
    gone = Override(rid, rid, rid + timedelta(hours=1), cancelled=True)
    answered = Override(series.occurrences()[4].recurrence_id, series.occurrences()[4].start,
                        series.occurrences()[4].end)  # an exception at the same time: only an answer
    adopted = adopt(series, CalendarView(False, (), (gone, answered), {}, {}))
    assert adopted is not None and adopted.sequence == 3
    assert [(o.recurrence_id, o.cancelled, o.pinned) for o in adopted.overrides] == [(rid, True, True)]
    assert [o.cancelled for o in adopted.occurrences()].count(True) == 1
    assert adopt(adopted, CalendarView(False, (), (gone, answered), {}, {})) is None


def test_a_whole_series_declined_is_reported_not_moved(tmp_path, cfg):
    now = program_start(cfg) + timedelta(days=3)
    tick(tmp_path, cfg, now)
    tick(tmp_path, cfg, now + timedelta(minutes=5))  # the calendar sync has seen what was booked
    path = next((tmp_path / "calendar").glob("*individual-ben*"))
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    master = next(e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" not in e)
    for attendee in master.get("ATTENDEE", []):
        if "ben@" in str(attendee):
            attendee.params["PARTSTAT"] = "DECLINED"
    path.write_bytes(calendar.to_ical())
    before = booked(tmp_path, cfg, "individual:ben")
    records, _ = tick(tmp_path, cfg, now + timedelta(minutes=20))
    assert not [r for r in records if r.kind in ("book", "adopt") and r.detail["series"] == "individual:ben"]
    assert booked(tmp_path, cfg, "individual:ben") == before
    status = CliRunner().invoke(main, ["status", str(EXAMPLE), "--state", str(tmp_path), "--json"])
    conflicts = json.loads(status.output)["conflicts"]
    assert any(c["series"] == "individual:ben" and "declined the whole series" in c["reason"]
               and c["people"] == ["ben"] for c in conflicts)
