"""The fake's Calendar v3 as the real client library sees it: Google's rules on ids, recurrence, instances,
paging, sync tokens and the mail sendUpdates makes Google send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import google.oauth2.credentials
import pytest
from googleapiclient.errors import HttpError

from coachd.providers.google.client import build_service
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.calendar import FakeCalendar

OWNER = "coaching@northwind.example"
SCOPE = "https://www.googleapis.com/auth/calendar.events"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeGoogle]:
    with FakeGoogle(now=clock, page_size=2) as running:
        yield running


@pytest.fixture
def calendar(fake: FakeGoogle) -> FakeCalendar:
    return FakeCalendar(fake)


@pytest.fixture
def events(fake: FakeGoogle, calendar: FakeCalendar) -> Any:
    token = fake.issue_access_token(OWNER, [SCOPE], lifetime=timedelta(days=30))
    return build_service("calendar", "v3", fake.base_url, google.oauth2.credentials.Credentials(token=token),
                         timeout=5).events()


def weekly(event_id: str = "abc12345", **extra: Any) -> dict[str, Any]:
    return {"id": event_id, "summary": "Group",
            "start": {"dateTime": "2027-01-04T10:00:00", "timeZone": "America/Chicago"},
            "end": {"dateTime": "2027-01-04T11:00:00", "timeZone": "America/Chicago"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=America/Chicago:20270118T100000"],
            "attendees": [{"email": "ana@northwind.example"}, {"email": "sam@partner.example"}], **extra}


def refused(call: Any) -> tuple[int, str]:
    with pytest.raises(HttpError) as error:
        call.execute()
    return error.value.status_code, error.value.error_details[0]["reason"]


def every(request: Any, next_request: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item over all pages, and every page."""
    pages = []
    while request is not None:
        page = request.execute()
        pages.append(page)
        request = next_request(request, page)
    return [item for page in pages for item in page.get("items", [])], pages


def test_ids_are_checked_and_an_existing_one_is_a_409_even_when_cancelled(events: Any) -> None:
    assert refused(events.insert(calendarId="primary", body=weekly("ABC_bad!"))) == (400, "invalid")
    assert refused(events.insert(calendarId="primary", body=weekly("abcd"))) == (400, "invalid")
    events.insert(calendarId="primary", body=weekly()).execute()
    assert refused(events.insert(calendarId="primary", body=weekly())) == (409, "duplicate")
    events.delete(calendarId="primary", eventId="abc12345").execute()
    assert refused(events.insert(calendarId="primary", body=weekly())) == (409, "duplicate")
    revived = events.update(calendarId="primary", eventId="abc12345", body=weekly(status="confirmed")).execute()
    assert revived["status"] == "confirmed" and revived["iCalUID"] == "abc12345@google.com"


def test_recurring_events_need_a_zone_and_lines_without_dtstart(events: Any) -> None:
    no_zone = weekly(start={"dateTime": "2027-01-04T10:00:00-06:00"}, end={"dateTime": "2027-01-04T11:00:00-06:00"})
    assert refused(events.insert(calendarId="primary", body=no_zone)) == (400, "invalid")
    dtstart = weekly(recurrence=["DTSTART:20270104T100000", "RRULE:FREQ=WEEKLY"])
    assert refused(events.insert(calendarId="primary", body=dtstart)) == (400, "invalid")
    both = weekly(iCalUID="x@coachd")
    assert refused(events.insert(calendarId="primary", body=both)) == (400, "invalid")


