"""The example program booked in a (fake) Google Calendar by the daemon's own jobs: each attendee hears of
each change exactly once, from Google or from coachd, never both; a 410 full sync reconciles deletions."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import google.oauth2.credentials
import pytest
from sqlalchemy import select

from coachd.config import load_config
from coachd.execute.executor import ActionRecord, Executor
from coachd.model.serial import booked_from_row
from coachd.model.types import BookedSeries
from coachd.providers.google.calendar import SCOPES, GoogleCalendar
from coachd.providers.google.calendar_events import event_id
from coachd.providers.retry import RetryPolicy
from coachd.runtime.clock import VirtualClock
from coachd.runtime.jobs import program_jobs
from coachd.runtime.runner import JobRunner
from coachd.runtime.wiring import ProgramRuntime, open_program
from coachd.store.models import Outbox, Series
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.calendar import FakeCalendar
from tests.support.ticks import EXAMPLE, program_start

ORGANIZER = "coaching@northwind.example"
# Ben is a guest from outside the Workspace in these tests.
BEN = "ben@partner.example"
ITIP = ("invitation", "update", "cancellation")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(EXAMPLE.parent, folder)
    path = folder / EXAMPLE.name
    path.write_text(path.read_text().replace("ben@northwind.example", BEN))
    return path


class GoogleProgram:
    """The example program with its calendar in the fake Google, ticked job by job on a virtual clock."""

    def __init__(self, config: Path, state: Path, fake: FakeGoogle, outside_guests: str) -> None:
        self.cfg = load_config(config)
        self.now = program_start(self.cfg) + timedelta(days=3)
        self.fake = fake
        self.program: ProgramRuntime = open_program(self.cfg, state, VirtualClock(self.now))
        token = fake.issue_access_token(ORGANIZER, SCOPES, lifetime=timedelta(days=3650))
        self.program.calendar = GoogleCalendar(
            google.oauth2.credentials.Credentials(token=token), organizer_email=ORGANIZER, api_root=fake.base_url,
            outside_guests=outside_guests, policy=RetryPolicy(sleep=lambda _: None), timeout=5)  # type: ignore[arg-type]
        self.program.retry_policy = RetryPolicy(sleep=lambda _: None)
        self.records: list[ActionRecord] = []
        self.runner = JobRunner(self.program, program_jobs(self.program, Executor(self.program, self.records.append)))

    def tick(self, after: timedelta = timedelta(0)) -> None:
        self.now += after
        for job in self.runner.jobs:
            assert self.runner.run(job, self.now) is not None, f"job {job.name} failed"

    def series(self, key: str) -> tuple[str, BookedSeries]:
        with self.program.store.session() as db:
            row = db.scalars(select(Series).where(Series.key == key)).one()
            return row.uid, booked_from_row(row.spec, row.sequence, row.overrides, row.cancelled)

    def coachd_itip(self) -> Counter[tuple[str, str, str]]:
        """(attendee, series UID, kind) of every iTIP email coachd queued."""
        with self.program.store.session() as db:
            rows = db.scalars(select(Outbox).where(Outbox.kind.in_(ITIP))).all()
            return Counter((row.to_addr.lower(), row.series_uid or "", row.kind) for row in rows)

    def books(self) -> Counter[str]:
        """How many changes coachd wrote, per series UID: each one every attendee must hear of once."""
        return Counter(r.detail["uid"] for r in self.records if r.kind == "book")


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle(page_size=50) as running:
        yield running


@pytest.fixture
def calendar(fake: FakeGoogle) -> FakeCalendar:
    return FakeCalendar(fake)


def google_mail(calendar: FakeCalendar, uids: dict[str, str]) -> Counter[tuple[str, str, str]]:
    """(attendee, series UID, kind) of every email Google sent; an instance's mail counts for its series."""
    return Counter((m.attendee, uids[m.event_id.split("_")[0]], m.what) for m in calendar.mail(ORGANIZER))


