"""The `google` calendar runs the calendar contract against the local fake of Calendar v3, through the
real client library; beside it, what only Google's calendar does (ids, 409, lost answers, instances)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import google.oauth2.credentials
import pytest

from coachd.model.types import UTC, Attendee, Role, to_utc
from coachd.providers.base import SyncCursorExpired, Transient
from coachd.providers.google.calendar import SCOPES, GoogleCalendar
from coachd.providers.google.calendar_events import entry_of, event_id, instance_id, response_status, uid_of
from coachd.providers.retry import RetryPolicy
from tests.contracts.calendar_suite import (
    CHICAGO,
    EVERYONE,
    ORG_EMAIL,
    ORG_NAME,
    STAMP,
    CalendarContract,
    ExpireCursor,
    Invitations,
    Respond,
    as_utc,
    dropped,
    make_series,
    moved,
)
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.calendar import FakeCalendar

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    """The fake's clock, moved by the tests (sync tokens age on it)."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeGoogle]:
    with FakeGoogle(now=clock, page_size=3) as running:
        yield running


@pytest.fixture
def calendar(fake: FakeGoogle) -> FakeCalendar:
    return FakeCalendar(fake)


def google_calendar(fake: FakeGoogle, **options: object) -> GoogleCalendar:
    token = fake.issue_access_token(ORG_EMAIL, SCOPES, lifetime=timedelta(days=365))
    return GoogleCalendar(google.oauth2.credentials.Credentials(token=token), organizer_email=ORG_EMAIL,
                          api_root=fake.base_url, policy=RetryPolicy(sleep=lambda _: None), timeout=5,
                          **options)  # type: ignore[arg-type]


class GoogleHandEdits:
    """A person in Google Calendar's web UI, acting on the organizer's calendar."""

    def __init__(self, calendar: FakeCalendar) -> None:
        self.calendar = calendar

    def move_occurrence(self, uid: str, recurrence_id: datetime, start: datetime, end: datetime) -> None:
        self.calendar.move_instance(ORG_EMAIL, event_id(uid), to_utc(recurrence_id), start, end)

    def cancel_series(self, uid: str) -> None:
        self.calendar.cancel_event(ORG_EMAIL, event_id(uid))

    def delete_series(self, uid: str) -> None:
        self.calendar.delete_event(ORG_EMAIL, event_id(uid))


class TestGoogleCalendar(CalendarContract):
    hand_edits = True
    attendee_responses = True
    invites_attendees = True  # sendUpdates=all: Google mails whoever is listed on its event
    sync_cursor_expires = True  # 410 fullSyncRequired

    @pytest.fixture
    def provider(self, fake: FakeGoogle, calendar: FakeCalendar) -> GoogleCalendar:
        return google_calendar(fake)

    @pytest.fixture
    def hand(self, calendar: FakeCalendar) -> GoogleHandEdits:
        return GoogleHandEdits(calendar)

    @pytest.fixture
    def respond(self, calendar: FakeCalendar) -> Respond:
        def respond(uid: str, email: str, partstat: str, occurrence: datetime | None) -> None:
            calendar.answer(ORG_EMAIL, event_id(uid), email, response_status(partstat),
                            None if occurrence is None else to_utc(occurrence))

        return respond

    @pytest.fixture
    def invitations(self, calendar: FakeCalendar) -> Invitations:
        def invitations() -> list[tuple[str, str]]:
            return [(m.attendee, "CANCEL" if m.what == "cancellation" else "REQUEST")
                    for m in calendar.mail(ORG_EMAIL)]

        return invitations

    @pytest.fixture
    def expire_cursor(self, calendar: FakeCalendar) -> ExpireCursor:
        def expire(cursor: str) -> str:
            calendar.expire_sync_tokens()
            return cursor

        return expire


# --- what only Google's calendar does -----------------------------------------------------------------


@pytest.fixture
def provider(fake: FakeGoogle, calendar: FakeCalendar) -> GoogleCalendar:
    return google_calendar(fake)


def upsert(provider: GoogleCalendar, series) -> None:  # type: ignore[no-untyped-def]
    provider.upsert_series(series, ORG_NAME, ORG_EMAIL, dtstamp=STAMP)


def mail(calendar: FakeCalendar) -> Counter[tuple[str, str]]:
    return Counter((m.attendee, m.what) for m in calendar.mail(ORG_EMAIL))


def stored(calendar: FakeCalendar) -> dict[str, dict]:
    return {k: s.body for k, s in calendar.calendar(ORG_EMAIL).events.items()}