def test_instances_have_googles_ids_and_exceptions_stay_in_their_place(events: Any) -> None:
    events.insert(calendarId="primary", body=weekly()).execute()
    events.patch(calendarId="primary", eventId="abc12345_20270111T160000Z",
                 body={"start": {"dateTime": "2027-01-11T12:00:00-06:00"},
                       "end": {"dateTime": "2027-01-11T13:00:00-06:00"}}).execute()
    events.patch(calendarId="primary", eventId="abc12345_20270125T160000Z", body={"status": "cancelled"}).execute()
    listed, pages = every(events.instances(calendarId="primary", eventId="abc12345"), events.instances_next)
    assert [i["id"] for i in listed] == ["abc12345_20270104T160000Z", "abc12345_20270111T160000Z"]
    assert listed[1]["start"]["dateTime"] == "2027-01-11T12:00:00-06:00" and len(pages) >= 1
    with_deleted, _ = every(events.instances(calendarId="primary", eventId="abc12345", showDeleted=True),
                            events.instances_next)
    assert [i["status"] for i in with_deleted] == ["confirmed", "confirmed", "cancelled"]
    assert refused(events.get(calendarId="primary", eventId="abc12345_20270118T160000Z")) == (404, "notFound")
    # The series' exceptions come with it when listed by its iCalUID.
    same, _ = every(events.list(calendarId="primary", iCalUID="abc12345@google.com"), events.list_next)
    assert sorted(i["id"] for i in same) == ["abc12345", "abc12345_20270111T160000Z", "abc12345_20270125T160000Z"]


def test_a_lower_sequence_is_refused(events: Any) -> None:
    events.insert(calendarId="primary", body=weekly(sequence=3)).execute()
    assert refused(events.patch(calendarId="primary", eventId="abc12345", body={"sequence": 2})) == (400, "invalid")


def test_sync_tokens_come_on_the_last_page_show_deletions_and_refuse_filters(
        events: Any, calendar: FakeCalendar, clock: Clock) -> None:
    for n in range(5):
        events.insert(calendarId="primary", body=weekly(f"event{n}0000")).execute()
    items, pages = every(events.list(calendarId="primary"), events.list_next)
    assert len(items) == 5 and len(pages) >= 3
    assert all("nextSyncToken" not in p for p in pages[:-1]) and "nextSyncToken" in pages[-1]
    token = pages[-1]["nextSyncToken"]
    calendar.delete_event(OWNER, "event20000")
    changed, last = every(events.list(calendarId="primary", syncToken=token), events.list_next)
    assert changed == [{"kind": "calendar#event", "etag": changed[0]["etag"], "id": "event20000",
                        "status": "cancelled", "updated": changed[0]["updated"]}]
    assert refused(events.list(calendarId="primary", syncToken=token, timeMin="2027-01-01T00:00:00Z")) == \
        (400, "invalid")
    clock.now += timedelta(days=8)
    assert refused(events.list(calendarId="primary", syncToken=last[-1]["nextSyncToken"])) == \
        (410, "fullSyncRequired")


def test_send_updates_mails_as_told_and_the_insert_default_mails_nobody(events: Any, calendar: FakeCalendar) -> None:
    events.insert(calendarId="primary", body=weekly("quiet0000")).execute()
    events.insert(calendarId="primary", body=weekly("outside00"), sendUpdates="externalOnly").execute()
    events.insert(calendarId="primary", body=weekly("allguests"), sendUpdates="all").execute()
    events.patch(calendarId="primary", eventId="allguests", body={"summary": "Renamed"}, sendUpdates="all").execute()
    events.patch(calendarId="primary", eventId="allguests", body={"extendedProperties": {"private": {"a": "b"}}},
                 sendUpdates="all").execute()  # nothing attendees see: no mail
    events.delete(calendarId="primary", eventId="allguests", sendUpdates="all").execute()
    mailed = [(m.event_id, m.attendee, m.what) for m in calendar.mail(OWNER)]
    assert mailed == [("outside00", "sam@partner.example", "invitation"),
                      ("allguests", "ana@northwind.example", "invitation"),
                      ("allguests", "sam@partner.example", "invitation"),
                      ("allguests", "ana@northwind.example", "update"),
                      ("allguests", "sam@partner.example", "update"),
                      ("allguests", "ana@northwind.example", "cancellation"),
                      ("allguests", "sam@partner.example", "cancellation")]