@pytest.mark.parametrize("outside_guests", ["google", "coachd"])
def test_each_attendee_hears_of_each_change_once_from_one_sender(
        config: Path, tmp_path: Path, fake: FakeGoogle, calendar: FakeCalendar, outside_guests: str) -> None:
    run = GoogleProgram(config, tmp_path / "state", fake, outside_guests)
    try:
        run.tick()
        run.tick(timedelta(minutes=5))  # the sync has seen what was booked
        uid, before = run.series("group:emea")
        target = before.occurrences()[3]
        # The coach declines one occurrence in Google Calendar: coachd moves it and tells everyone.
        calendar.answer(ORGANIZER, event_id(uid), "lena@northwind.example", "declined", target.recurrence_id)
        run.tick(timedelta(minutes=15))
        run.tick(timedelta(minutes=15))
        _, after = run.series("group:emea")
        assert after.sequence == before.sequence + 1
        assert next(o for o in after.occurrences() if o.recurrence_id == target.recurrence_id).start != target.start
        with run.program.store.session() as db:
            uids = {event_id(u): u for u in db.scalars(select(Series.uid))}
            people = {u: {a.email.lower() for a in booked_from_row(s, 0, (), False).spec.everyone()}
                      for u, s in db.execute(select(Series.uid, Series.spec)).all()}
        by_google, by_coachd = google_mail(calendar, uids), run.coachd_itip()
        changes = run.books()
        assert changes[uid] == 2 and by_google
        for series_uid, attendees in people.items():
            for person in attendees:
                google_count = sum(n for (p, u, _), n in by_google.items() if (p, u) == (person, series_uid))
                coachd_count = sum(n for (p, u, _), n in by_coachd.items() if (p, u) == (person, series_uid))
                assert google_count + coachd_count == changes[series_uid], (person, series_uid)
                assert not (google_count and coachd_count), f"{person} heard from both about {series_uid}"
                by_coachd_expected = outside_guests == "coachd" and person == BEN
                assert bool(coachd_count) == by_coachd_expected, (person, series_uid)
    finally:
        run.program.close()


def test_an_occurrence_moved_by_hand_in_google_is_adopted_pinned_and_never_moved_back(
        config: Path, tmp_path: Path, fake: FakeGoogle, calendar: FakeCalendar) -> None:
    run = GoogleProgram(config, tmp_path / "state", fake, "google")
    try:
        run.tick()
        run.tick(timedelta(minutes=5))
        uid, before = run.series("group:emea")
        target = before.occurrences()[4]
        late = target.start.replace(hour=20)  # out of everyone's hours: the person's choice, and the truth
        calendar.move_instance(ORGANIZER, event_id(uid), target.recurrence_id, late, late + timedelta(hours=1))
        run.tick(timedelta(minutes=15))
        assert any(r.kind == "adopt" and r.detail["series"] == "group:emea" for r in run.records)
        _, after = run.series("group:emea")
        moved = next(o for o in after.occurrences() if o.recurrence_id == target.recurrence_id)
        assert moved.start == late and [o.recurrence_id for o in after.overrides if o.pinned] == [target.recurrence_id]
        records = len(run.records)
        run.tick(timedelta(days=1))
        assert not [r for r in run.records[records:] if r.kind in ("book", "adopt")
                    and r.detail["series"] == "group:emea"]
        instance = calendar.event(ORGANIZER, f"{event_id(uid)}_{target.recurrence_id:%Y%m%dT%H%M%SZ}")
        assert instance is not None and instance["start"]["dateTime"].startswith(f"{late:%Y-%m-%d}")
    finally:
        run.program.close()


def test_a_series_deleted_while_the_sync_token_expired_is_taken_as_cancelled(
        config: Path, tmp_path: Path, fake: FakeGoogle, calendar: FakeCalendar) -> None:
    run = GoogleProgram(config, tmp_path / "state", fake, "google")
    try:
        run.tick()
        run.tick(timedelta(minutes=5))
        uid, _ = run.series("individual:ana")
        calendar.delete_event(ORGANIZER, event_id(uid))
        calendar.purge_deleted(ORGANIZER)  # Google forgot the deleted event, and its old sync tokens with it
        run.tick(timedelta(minutes=15))
        assert run.series("individual:ana")[1].cancelled
        assert any(r.kind == "adopt" and r.detail["series"] == "individual:ana" and r.detail["cancelled"]
                   for r in run.records)
        others = [key for key in ("group:emea", "individual:ben", "group:americas")]
        assert not any(run.series(key)[1].cancelled for key in others)
        records = len(run.records)
        run.tick(timedelta(days=2))
        assert not [r for r in run.records[records:] if r.kind == "book" and r.detail["series"] == "individual:ana"]
    finally:
        run.program.close()


def test_a_full_sync_that_finds_none_of_the_series_cancels_nothing(
        config: Path, tmp_path: Path, fake: FakeGoogle, calendar: FakeCalendar) -> None:
    run = GoogleProgram(config, tmp_path / "state", fake, "google")
    try:
        run.tick()
        run.tick(timedelta(minutes=5))
        calendar.calendar(ORGANIZER).events.clear()  # the wrong calendar, an emptied account
        calendar.expire_sync_tokens()
        run.tick(timedelta(minutes=15))
        with run.program.store.session() as db:
            assert not any(db.scalars(select(Series.cancelled)))
    finally:
        run.program.close()