@pytest.mark.parametrize("uid", ["northwind-2027-group-americas@coachd.example", "a", "x" * 900, "ünï code/üid"])
def test_event_ids_are_base32hex_derived_from_the_uid(uid: str) -> None:
    eid = event_id(uid)
    assert eid == event_id(uid) and 5 <= len(eid) <= 1024 and set(eid) <= set("0123456789abcdefghijklmnopqrstuv")
    # Readable ids give the UID back (a deleted event shows only its id); too short or too long: hashed.
    readable = 2 <= len(uid.encode()) <= 635
    assert uid_of(eid) == (uid if readable else None) and eid.startswith("c" if readable else "h")
    assert event_id(uid + "x") != eid


def test_the_series_is_one_recurring_event_with_our_id_zone_rule_and_tags(
        provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    series = make_series()
    upsert(provider, replace(series, spec=replace(series.spec, exdates=(datetime(2027, 5, 31, 10, tzinfo=CHICAGO),))))
    (event,) = stored(calendar).values()
    assert event["id"] == event_id(series.spec.uid)
    assert event["start"] == {"dateTime": "2027-01-04T10:00:00-06:00", "timeZone": "America/Chicago"}
    assert event["recurrence"] == ["RRULE:FREQ=WEEKLY;INTERVAL=1;UNTIL=20271218T055900Z",
                                   "EXDATE;TZID=America/Chicago:20270531T100000"]
    assert event["extendedProperties"]["private"] == {
        "coachd": "1", "coachd_uid": series.spec.uid, "coachd_key": series.spec.key, "coachd_kind": "group",
        "coachd_team": "americas", "coachd_told": "0", "coachd_writing": ""}
    assert {a["email"]: a["responseStatus"] for a in event["attendees"]} == {
        "maria@northwind.example": "accepted", "ana@northwind.example": "needsAction",
        "ben@northwind.example": "needsAction"}


def test_a_lost_answer_to_the_insert_never_makes_a_second_event_nor_a_second_invitation(
        fake: FakeGoogle, provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    # Google creates the event, then the connection dies before the answer: the client (httplib2,
    # then the retry policy) sends the insert again and is told 409 duplicate.
    fake.faults.fail_next("lost", times=2, path_contains="/events", method="POST")
    series = make_series()
    upsert(provider, series)
    assert len(fake.requests("/events", "POST")) >= 2
    assert list(stored(calendar)) == [event_id(series.spec.uid)]
    assert mail(calendar) == Counter({(e, "invitation"): 1 for e in EVERYONE})
    assert [e.uid for e in provider.list_series()] == [series.spec.uid]


def test_a_cancelled_event_is_revived_by_upsert_not_duplicated(
        provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    series = make_series()
    upsert(provider, series)
    calendar.delete_event(ORG_EMAIL, event_id(series.spec.uid))
    revived = series.bumped()
    upsert(provider, revived)
    (entry,) = provider.list_series()
    assert not entry.cancelled and entry.sequence == 1 and set(entry.attendees) == EVERYONE
    assert list(stored(calendar)) == [event_id(series.spec.uid)]


def test_occurrences_are_instance_exceptions_and_a_dropped_override_is_put_back(
        provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    rid, gone = datetime(2027, 2, 1, 10, tzinfo=CHICAGO), datetime(2027, 3, 1, 10, tzinfo=CHICAGO)
    series = make_series(overrides=(moved(rid, 2), dropped(gone)))
    upsert(provider, series)
    eid = event_id(series.spec.uid)
    events = stored(calendar)
    moved_id, dropped_id = instance_id(eid, rid), instance_id(eid, gone)
    assert moved_id == f"{eid}_20270201T160000Z"
    assert events[moved_id]["start"]["dateTime"] == "2027-02-01T12:00:00-06:00"
    assert events[moved_id]["recurringEventId"] == eid and events[dropped_id]["status"] == "cancelled"
    back = series.bumped(overrides=(dropped(gone),))
    upsert(provider, back)
    assert stored(calendar)[moved_id]["start"]["dateTime"] == "2027-02-01T10:00:00-06:00"
    (entry,) = provider.list_series()
    assert entry.overrides == (dropped(gone).__class__(to_utc(gone), to_utc(gone), to_utc(gone) + timedelta(hours=1),
                                                       cancelled=True),)


def test_each_change_mails_each_attendee_once_however_many_writes_it_takes(
        provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    series = make_series()
    upsert(provider, series)
    rid = datetime(2027, 2, 1, 10, tzinfo=CHICAGO)
    # One change: a new end (UNTIL, a write of the event) and a moved occurrence (a write of its instance).
    changed = series.bumped(overrides=(moved(rid, 2),),
                            spec=replace(series.spec, until=datetime(2027, 6, 30, 23, 59, tzinfo=CHICAGO)))
    upsert(provider, changed)
    only_override = changed.bumped(overrides=(moved(rid, 3),))
    upsert(provider, only_override)
    upsert(provider, only_override)  # unchanged: nobody hears of it
    counts = mail(calendar)
    assert counts == Counter({**{(e, "invitation"): 1 for e in EVERYONE}, **{(e, "update"): 2 for e in EVERYONE}})


def test_attendees_are_updated_in_place_keeping_their_answers(
        provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    series = make_series()
    upsert(provider, series)
    calendar.answer(ORG_EMAIL, event_id(series.spec.uid), "ana@northwind.example", "accepted")
    lena = Attendee("lena", "Lena Park", "lena@northwind.example", "America/Chicago", Role.COACHEE)
    ben = series.spec.attendees[1]
    changed = series.bumped(spec=replace(series.spec, attendees=(series.spec.attendees[0], lena), former=(ben,)))
    upsert(provider, changed)
    (entry,) = provider.list_series()
    assert entry.attendees == {"maria@northwind.example": "ACCEPTED", "ana@northwind.example": "ACCEPTED",
                               "lena@northwind.example": "NEEDS-ACTION"}
    later = mail(calendar) - Counter({(e, "invitation"): 1 for e in EVERYONE})
    assert later == Counter({("lena@northwind.example", "invitation"): 1, ("ben@northwind.example", "cancellation"): 1})


def test_outside_guests_can_be_left_to_coachds_own_mail(fake: FakeGoogle, calendar: FakeCalendar) -> None:
    provider = google_calendar(fake, outside_guests="coachd")
    guest = Attendee("sam", "Sam Guest", "sam@partner.example", "Europe/Paris", Role.COACHEE)
    series = make_series()
    series = replace(series, spec=replace(series.spec, attendees=(*series.spec.attendees, guest)))
    upsert(provider, series)
    assert not provider.capabilities.invites("sam@partner.example")
    assert provider.capabilities.invites("Ana@Northwind.example")
    (event,) = stored(calendar).values()
    assert "sam@partner.example" not in {a["email"] for a in event["attendees"]}
    assert {m.attendee for m in calendar.mail(ORG_EMAIL)} == EVERYONE


def test_sync_follows_every_page_and_gives_the_token_only_at_the_end(
        fake: FakeGoogle, provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    uids = [f"s{n}@coachd" for n in range(8)]
    for uid in uids:
        upsert(provider, make_series(uid))
    fake.clear_log()
    result = provider.sync(None)
    assert sorted(e.uid for e in result.entries) == uids
    pages = fake.requests("/events", "GET")
    assert len(pages) >= 3  # page_size 3 and short pages: several pages were followed
    assert all("syncToken" not in p.query for p in pages)
    fake.clear_log()
    assert provider.sync(result.cursor).entries == []
    assert len(fake.requests("/events", "GET")) == 1  # a quiet poll is one request


def _changed_by_hand(calendar: FakeCalendar, uids: list[str]) -> None:
    """Ana accepts every series in `uids` in Google Calendar; one series also gets a moved occurrence."""
    for uid in uids:
        calendar.answer(ORG_EMAIL, event_id(uid), "ana@northwind.example", "accepted")
    rid = to_utc(datetime(2027, 2, 1, 10, tzinfo=CHICAGO))
    calendar.move_instance(ORG_EMAIL, event_id(uids[0]), rid, rid + timedelta(hours=2), rid + timedelta(hours=3))


@pytest.mark.parametrize("changed", [2, 8])
def test_a_sync_reads_each_changed_series_whole_and_many_in_one_listing_of_the_calendar(
        fake: FakeGoogle, provider: GoogleCalendar, calendar: FakeCalendar, changed: int) -> None:
    uids = [f"s{n}@coachd" for n in range(8)]
    for n, uid in enumerate(uids):
        rid = datetime(2027, 3, 1, 10, tzinfo=CHICAGO)
        upsert(provider, make_series(uid, overrides=(moved(rid, 1),) if n % 2 else ()))
    cursor = provider.sync(None).cursor
    _changed_by_hand(calendar, uids[:changed])
    fake.clear_log()
    result = provider.sync(cursor)
    listings = [r for r in fake.requests("/events", "GET") if "syncToken" not in r.query]
    by_series = [r for r in listings if "iCalUID" in r.query]
    # The same entries as a full read gives, exceptions that did not change included.
    assert result.entries == [e for e in provider.list_series() if e.uid in uids[:changed]]
    assert len(result.entries[0].overrides) == 1 and all(e.attendees["ana@northwind.example"] == "ACCEPTED"
                                                          for e in result.entries)
    if changed == 2:  # a few: a listing each (short pages: maybe several), cheaper than the whole calendar
        assert by_series == listings and len({r.query["iCalUID"][0] for r in by_series}) == changed
    else:  # many: the whole calendar once (page_size 3: a few pages), not a listing per series
        assert not by_series and 1 <= len(listings) < changed


def test_a_sync_token_is_refused_with_other_filters_and_expires_with_age(
        fake: FakeGoogle, clock: Clock, provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    upsert(provider, make_series())
    cursor = provider.sync(None).cursor
    token = cursor.split(":", 2)[2]
    with pytest.raises(Exception) as mixed:
        provider.service.events().list(calendarId="primary", syncToken=token, timeMin="2027-01-01T00:00:00Z").execute()
    assert "syncToken" in str(mixed.value) and "400" in str(mixed.value)
    clock.now += timedelta(days=8)
    with pytest.raises(SyncCursorExpired):
        provider.sync(cursor)


def test_a_hand_deleted_series_during_an_expired_cursor_is_absent_from_the_full_sync(
        provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    upsert(provider, make_series("keep@coachd"))
    upsert(provider, make_series("gone@coachd"))
    cursor = provider.sync(None).cursor
    calendar.delete_event(ORG_EMAIL, event_id("gone@coachd"))
    calendar.purge_deleted(ORG_EMAIL)  # Google forgot it, and with it the old tokens
    with pytest.raises(SyncCursorExpired):
        provider.sync(cursor)
    full = provider.sync(None)
    # Neither entry nor deletion: only the caller's reconciliation (observe/calendar_sync.py) can tell.
    assert [e.uid for e in full.entries] == ["keep@coachd"] and full.deleted_uids == []


def test_a_change_cut_short_is_not_read_as_a_hand_edit_and_its_retry_mails_nobody_twice(
        fake: FakeGoogle, provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    series = make_series()
    upsert(provider, series)
    cursor = provider.sync(None).cursor
    rid = datetime(2027, 2, 1, 10, tzinfo=CHICAGO)
    changed = series.bumped(overrides=(moved(rid, 2), dropped(datetime(2027, 3, 1, 10, tzinfo=CHICAGO))))
    # The first instance write goes through (and mails everyone), then Google fails for longer than
    # the retry policy waits: the change is half-written.
    fake.faults.fail_next("503", times=4, path_contains="_20270301T", method="PATCH")
    with pytest.raises(Transient):
        upsert(provider, changed)
    half = provider.sync(cursor)
    assert half.entries == [] and [uid for uid, _ in half.errors] == [series.spec.uid]
    upsert(provider, changed)  # the next pass writes the rest
    done = provider.sync(half.cursor)
    (entry,) = done.entries
    assert entry.overrides == tuple(sorted((as_utc(o) for o in changed.overrides), key=lambda o: o.recurrence_id))
    assert entry.sequence == 1 and done.errors == []
    assert mail(calendar) == Counter({**{(e, "invitation"): 1 for e in EVERYONE}, **{(e, "update"): 1 for e in EVERYONE}})


def test_an_exception_the_rule_no_longer_makes_is_not_an_override(
        provider: GoogleCalendar, calendar: FakeCalendar) -> None:
    series = make_series()
    ended = series.bumped(spec=replace(series.spec, until=datetime(2027, 3, 31, 23, 59, tzinfo=CHICAGO)))
    upsert(provider, ended)
    (event,) = stored(calendar).values()
    # Google may keep a cancelled exception from before the UNTIL moved: only its id, parent and start.
    leftover = {"id": instance_id(event["id"], datetime(2027, 6, 7, 15, tzinfo=UTC)), "status": "cancelled",
                "recurringEventId": event["id"], "originalStartTime": {"dateTime": "2027-06-07T15:00:00Z"}}
    inside = dict(leftover, id=instance_id(event["id"], datetime(2027, 3, 1, 16, tzinfo=UTC)),
                  originalStartTime={"dateTime": "2027-03-01T16:00:00Z"})
    entry = entry_of(event, [leftover, inside])
    assert [(o.recurrence_id, o.cancelled) for o in entry.overrides] == [(datetime(2027, 3, 1, 16, tzinfo=UTC), True)]