@pytest.mark.parametrize("seed", [1, 2, 3])
def test_with_a_fifth_of_googles_answers_failing_every_series_and_occurrence_is_where_the_plan_says(
        config: Path, tmp_path: Path, seed: int) -> None:
    with FakeGoogle(page_size=50, seed=seed) as fake:
        calendar = FakeCalendar(fake)
        run = GoogleProgram(config, tmp_path / "state", fake, "coachd")
        try:
            faulty_pass(run, fake, calendar)
        finally:
            run.program.close()


def faulty_pass(run: GoogleProgram, fake: FakeGoogle, calendar: FakeCalendar) -> None:
    """Book the example with faults, have the coach decline one occurrence, then check Google against the store."""
    fake.faults.rate = 0.2  # 429, 403 rate limits, 500, 503, dropped and lost answers
    for _ in range(8):
        run.tick(timedelta(minutes=15))
    uid, before = run.series("group:emea")
    target = before.occurrences()[3]
    calendar.answer(ORGANIZER, event_id(uid), "lena@northwind.example", "declined", target.recurrence_id)
    for _ in range(8):
        run.tick(timedelta(minutes=15))
    assert sum(1 for entry in fake.log if entry.fault) >= 10
    fake.faults.rate = 0.0
    run.tick(timedelta(minutes=15))
    run.tick(timedelta(minutes=15))
    with run.program.store.session() as db:
        stored = {row.uid: booked_from_row(row.spec, row.sequence, row.overrides, row.cancelled)
                  for row in db.scalars(select(Series))}
    google = {entry.uid: entry for entry in run.program.calendar.list_series()}
    assert set(google) == set(stored)  # every series once (one event id per UID)
    for series_uid, booked in stored.items():
        entry = google[series_uid]
        assert entry.sequence == booked.sequence and entry.cancelled == booked.cancelled
        assert entry.overrides == tuple(sorted(
            (o for o in (replace_override(o) for o in booked.overrides) if o is not None),
            key=lambda o: o.recurrence_id)), series_uid
    changes = run.books()
    by_google, by_coachd = google_mail(calendar, {event_id(u): u for u in stored}), run.coachd_itip()
    for series_uid, booked in stored.items():
        for person in {a.email.lower() for a in booked.spec.everyone()}:
            heard = sum(n for (p, u, _), n in (by_google + by_coachd).items() if (p, u) == (person, series_uid))
            assert heard == changes[series_uid], (person, series_uid)


def replace_override(override):  # type: ignore[no-untyped-def]
    """An override as Google reads it back: UTC, and only when it moves or cancels the occurrence."""
    from coachd.model.types import Override, to_utc
    rid, start, end = to_utc(override.recurrence_id), to_utc(override.start), to_utc(override.end)
    return Override(rid, start, end, override.cancelled)


def test_the_config_builds_the_google_calendar_acting_for_the_organizer(tmp_path: Path) -> None:
    from tests.support.fake_google.oauth import FakeOAuth
    from tests.support.google_auth import CALENDAR, GoogleSetup

    with FakeGoogle(page_size=50) as fake:
        calendar = FakeCalendar(fake)
        google = GoogleSetup(fake, FakeOAuth(fake), tmp_path)
        google.oauth.users.add(ORGANIZER)
        account = google.oauth.add_service_account(delegated=(CALENDAR,))
        google.oauth.key_file(tmp_path / "key.json", account)
        config = google.config(google.service_auth())
        config.write_text(config.read_text().replace("auth: {service_account_key", "outside_guests: coachd, "
                                                     "workspace_domains: [partner.example], auth: {service_account_key", 1))
        cfg = load_config(config)
        program = open_program(cfg, tmp_path / "state", VirtualClock(program_start(cfg)))
        try:
            assert isinstance(program.calendar, GoogleCalendar)
            assert program.calendar.capabilities.invites("ana@northwind.example")
            assert program.calendar.capabilities.invites("sam@partner.example")  # a Workspace domain too
            assert not program.calendar.capabilities.invites("sam@elsewhere.example")
            runner = JobRunner(program, program_jobs(program, Executor(program, lambda _record: None)))
            for job in runner.jobs:
                assert runner.run(job, program_start(cfg)) is not None
        finally:
            program.close()
        events = calendar.calendar(ORGANIZER).events
        assert events and all(body.body["organizer"]["email"] == ORGANIZER for body in events.values())
        writes = fake.requests("/calendar/v3/", "POST")
        assert writes and {w.subject for w in writes} == {ORGANIZER}
